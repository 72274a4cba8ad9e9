package asndb

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

const window = 700 // addresses per family in the property tests

func v4At(base uint32, off uint64) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], base+uint32(off))
	return netip.AddrFrom4(b)
}

func v6At(base u128, off uint64) netip.Addr {
	lo := base.lo + off
	hi := base.hi
	if lo < base.lo {
		hi++
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b)
}

// special offsets: the window's ends and, for the IPv6 base that crosses the
// 64-bit halves, the last address before and the first after the carry.
var special = []uint64{0, 1, crossAt - 1, crossAt, crossAt + 1, window - 2, window - 1}

const crossAt = window / 2

// drawRanges draws ranges inside [0, window) offsets; small ASN set so that
// overlaps, duplicates and adjacent same-ASN ranges are common, and starts and
// ends often fall on the special offsets.
func drawRanges(t *rapid.T, label string, at func(uint64) netip.Addr) []refRange {
	n := rapid.IntRange(0, 25).Draw(t, label+"-n")
	rs := make([]refRange, n)
	offGen := rapid.OneOf(rapid.Uint64Range(0, window-1), rapid.SampledFrom(special))
	for i := range rs {
		off := offGen.Draw(t, label+"-off")
		maxW := uint64(60)
		if rapid.IntRange(0, 9).Draw(t, label+"-wide") == 0 {
			maxW = window
		}
		end := min(off+rapid.Uint64Range(0, maxW).Draw(t, label+"-width"), window-1)
		if e := rapid.SampledFrom(special).Draw(t, label+"-end"); e >= off && rapid.Bool().Draw(t, label+"-special-end") {
			end = e
		}
		rs[i] = refRange{at(off), at(end), rapid.Uint32Range(1, 5).Draw(t, label+"-asn")}
	}
	return rs
}

func build(t *rapid.T, rs []refRange) *DB {
	b := NewBuilder(Options{})
	for _, r := range rs {
		if err := b.AddRange(r.start, r.end, r.asn); err != nil {
			t.Fatalf("AddRange(%s, %s, %d): %v", r.start, r.end, r.asn, err)
		}
	}
	db, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return db
}

// checkInvariants verifies the stored layout: sorted, disjoint, no ASN 0,
// no two adjacent ranges with the same ASN.
func checkInvariants(t *rapid.T, db *DB) {
	v4 := db.v4
	if len(v4.end) != len(v4.start) || len(v4.asn) != len(v4.start) {
		t.Fatalf("v4 arrays of different lengths")
	}
	for i := range v4.start {
		if v4.start[i] > v4.end[i] || v4.asn[i] == 0 {
			t.Fatalf("v4 range %d bad: %d-%d AS%d", i, v4.start[i], v4.end[i], v4.asn[i])
		}
		if i > 0 && (v4.start[i] <= v4.end[i-1] || (v4.start[i] == v4.end[i-1]+1 && v4.asn[i] == v4.asn[i-1])) {
			t.Fatalf("v4 ranges %d and %d overlap or should have merged", i-1, i)
		}
	}
	v6 := db.v6
	if len(v6.end) != len(v6.start) || len(v6.asn) != len(v6.start) {
		t.Fatalf("v6 arrays of different lengths")
	}
	for i := range v6.start {
		if v6.start[i].cmp(v6.end[i]) > 0 || v6.asn[i] == 0 {
			t.Fatalf("v6 range %d bad", i)
		}
		if i > 0 {
			// Adjacency through netip, independently of u128.next.
			adjacent := v6At(v6.end[i-1], 0).Next() == v6At(v6.start[i], 0)
			if v6.start[i].cmp(v6.end[i-1]) <= 0 || (adjacent && v6.asn[i] == v6.asn[i-1]) {
				t.Fatalf("v6 ranges %d and %d overlap or should have merged", i-1, i)
			}
		}
	}
}

// TestPropLookupEqualsLinearScan: on random (possibly overlapping) ranges of
// both families, every address of the window and just outside it resolves as
// a linear scan applying the documented rule does; the table is the same for
// any input order.
func TestPropLookupEqualsLinearScan(t *testing.T) {
	v4Bases := []uint32{0, 0x0a000000, 0xc0000200, ^uint32(0) - window + 1}
	v6Bases := []u128{
		{0, 0},
		{0x20010db800000000, ^uint64(0) - crossAt + 1}, // offset crossAt carries into the high half
		{^uint64(0), ^uint64(0) - window + 1},
	}
	rapid.Check(t, func(t *rapid.T) {
		b4 := rapid.SampledFrom(v4Bases).Draw(t, "v4base")
		b6 := rapid.SampledFrom(v6Bases).Draw(t, "v6base")
		at4 := func(o uint64) netip.Addr { return v4At(b4, o) }
		at6 := func(o uint64) netip.Addr { return v6At(b6, o) }
		rs := append(drawRanges(t, "v4", at4), drawRanges(t, "v6", at6)...)
		if len(rs) == 0 {
			rs = append(rs, refRange{at4(0), at4(0), 1})
		}
		db := build(t, rs)
		checkInvariants(t, db)
		if st := db.Stats(); st.Input != len(rs) || db.Len() != st.V4Ranges+st.V6Ranges || db.Len() > len(rs)*2 {
			t.Fatalf("Stats %+v, Len %d for %d ranges", st, db.Len(), len(rs))
		}

		perm := rapid.Permutation(rs).Draw(t, "perm")
		db2 := build(t, perm)
		if !reflect.DeepEqual(db.v4, db2.v4) || !reflect.DeepEqual(db.v6, db2.v6) {
			t.Fatalf("table depends on input order")
		}

		// The same table with the /16 index that large tables get.
		indexed := *db
		indexed.v4.buildIndex()

		for _, at := range []func(uint64) netip.Addr{at4, at6} {
			probe := []netip.Addr{at(0).Prev(), at(window - 1).Next()}
			for o := uint64(0); o < window; o++ {
				probe = append(probe, at(o))
			}
			for _, ip := range probe {
				if !ip.IsValid() {
					continue
				}
				want, wok := refLookup(rs, ip)
				got, gok := db.LookupASN(ip)
				if got != want || gok != wok {
					t.Fatalf("LookupASN(%s) = %d,%v; linear scan %d,%v", ip, got, gok, want, wok)
				}
				if got, gok = indexed.LookupASN(ip); got != want || gok != wok {
					t.Fatalf("indexed LookupASN(%s) = %d,%v; linear scan %d,%v", ip, got, gok, want, wok)
				}
			}
		}
	})
}

