package asndb

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
)

// ErrNoRanges is returned by Build (and so by Load and LoadFiles) when the
// input held no usable range.
var ErrNoRanges = errors.New("asndb: no ranges loaded")

// Options controls loading.
type Options struct {
	// Format of the input; FormatAuto (the zero value) detects it per source.
	Format Format
	// Orgs keeps organisation names (CSV column 4, TSV column 5), once per
	// ASN, for DB.Org. Off by default: names cost more memory than ranges.
	Orgs bool
}

// Builder collects ranges from one or more sources and builds a DB. It is
// not safe for concurrent use. After Build it is spent.
type Builder struct {
	opt   Options
	v4    []span[v4key]
	v6    []span[u128]
	orgs  map[uint32]string
	stats Stats
	built bool
	// sizeHint is the byte size of the file being read, until the first
	// range of that file sizes its family's slice.
	sizeHint int64
}

// NewBuilder returns an empty Builder.
func NewBuilder(opt Options) *Builder {
	b := &Builder{opt: opt}
	if opt.Orgs {
		b.orgs = make(map[uint32]string)
	}
	return b
}

// AddRange adds the inclusive range start..end with the given ASN. IPv4-mapped
// addresses count as IPv4. It rejects invalid or zoned addresses, mixed
// families, start > end and ASN 0 (not routed; file loaders skip such lines).
func (b *Builder) AddRange(start, end netip.Addr, asn uint32) error {
	if b.built {
		return errBuilt
	}
	if err := checkAddr("start", start); err != nil {
		return fmt.Errorf("asndb: %w", err)
	}
	if err := checkAddr("end", end); err != nil {
		return fmt.Errorf("asndb: %w", err)
	}
	if asn == 0 {
		return errors.New("asndb: ASN 0 (not routed) cannot be stored")
	}
	if err := b.add(start.Unmap(), end.Unmap(), asn); err != nil {
		return fmt.Errorf("asndb: %w", err)
	}
	return nil
}

var errBuilt = errors.New("asndb: builder already built")

func checkAddr(what string, a netip.Addr) error {
	if !a.IsValid() {
		return fmt.Errorf("invalid %s address", what)
	}
	if a.Zone() != "" {
		return fmt.Errorf("%s address %s has a zone", what, a)
	}
	return nil
}

// add checks and appends a range of unmapped, zone-free addresses; a range
// with ASN 0 is checked, counted and skipped.
func (b *Builder) add(start, end netip.Addr, asn uint32) error {
	if start.Is4() != end.Is4() {
		return fmt.Errorf("start %s and end %s are of different address families", start, end)
	}
	if start.Compare(end) > 0 {
		return fmt.Errorf("start %s > end %s", start, end)
	}
	b.stats.Input++
	if asn == 0 {
		b.stats.Skipped++
		return nil
	}
	if start.Is4() {
		if len(b.v4) == cap(b.v4) && b.sizeHint > 0 {
			b.v4 = slices.Grow(b.v4, hintLines(b.sizeHint, v4LineBytes))
			b.sizeHint = 0
		}
		s, e := start.As4(), end.As4()
		b.v4 = append(b.v4, span[v4key]{v4key(be32(s)), v4key(be32(e)), asn})
	} else {
		if len(b.v6) == cap(b.v6) && b.sizeHint > 0 {
			b.v6 = slices.Grow(b.v6, hintLines(b.sizeHint, v6LineBytes))
			b.sizeHint = 0
		}
		b.v6 = append(b.v6, span[u128]{u128of(start), u128of(end), asn})
	}
	return nil
}

// Typical bytes per input line, used to size the range slices once from a
// file's size instead of growing them step by step (less copying, lower peak
// memory while loading). Measured on @ip-location-db/asn (58 and 85 bytes on
// average), rounded down so that one allocation usually suffices.
const (
	v4LineBytes = 52
	v6LineBytes = 76
)

// hintLines estimates the lines of a file of size bytes, capped at 4Mi so
// that a huge file whose first line happens to parse cannot make one
// oversized allocation.
func hintLines(size, lineBytes int64) int {
	return int(min(size/lineBytes, 1<<22))
}

func be32(a [4]byte) uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

func u128of(a netip.Addr) u128 {
	b := a.As16()
	var x u128
	for i := 0; i < 8; i++ {
		x.hi = x.hi<<8 | uint64(b[i])
		x.lo = x.lo<<8 | uint64(b[8+i])
	}
	return x
}

