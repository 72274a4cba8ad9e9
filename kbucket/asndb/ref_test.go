package asndb

import (
	"encoding/csv"
	"math/big"
	"net/netip"
	"os"
	"strconv"
	"testing"
)

// refRange is a range as the independent reference implementation sees it.
type refRange struct {
	start, end netip.Addr
	asn        uint32
}

func (r refRange) width() *big.Int {
	w := new(big.Int).SetBytes(r.end.AsSlice())
	return w.Sub(w, new(big.Int).SetBytes(r.start.AsSlice()))
}

// refLookup is a linear scan applying the documented rule: the narrowest
// range containing ip wins, ties to the lowest ASN; ASN 0 ranges are ignored.
func refLookup(rs []refRange, ip netip.Addr) (uint32, bool) {
	ip = ip.Unmap()
	best := -1
	for i, r := range rs {
		if r.asn == 0 || r.start.Is4() != ip.Is4() || ip.Less(r.start) || r.end.Less(ip) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		switch c := r.width().Cmp(rs[best].width()); {
		case c < 0, c == 0 && r.asn < rs[best].asn:
			best = i
		}
	}
	if best < 0 {
		return 0, false
	}
	return rs[best].asn, true
}

// readRefCSV parses a CSV file with encoding/csv and netip, independently of
// the loader under test.
func readRefCSV(t testing.TB, path string) ([]refRange, [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	rs := make([]refRange, len(recs))
	for i, rec := range recs {
		s, err1 := netip.ParseAddr(rec[0])
		e, err2 := netip.ParseAddr(rec[1])
		a, err3 := strconv.ParseUint(rec[2], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("%s: record %d: %v %v %v", path, i+1, err1, err2, err3)
		}
		rs[i] = refRange{s.Unmap(), e.Unmap(), uint32(a)}
	}
	return rs, recs
}

// probes returns the addresses at and just outside r.
func probes(r refRange) []netip.Addr {
	ps := []netip.Addr{r.start, r.end}
	if p := r.start.Prev(); p.IsValid() {
		ps = append(ps, p)
	}
	if n := r.end.Next(); n.IsValid() {
		ps = append(ps, n)
	}
	return ps
}
