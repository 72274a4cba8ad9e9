package seeds

import (
	"math/rand/v2"
	"testing"
	"time"
)

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(hexID + "@quic://[2001:db8::1]:4433"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDialerCycle is one scheduler round trip: Next picks a seed, its
// dial fails, time moves to the next wake-up.
func BenchmarkDialerCycle(b *testing.B) {
	d, err := NewDialer(testSeeds(16), 4, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		got, wake := d.Next(now)
		for _, s := range got {
			if err := d.Result(s, false, now); err != nil {
				b.Fatal(err)
			}
		}
		if len(got) == 0 {
			now = wake
		}
	}
}

// BenchmarkBootToFirstDial is this package's share of the path from process
// start to the first seed dial: parse the configured seeds, merge the
// embedded defaults, build the scheduler and ask it what to dial.
func BenchmarkBootToFirstDial(b *testing.B) {
	conf := []string{
		hexID + "@quic://[2001:db8::1]:4433",
		"quic://seed-1.example.net:4433",
		"quic://192.0.2.7:4433",
	}
	b.ReportAllocs()
	for b.Loop() {
		ss, err := FromConfig(conf, true)
		if err != nil {
			b.Fatal(err)
		}
		d, err := NewDialer(ss, 0, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			b.Fatal(err)
		}
		if got, _ := d.Next(time.Unix(0, 0)); len(got) != 3 {
			b.Fatalf("%d seeds to dial", len(got))
		}
	}
}
