package asndb

import (
	"net/netip"
	"runtime"
	"testing"
)

// TestFullDataset checks every line of the full @ip-location-db/asn data
// (when SVC_DHT_ASN_DIR is set): the start and end of each range that does not
// overlap a neighbour resolve to its ASN, and the addresses just outside
// resolve to the neighbour that touches it, or to nothing.
func TestFullDataset(t *testing.T) {
	files := fullFiles(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	db, err := LoadFiles(Options{}, files...)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := after.HeapAlloc - before.HeapAlloc
	st := db.Stats()
	t.Logf("stats %+v; live heap %d B (%.1f B/range)", st, heap, float64(heap)/float64(db.Len()))

	for _, path := range files {
		rs, _ := readRefCSV(t, path)
		if len(rs) < 1000 {
			t.Fatalf("%s: only %d ranges: not the full dataset", path, len(rs))
		}
		skipped := 0
		for i, r := range rs {
			overlapsPrev := i > 0 && !rs[i-1].end.Less(r.start)
			overlapsNext := i+1 < len(rs) && !r.end.Less(rs[i+1].start)
			if overlapsPrev || overlapsNext {
				skipped++
				continue
			}
			check := func(ip netip.Addr, want uint32, wok bool) {
				t.Helper()
				if got, ok := db.LookupASN(ip); got != want || ok != wok {
					t.Fatalf("%s line %d: LookupASN(%s) = %d,%v; want %d,%v", path, i+1, ip, got, ok, want, wok)
				}
			}
			check(r.start, r.asn, true)
			check(r.end, r.asn, true)
			if p := r.start.Prev(); p.IsValid() && p.Is4() == r.start.Is4() {
				if i > 0 && rs[i-1].end == p {
					check(p, rs[i-1].asn, true)
				} else {
					check(p, 0, false)
				}
			}
			if n := r.end.Next(); n.IsValid() {
				if i+1 < len(rs) && rs[i+1].start == n {
					check(n, rs[i+1].asn, true)
				} else {
					check(n, 0, false)
				}
			}
		}
		if skipped > len(rs)/100 {
			t.Errorf("%s: %d of %d lines overlap a neighbour", path, skipped, len(rs))
		}
		t.Logf("%s: %d ranges checked, %d overlapping skipped", path, len(rs)-skipped, skipped)
	}
}
