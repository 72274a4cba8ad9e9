package kbucket

import (
	"encoding/binary"
	"math/bits"
)

// sortKey orders the entries of one bucket by distance to the target.
type sortKey struct {
	key uint64 // the 8 distance bytes starting at the bucket's first varying byte
	idx int
}

// closest implements Table.Closest and Snapshot.Closest; bucket(i) returns
// the entries of bucket i.
//
// Every entry of bucket i agrees with the local ID on bits 0..i-1 and differs
// at bit i, so its distance to target has the fixed prefix
// (self^target)[0..i-1] followed by the complement of (self^target) bit i.
// These prefixes are distinct and none is a prefix of another, hence whole
// buckets are ordered by distance: bucket i comes before all deeper buckets
// iff self and target differ at bit i. Walking the buckets where they differ
// in ascending order, then the others in descending order, visits the
// buckets nearest first; only the entries of visited buckets (≤ K each) are
// sorted, and the walk stops once n peers are collected.
func closest(bucket func(i int) []Peer, nonEmpty *bucketSet, self, target ID, n int, dst []Peer) []Peer {
	if n <= 0 {
		return dst
	}
	var diff bucketSet
	for w := range diff {
		diff[w] = binary.BigEndian.Uint64(self[w*8:]) ^ binary.BigEndian.Uint64(target[w*8:])
	}
	// Phase 1: buckets where target differs from self, ascending.
	for w := 0; w < len(diff); w++ {
		for v := nonEmpty[w] & diff[w]; v != 0; {
			lz := bits.LeadingZeros64(v)
			v &^= 1 << (63 - uint(lz))
			if dst, n = takeBucket(dst, bucket(w*64+lz), w*64+lz, target, n); n == 0 {
				return dst
			}
		}
	}
	// Phase 2: buckets where target agrees with self, descending.
	for w := len(diff) - 1; w >= 0; w-- {
		for v := nonEmpty[w] &^ diff[w]; v != 0; {
			tz := bits.TrailingZeros64(v)
			v &^= 1 << uint(tz)
			if dst, n = takeBucket(dst, bucket(w*64+63-tz), w*64+63-tz, target, n); n == 0 {
				return dst
			}
		}
	}
	return dst
}

// takeBucket appends the min(n, len(ps)) entries of bucket i closest to
// target, in ascending distance, and returns how many are still wanted.
func takeBucket(dst, ps []Peer, i int, target ID, n int) ([]Peer, int) {
	if len(ps) == 1 { // common in deep buckets
		return append(dst, ps[0]), n - 1
	}
	var keys [MaxK]sortKey
	if len(ps) > len(keys) {
		panic("kbucket: bucket over MaxK")
	}
	// Entries of bucket i share every distance bit before bit i: comparing
	// from byte i/8 (at most 24, to keep 8 bytes) needs no earlier bytes.
	off := min(i/8, IDLen-8)
	tk := binary.BigEndian.Uint64(target[off:])
	ks := keys[:len(ps)]
	for j := range ps {
		ks[j] = sortKey{key: binary.BigEndian.Uint64(ps[j].ID[off:]) ^ tk, idx: j}
		// Insertion sort: buckets hold at most 32 entries.
		for h := j; h > 0 && less(&ks[h], &ks[h-1], ps, target, off); h-- {
			ks[h], ks[h-1] = ks[h-1], ks[h]
		}
	}
	m := min(n, len(ps))
	for _, k := range ks[:m] {
		dst = append(dst, ps[k.idx])
	}
	return dst, n - m
}

func less(a, b *sortKey, ps []Peer, target ID, off int) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	// Equal on bytes off..off+7: compare the rest (IDs are distinct).
	x, y := &ps[a.idx].ID, &ps[b.idx].ID
	for k := off + 8; k < IDLen; k++ {
		if dx, dy := x[k]^target[k], y[k]^target[k]; dx != dy {
			return dx < dy
		}
	}
	return false
}