// Build sorts the ranges, resolves overlaps, merges adjacent ranges with the
// same ASN and returns the immutable DB. It returns ErrNoRanges when nothing
// usable was added.
func (b *Builder) Build() (*DB, error) {
	if b.built {
		return nil, errBuilt
	}
	b.built = true
	db := &DB{stats: b.stats}
	v4, ov4, mg4 := normalize(b.v4)
	v6, ov6, mg6 := normalize(b.v6)
	b.v4, b.v6 = nil, nil
	db.stats.Overlaps = ov4 + ov6
	db.stats.Merged = mg4 + mg6
	if len(v4)+len(v6) == 0 {
		return nil, ErrNoRanges
	}

	n := len(v4)
	db.v4 = v4table{start: make([]uint32, n), end: make([]uint32, n), asn: make([]uint32, n)}
	for i, r := range v4 {
		db.v4.start[i], db.v4.end[i], db.v4.asn[i] = uint32(r.start), uint32(r.end), r.asn
	}
	if n >= v4IndexMin {
		db.v4.buildIndex()
	}
	n = len(v6)
	db.v6 = v6table{start: make([]u128, n), end: make([]u128, n), asn: make([]uint32, n)}
	for i, r := range v6 {
		db.v6.start[i], db.v6.end[i], db.v6.asn[i] = r.start, r.end, r.asn
	}

	seen := make(map[uint32]struct{})
	for _, a := range db.v4.asn {
		seen[a] = struct{}{}
	}
	for _, a := range db.v6.asn {
		seen[a] = struct{}{}
	}
	db.stats.ASNs = len(seen)
	if b.orgs != nil {
		db.orgs = buildOrgs(b.orgs, slices.Sorted(maps.Keys(seen)))
		b.orgs = nil
	}
	db.stats.V4Ranges = len(db.v4.start)
	db.stats.V6Ranges = len(db.v6.start)
	db.stats.Bytes = 12*len(db.v4.start) + 4*len(db.v4.idx) + 36*len(db.v6.start) + db.orgs.bytes()
	return db, nil
}

// buildOrgs packs the names of the stored ASNs (sorted, distinct) into one string.
func buildOrgs(m map[uint32]string, asns []uint32) orgTable {
	var o orgTable
	var sb strings.Builder
	for _, a := range asns {
		name, ok := m[a]
		if !ok || name == "" {
			continue
		}
		o.asn = append(o.asn, a)
		o.off = append(o.off, uint32(sb.Len()))
		sb.WriteString(name)
	}
	if len(o.asn) > 0 {
		o.off = append(o.off, uint32(sb.Len()))
	}
	o.names = sb.String()
	return o
}

// u128 is an IPv6 address as two big-endian halves.
type u128 struct{ hi, lo uint64 }

func (a u128) cmp(b u128) int {
	if a.hi != b.hi {
		return cmp.Compare(a.hi, b.hi)
	}
	return cmp.Compare(a.lo, b.lo)
}

func (a u128) sub(b u128) u128 {
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(a.hi, b.hi, borrow)
	return u128{hi, lo}
}

func (a u128) next() (u128, bool) {
	lo, carry := bits.Add64(a.lo, 1, 0)
	hi, over := bits.Add64(a.hi, 0, carry)
	return u128{hi, lo}, over == 0
}

func (a u128) prev() u128 {
	lo, borrow := bits.Sub64(a.lo, 1, 0)
	hi, _ := bits.Sub64(a.hi, 0, borrow)
	return u128{hi, lo}
}

// v4key is an IPv4 address as a big-endian integer.
type v4key uint32

func (a v4key) cmp(b v4key) int     { return cmp.Compare(a, b) }
func (a v4key) sub(b v4key) v4key   { return a - b }
func (a v4key) next() (v4key, bool) { return a + 1, a != ^v4key(0) }
func (a v4key) prev() v4key         { return a - 1 }

// key is an address of one family as an unsigned integer.
type key[K any] interface {
	comparable
	cmp(K) int
	sub(K) K         // difference; the receiver is not below the argument
	next() (K, bool) // successor; false when the receiver is the highest address
	prev() K         // predecessor; the receiver is not the lowest address
}

// span is an inclusive range start..end with its ASN during building.
type span[K key[K]] struct {
	start, end K
	asn        uint32
}

func cmpSpan[K key[K]](a, b span[K]) int {
	if c := a.start.cmp(b.start); c != 0 {
		return c
	}
	if c := a.end.cmp(b.end); c != 0 {
		return c
	}
	return cmp.Compare(a.asn, b.asn)
}

