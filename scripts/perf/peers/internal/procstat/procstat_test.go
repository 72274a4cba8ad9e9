package procstat

import (
	"strconv"
	"strings"
	"testing"
)

var sink [][]byte

func TestReadCountsWork(t *testing.T) {
	a, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		sink = append(sink, make([]byte, 64))
	}
	// Burn a little CPU so the counter must move.
	x := 0
	for i := 0; i < 20_000_000; i++ {
		x += i ^ (x >> 3)
	}
	sink = append(sink, []byte(strconv.Itoa(x)))
	b, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	if b.Mallocs-a.Mallocs < 1000 {
		t.Errorf("mallocs moved by %d, want >= 1000", b.Mallocs-a.Mallocs)
	}
	if b.CPU <= a.CPU {
		t.Errorf("cpu did not advance: %v -> %v", a.CPU, b.CPU)
	}
	if b.PeakRSS == 0 || b.HeapInuse == 0 {
		t.Errorf("zero rss/heap: %+v", b)
	}
	sink = nil
}

func TestLoadAvg(t *testing.T) {
	l := LoadAvg()
	if l == "" {
		t.Skip("no /proc/loadavg on this system")
	}
	f := strings.Fields(l)
	if len(f) != 3 {
		t.Fatalf("LoadAvg = %q", l)
	}
	for _, s := range f {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			t.Fatalf("LoadAvg field %q: %v", s, err)
		}
	}
}