func TestAddRangeErrors(t *testing.T) {
	a := netip.MustParseAddr
	b := NewBuilder(Options{})
	for _, c := range []struct {
		start, end netip.Addr
		asn        uint32
		msg        string
	}{
		{netip.Addr{}, a("1.0.0.0"), 1, "invalid start address"},
		{a("1.0.0.0"), netip.Addr{}, 1, "invalid end address"},
		{a("fe80::1%eth0"), a("fe80::2"), 1, "has a zone"},
		{a("1.0.0.1"), a("1.0.0.0"), 1, "start 1.0.0.1 > end 1.0.0.0"},
		{a("1.0.0.0"), a("2001:db8::"), 1, "different address families"},
		{a("1.0.0.0"), a("1.0.0.1"), 0, "ASN 0"},
	} {
		err := b.AddRange(c.start, c.end, c.asn)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("AddRange(%s, %s, %d) = %v; want %q", c.start, c.end, c.asn, err, c.msg)
		}
	}
	if err := b.AddRange(a("::ffff:1.0.0.0"), a("1.0.0.255"), 9); err != nil {
		t.Fatalf("mapped start with IPv4 end: %v", err)
	}
	db, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := db.LookupASN(a("1.0.0.128")); !ok || got != 9 {
		t.Errorf("LookupASN = %d,%v", got, ok)
	}
	if _, err := b.Build(); err == nil {
		t.Error("second Build: no error")
	}
	if err := b.AddRange(a("1.0.0.0"), a("1.0.0.1"), 1); err == nil {
		t.Error("AddRange after Build: no error")
	}
	if err := b.Add("", strings.NewReader("1.0.0.0,1.0.0.1,1\n")); err == nil {
		t.Error("Add after Build: no error")
	}
}

// TestOverlapRule pins the documented resolution on a hand-made case: a wide
// range with a narrower one inside and a same-width duplicate.
func TestOverlapRule(t *testing.T) {
	in := "10.0.0.0,10.0.0.255,300\n" + // wide
		"10.0.0.16,10.0.0.31,200\n" + // narrower: wins inside
		"10.0.0.16,10.0.0.31,100\n" + // same width as AS200, lower ASN: wins
		"10.0.0.32,10.0.0.47,300\n" // same ASN as the wide one, nested: no visible change
	db, err := Load(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]uint32{
		"10.0.0.15": 300, "10.0.0.16": 100, "10.0.0.31": 100, "10.0.0.32": 300, "10.0.0.255": 300,
	} {
		if got, _ := db.LookupASN(netip.MustParseAddr(ip)); got != want {
			t.Errorf("LookupASN(%s) = %d, want %d", ip, got, want)
		}
	}
	if st := db.Stats(); st.Overlaps != 4 || st.V4Ranges != 3 {
		t.Errorf("Stats = %+v, want 4 overlapping inputs and 3 stored ranges", st)
	}
}

// TestLargeTableIndex builds a table big enough to get the /16 index, from
// generated ranges whose answers are known by construction: range i covers
// 64 addresses at i*96 + (i%7) with ASN i+1, so gaps and /16 crossings vary.
func TestLargeTableIndex(t *testing.T) {
	const n = v4IndexMin + 5000
	base := uint32(0x01000000)
	at := func(i int) (uint32, uint32) {
		s := base + uint32(i)*96 + uint32(i%7)
		return s, s + 63
	}
	b := NewBuilder(Options{})
	for i := n - 1; i >= 0; i-- { // reverse order: Build must sort
		s, e := at(i)
		if err := b.AddRange(v4At(s, 0), v4At(e, 0), uint32(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	// One wide range below and one at the top of the address space.
	if err := b.AddRange(v4At(0, 0), v4At(base-1, 0), 7_000_000); err != nil {
		t.Fatal(err)
	}
	if err := b.AddRange(v4At(^uint32(0)-70000, 0), v4At(^uint32(0), 0), 7_000_001); err != nil {
		t.Fatal(err)
	}
	db, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if db.v4.idx == nil {
		t.Fatalf("%d ranges: no index", db.Len())
	}
	check := func(x uint32, want uint32, wok bool) {
		t.Helper()
		if got, ok := db.LookupASN(v4At(x, 0)); got != want || ok != wok {
			t.Fatalf("LookupASN(%s) = %d,%v; want %d,%v", v4At(x, 0), got, ok, want, wok)
		}
	}
	for i := 0; i < n; i++ {
		s, e := at(i)
		check(s, uint32(i+1), true)
		check(e, uint32(i+1), true)
		check(e+1, 0, false) // gaps are 32..38 addresses wide
		if i > 0 {
			check(s-1, 0, false)
		}
	}
	check(0, 7_000_000, true)
	check(base-1, 7_000_000, true)
	check(^uint32(0)-70001, 0, false)
	check(^uint32(0)-70000, 7_000_001, true)
	check(^uint32(0), 7_000_001, true)
	check(0x80000000, 0, false)
}