// normalize sorts s, resolves overlaps (narrowest range wins, then lowest
// ASN) and merges adjacent ranges with the same ASN. It works in place except
// for the parts that overlap, and returns the number of input ranges that
// overlapped and the number of merges. No range in s has ASN 0.
func normalize[K key[K]](s []span[K]) (out []span[K], overlaps, merged int) {
	if !slices.IsSortedFunc(s, cmpSpan[K]) {
		slices.SortFunc(s, cmpSpan[K])
	}
	// Resolve each cluster of transitively overlapping ranges into disjoint
	// segments kept aside; mark the cluster's ranges dead with ASN 0.
	var side []span[K]
	for i := 0; i < len(s); {
		j, maxEnd := i+1, s[i].end
		for j < len(s) && s[j].start.cmp(maxEnd) <= 0 {
			if s[j].end.cmp(maxEnd) > 0 {
				maxEnd = s[j].end
			}
			j++
		}
		if j-i > 1 {
			overlaps += j - i
			side = resolveCluster(s[i:j], side)
			for k := i; k < j; k++ {
				s[k].asn = 0
			}
		}
		i = j
	}
	if overlaps > 0 {
		n := 0
		for _, r := range s {
			if r.asn != 0 {
				s[n] = r
				n++
			}
		}
		// Merge the resolved segments back from the end; both runs are sorted
		// and disjoint from each other.
		total := n + len(side)
		s = slices.Grow(s[:n], len(side))[:total]
		i, j := n-1, len(side)-1
		for k := total - 1; j >= 0; k-- {
			if i >= 0 && s[i].start.cmp(side[j].start) > 0 {
				s[k] = s[i]
				i--
			} else {
				s[k] = side[j]
				j--
			}
		}
	}
	out = s[:0]
	for _, r := range s {
		if n := len(out); n > 0 && out[n-1].asn == r.asn {
			if nx, ok := out[n-1].end.next(); ok && nx == r.start {
				out[n-1].end = r.end
				merged++
				continue
			}
		}
		out = append(out, r)
	}
	return out, overlaps, merged
}

// resolveCluster appends to dst the disjoint segments of the overlapping
// ranges c (sorted by start), each address taking the ASN of the narrowest
// range that contains it, ties going to the lowest ASN. It sweeps the range
// boundaries with a heap of active ranges: O(m log m) for m ranges.
func resolveCluster[K key[K]](c []span[K], dst []span[K]) []span[K] {
	bounds := make([]K, 0, 2*len(c))
	for _, r := range c {
		bounds = append(bounds, r.start)
		if nx, ok := r.end.next(); ok {
			bounds = append(bounds, nx)
		}
	}
	slices.SortFunc(bounds, func(a, b K) int { return a.cmp(b) })
	bounds = slices.Compact(bounds)

	better := func(i, j int32) bool {
		a, b := c[i], c[j]
		if d := a.end.sub(a.start).cmp(b.end.sub(b.start)); d != 0 {
			return d < 0
		}
		return a.asn < b.asn
	}
	h := minHeap{less: better}
	next := 0
	for bi, p := range bounds {
		for next < len(c) && c[next].start.cmp(p) <= 0 {
			h.push(int32(next))
			next++
		}
		for len(h.a) > 0 && c[h.a[0]].end.cmp(p) < 0 {
			h.pop()
		}
		if len(h.a) == 0 {
			continue
		}
		w := c[h.a[0]]
		end := w.end // last boundary: every active range runs to the top address
		if bi+1 < len(bounds) {
			end = bounds[bi+1].prev()
		}
		if n := len(dst); n > 0 && dst[n-1].asn == w.asn {
			if nx, ok := dst[n-1].end.next(); ok && nx == p {
				dst[n-1].end = end
				continue
			}
		}
		dst = append(dst, span[K]{p, end, w.asn})
	}
	return dst
}

// minHeap is a binary heap of indices ordered by less.
type minHeap struct {
	a    []int32
	less func(i, j int32) bool
}

func (h *minHeap) push(x int32) {
	h.a = append(h.a, x)
	for i := len(h.a) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(h.a[i], h.a[p]) {
			break
		}
		h.a[i], h.a[p] = h.a[p], h.a[i]
		i = p
	}
}

func (h *minHeap) pop() {
	n := len(h.a) - 1
	h.a[0] = h.a[n]
	h.a = h.a[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && h.less(h.a[l], h.a[m]) {
			m = l
		}
		if r := l + 1; r < n && h.less(h.a[r], h.a[m]) {
			m = r
		}
		if m == i {
			return
		}
		h.a[i], h.a[m] = h.a[m], h.a[i]
		i = m
	}
}
