package kbucket

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
)

// Touch records that bucket was used at now (a lookup for a target in its
// range; see also NoteExchange): it needs no refresh lookup for a while.
// Out-of-range indices are ignored. It does not allocate.
func (t *Table) Touch(bucket int, now int64) {
	if bucket < 0 || bucket >= NumBuckets {
		return
	}
	t.lastUsed[bucket] = now
	t.dirtyStats.set(bucket)
}

// NoteExchange counts a successful exchange at now with id, an entry of
// the table, as a use of its bucket (Touch) when that bucket is full, and
// reports whether it did. A full bucket has no room to fill, and its
// entries can be checked one by one (ping-before-evict when a newcomer
// arrives, or a ping of an entry silent for a while), so traffic is enough
// to tell it needs no refresh lookup. A bucket with room is left to its
// refresh lookups, the only thing that finds the peers it lacks and probes
// the entries nobody exchanges with (with every exchange counted, the dead
// entries of such buckets linger in a quiet network). It does not allocate.
func (t *Table) NoteExchange(id ID, now int64) bool {
	i := CommonPrefixLen(t.self, id)
	if i >= NumBuckets || len(t.peersOf(i)) < t.cfg.K {
		return false
	}
	t.Touch(i, now)
	return true
}

// BucketLen returns the number of entries of bucket i (0 when i is out of
// range).
func (t *Table) BucketLen(i int) int {
	if i < 0 || i >= NumBuckets {
		return 0
	}
	return len(t.peersOf(i))
}

// LeastRecentlySeen returns the entry of bucket i heard from least
// recently (the one ping-before-evict would ask), and false when the
// bucket is empty or i is out of range.
func (t *Table) LeastRecentlySeen(i int) (Peer, bool) {
	if i < 0 || i >= NumBuckets || len(t.peersOf(i)) == 0 {
		return Peer{}, false
	}
	return t.b[i].peers[0], true
}

// PopulatableBuckets returns how many buckets can be populated in a network
// of networkSize nodes (this one included): bucket i is expected to hold
// (networkSize-1)/2^(i+1) peers, so it counts while that is at least 1 —
// floor(log2(networkSize-1)) buckets, at least 1 when there is any other
// node, 0 for a lone node. They are buckets 0..n-1.
func PopulatableBuckets(networkSize int) int {
	others := networkSize - 1
	if others < 1 {
		return 0
	}
	return min(max(bits.Len(uint(others))-1, 1), NumBuckets)
}

// StaleBuckets returns, in ascending order, the populatable buckets (at the
// given network size estimate) not used for at least interval nanoseconds:
// the buckets to refresh with a lookup of RandomIDInBucket.
func (t *Table) StaleBuckets(now int64, interval int64, networkSizeEstimate int) []int {
	var out []int
	for i := range PopulatableBuckets(networkSizeEstimate) {
		if now-t.lastUsed[i] >= interval {
			out = append(out, i)
		}
	}
	return out
}

// StalestBuckets appends to dst, oldest first (ties: lower index first), at
// most limit of the buckets StaleBuckets would return: the populatable
// buckets (at networkSizeEstimate) not used for at least interval
// nanoseconds. A caller that refreshes a few of them per check spreads the
// refreshes instead of firing them all at once, stalest first. It does not
// allocate when dst has room for limit more entries.
func (t *Table) StalestBuckets(dst []int, now, interval int64, networkSizeEstimate, limit int) []int {
	base := len(dst)
	for i := range PopulatableBuckets(networkSizeEstimate) {
		if now-t.lastUsed[i] < interval {
			continue
		}
		// Insertion into dst[base:], kept oldest first and at most limit
		// long; populatable buckets are few (about log2 of the network
		// size), so this beats sorting.
		n := len(dst) - base
		j := n
		for j > 0 && t.lastUsed[dst[base+j-1]] > t.lastUsed[i] {
			j--
		}
		if j >= limit {
			continue
		}
		if n < limit {
			dst = append(dst, 0)
			n++
		}
		copy(dst[base+j+1:base+n], dst[base+j:base+n-1])
		dst[base+j] = i
	}
	return dst
}

// RandomIDInBucket returns a uniformly random ID whose common-prefix length
// with self is exactly bucket (0 ≤ bucket < NumBuckets; it panics otherwise).
func RandomIDInBucket(self ID, bucket int, rnd *rand.Rand) ID {
	if bucket < 0 || bucket >= NumBuckets {
		panic(fmt.Sprintf("kbucket: bucket %d out of range 0-%d", bucket, NumBuckets-1))
	}
	var id ID
	for w := 0; w < IDLen; w += 8 {
		binary.BigEndian.PutUint64(id[w:], rnd.Uint64())
	}
	k, bit := bucket/8, uint(bucket%8)
	copy(id[:k], self[:k])
	keep := byte(uint16(0xff00) >> bit) // self's bits before the flipped one
	flip := byte(0x80 >> bit)
	id[k] = self[k]&keep | ^self[k]&flip | id[k]&^(keep|flip)
	return id
}

