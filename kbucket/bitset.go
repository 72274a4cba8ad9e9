package kbucket

import "math/bits"

// NumBuckets is the number of buckets: one per possible common-prefix length
// of a 256-bit ID with the local ID (an ID equal to the local one has no
// bucket).
const NumBuckets = IDLen * 8

// bucketSet is a set of bucket indices laid out like a big-endian Distance:
// bucket i is bit 63-i%64 of word i/64, so it can be masked directly with
// the words of an XOR distance.
type bucketSet [NumBuckets / 64]uint64

func (s *bucketSet) set(i int)      { s[i>>6] |= 1 << (63 - uint(i&63)) }
func (s *bucketSet) clear(i int)    { s[i>>6] &^= 1 << (63 - uint(i&63)) }
func (s *bucketSet) has(i int) bool { return s[i>>6]&(1<<(63-uint(i&63))) != 0 }
func (s *bucketSet) empty() bool    { return s[0]|s[1]|s[2]|s[3] == 0 }

// each calls f for each member in ascending order.
func (s *bucketSet) each(f func(i int)) {
	for w, v := range s {
		for v != 0 {
			lz := bits.LeadingZeros64(v)
			f(w*64 + lz)
			v &^= 1 << (63 - uint(lz))
		}
	}
}
