package asndb

import (
	"encoding/binary"
	"net/netip"
	"sort"
)

// DB is an immutable IP-to-ASN table. The zero value and a nil *DB are empty
// tables. Build one with [Load], [LoadFiles] or a [Builder].
type DB struct {
	v4    v4table
	v6    v6table
	orgs  orgTable
	stats Stats
}

// Stats describes how a DB was built and what it holds.
type Stats struct {
	Input    int // ranges read: data lines and AddRange calls (headers, comments, blank lines excluded)
	Skipped  int // input ranges dropped because their ASN is 0 (not routed)
	Overlaps int // input ranges that overlapped another one (resolved: most specific wins)
	Merged   int // ranges folded into an adjacent range with the same ASN
	V4Ranges int // IPv4 ranges stored
	V6Ranges int // IPv6 ranges stored
	ASNs     int // distinct ASNs stored
	Bytes    int // bytes held by the range arrays and, with Options.Orgs, the org names
}

// v4table holds disjoint IPv4 ranges sorted by start, in parallel arrays.
// For large tables, idx narrows the binary search to one /16: the ranges
// starting in /16 p are start[idx[p]:idx[p+1]] (65537 entries, 256 KiB).
type v4table struct {
	start, end, asn []uint32
	idx             []uint32 // nil below v4IndexMin ranges
}

// v4IndexMin is the table size from which the /16 index pays for its 256 KiB:
// it cuts a full-table lookup from ~19 dependent probes to ~6.
const v4IndexMin = 1 << 14

func (t *v4table) buildIndex() {
	t.idx = make([]uint32, 1<<16+1)
	j := 0
	for p := range 1 << 16 {
		for j < len(t.start) && int(t.start[j]>>16) < p {
			j++
		}
		t.idx[p] = uint32(j)
	}
	t.idx[1<<16] = uint32(len(t.start))
}

// v6table holds disjoint IPv6 ranges sorted by start.
type v6table struct {
	start, end []u128
	asn        []uint32
}

// LookupASN returns the ASN of the range that contains ip, and false when no
// range does or ip is invalid. IPv4-mapped IPv6 addresses are looked up as
// IPv4. It does not allocate and is safe for concurrent use; it implements
// kbucket.Resolver.
func (db *DB) LookupASN(ip netip.Addr) (uint32, bool) {
	if db == nil {
		return 0, false
	}
	ip = ip.Unmap()
	if ip.Is4() {
		a := ip.As4()
		return db.v4.lookup(binary.BigEndian.Uint32(a[:]))
	}
	if ip.Is6() {
		a := ip.As16()
		return db.v6.lookup(u128{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])})
	}
	return 0, false
}

// Len returns the number of ranges stored (IPv4 and IPv6), after merging.
func (db *DB) Len() int {
	if db == nil {
		return 0
	}
	return len(db.v4.start) + len(db.v6.start)
}

// Stats returns how the table was built and its size.
func (db *DB) Stats() Stats {
	if db == nil {
		return Stats{}
	}
	return db.stats
}

// Org returns the organisation name recorded for asn. It reports false when
// the table was built without Options.Orgs or the input named no
// organisation for asn. When the input gives several names for one ASN, the
// first one read is kept.
func (db *DB) Org(asn uint32) (string, bool) {
	if db == nil {
		return "", false
	}
	return db.orgs.lookup(asn)
}

func (t *v4table) lookup(x uint32) (uint32, bool) {
	// Find the first range whose start is above x; the candidate is the one
	// before. With the index, only ranges starting in x's /16 are searched:
	// all before them start lower, all after start above x.
	lo, hi := 0, len(t.start)
	if t.idx != nil {
		lo, hi = int(t.idx[x>>16]), int(t.idx[x>>16+1])
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.start[m] <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, false
	}
	i := lo - 1
	if x <= t.end[i] {
		return t.asn[i], true
	}
	return 0, false
}

func (t *v6table) lookup(x u128) (uint32, bool) {
	lo, hi := 0, len(t.start)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s := t.start[m]; s.hi < x.hi || (s.hi == x.hi && s.lo <= x.lo) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, false
	}
	i := lo - 1
	if e := t.end[i]; x.hi < e.hi || (x.hi == e.hi && x.lo <= e.lo) {
		return t.asn[i], true
	}
	return 0, false
}

// orgTable maps ASNs to names without per-entry pointers: names[off[i]:off[i+1]]
// is the name of asn[i]; asn is sorted.
type orgTable struct {
	asn   []uint32
	off   []uint32
	names string
}

func (o *orgTable) lookup(asn uint32) (string, bool) {
	i := sort.Search(len(o.asn), func(i int) bool { return o.asn[i] >= asn })
	if i == len(o.asn) || o.asn[i] != asn {
		return "", false
	}
	return o.names[o.off[i]:o.off[i+1]], true
}

func (o *orgTable) bytes() int {
	return 4*len(o.asn) + 4*len(o.off) + len(o.names)
}