// BucketFillPct returns the share (0-1) of the buckets populatable at
// networkSizeEstimate that are non-empty. A table that already holds every
// other node of the estimated network counts as full (1); a lone node's is 0.
func (t *Table) BucketFillPct(networkSizeEstimate int) float64 {
	p := PopulatableBuckets(networkSizeEstimate)
	if p == 0 {
		return 0
	}
	if t.n >= networkSizeEstimate-1 {
		return 1
	}
	filled := 0
	for i := range p {
		if len(t.peersOf(i)) > 0 {
			filled++
		}
	}
	return float64(filled) / float64(p)
}

// EstimateNetworkSize estimates the number of nodes in the network, this one
// included, from bucket occupancy. Bucket i covers a 2^-(i+1) share of the ID
// space, so in a network of N nodes its occupancy c_i is modelled as
// Poisson(μ_i), μ_i = (N-1)·2^-(i+1). A bucket with fewer than K entries is
// taken to hold every peer of its range; a full bucket only says c_i ≥ K
// (right-censored: leaving full buckets out would bias the estimate low,
// since whether the boundary bucket is full depends on its count). The
// estimate is the maximum-likelihood N-1 under that model: the log
// likelihood is concave, and its derivative is found by bisection. It is
// never below the table's size.
//
// The estimate is only as good as the table: before a bootstrap lookup has
// filled the buckets near the local ID it undercounts (a table holding just
// one seed estimates a network of 2), so readiness should be judged after it.
func (t *Table) EstimateNetworkSize() int {
	k := t.cfg.K
	var sumC, sumW float64 // over non-full buckets: Σ c_i, Σ 2^-(i+1)
	var full [NumBuckets]float64
	nFull := 0
	for i := range NumBuckets {
		w := math.Ldexp(1, -(i + 1))
		if c := len(t.peersOf(i)); c < k {
			sumC += float64(c)
			sumW += w
		} else {
			full[nFull] = w
			nFull++
		}
	}
	lambda := 0.0
	if nFull == 0 {
		lambda = sumC / sumW
	} else {
		// d/dλ log L = sumC/λ - sumW + Σ_full w·h(λw), h = hazard of Poisson ≥ K;
		// decreasing in λ. Bisect on log2 λ in [0, 62].
		lo, hi := 0.0, 62.0
		for range 40 { // 62/2^40: ~4e-11 relative precision
			mid := (lo + hi) / 2
			l := math.Exp2(mid)
			d := sumC/l - sumW
			for _, w := range full[:nFull] {
				d += w * poissonHazard(k, l*w)
			}
			if d > 0 {
				lo = mid
			} else {
				hi = mid
			}
		}
		lambda = math.Exp2((lo + hi) / 2)
	}
	est := max(t.n, int(min(math.Round(lambda), math.MaxInt32)))
	return est + 1
}

// poissonHazard returns pmf(k-1; μ) / P(X ≥ k) for X ~ Poisson(μ): the
// derivative of log P(X ≥ k) with respect to μ.
func poissonHazard(k int, mu float64) float64 {
	if mu <= 0 {
		return math.Inf(1)
	}
	if mu < float64(k) {
		// P(X ≥ k)/pmf(k-1) = Σ_{m≥1} μ^m (k-1)!/(k-1+m)!: a series whose
		// term ratio μ/(k-1+m) is below 1, so it converges quickly.
		sum, term := 0.0, 1.0
		for m := 1; m < 1000; m++ {
			term *= mu / float64(k-1+m)
			sum += term
			if term < sum*1e-12 {
				break
			}
		}
		return 1 / sum
	}
	// μ ≥ k: P(X ≥ k) ≥ ~1/2, so 1 - CDF(k-1) is accurate (for μ > ~745
	// e^-μ underflows and the CDF is 0, as it is to double precision).
	lg, _ := math.Lgamma(float64(k))
	logMu := math.Log(mu)
	cdf, p := 0.0, math.Exp(-mu)
	for x := range k {
		cdf += p
		p *= mu / float64(x+1)
	}
	return math.Exp(float64(k-1)*logMu-mu-lg) / (1 - cdf)
}
