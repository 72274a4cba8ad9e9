package ctl

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
)

type fakeSource struct{ served atomic.Uint64 }

func (f *fakeSource) Info() (string, string, string) { return "fake", "v0", "127.0.0.1:9" }
func (f *fakeSource) Served() uint64                 { return f.served.Load() }
func (f *fakeSource) RTSize() int                    { return 21 }

func TestServeAndFetch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	src := &fakeSource{}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, src) }()
	ap := netip.MustParseAddrPort(ln.Addr().String())

	src.served.Store(5)
	a, err := Fetch(ctx, ap)
	if err != nil {
		t.Fatal(err)
	}
	src.served.Store(17)
	b, err := Fetch(ctx, ap)
	if err != nil {
		t.Fatal(err)
	}
	if a.Served != 5 || b.Served != 17 || b.RTSize != 21 || b.Impl != "fake" || b.Addr != "127.0.0.1:9" {
		t.Fatalf("stats: %+v then %+v", a, b)
	}
	if b.CPUNanos < a.CPUNanos || b.Mallocs < a.Mallocs || b.PeakRSS == 0 {
		t.Fatalf("counters went backwards or are empty: %+v then %+v", a, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
