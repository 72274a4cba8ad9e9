package kbucket

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// bigTable returns a table of exactly n entries (n ≤ 20·256): 20 per bucket
// in buckets 0, 1, 2, ... with distinct public /16 groups. A real network of
// random IDs never fills more than ~log2(N) buckets; this is the worst case
// for selection size.
func bigTable(tb testing.TB, n int) *Table {
	rnd := rand.New(rand.NewPCG(1, 2))
	self := randID(rnd)
	tbl := mustTable(tb, self, DefaultConfig(), nil)
	for j := 0; tbl.Len() < n; j++ {
		a := netip.AddrFrom4([4]byte{byte(41 + j/256%59), byte(j), 1, 1})
		tbl.Seen(Peer{ID: RandomIDInBucket(self, tbl.Len()/DefaultK, rnd), Addr: netip.AddrPortFrom(a, 4433)}, int64(j))
	}
	return tbl
}

func benchTargets() []ID {
	rnd := rand.New(rand.NewPCG(3, 4))
	ts := make([]ID, 1024)
	for i := range ts {
		ts[i] = randID(rnd)
	}
	return ts
}

// BenchmarkClosest: 20 closest of a 2,000-entry table by the bucket walk.
func BenchmarkClosest(b *testing.B) {
	tbl := bigTable(b, 2000)
	ts := benchTargets()
	dst := make([]Peer, 0, 20)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst = tbl.Closest(ts[i&1023], 20, dst[:0])
		i++
	}
}

// BenchmarkClosestNearSelf: targets close to the local ID, so the walk
// visits many sparse deep buckets before the full ones.
func BenchmarkClosestNearSelf(b *testing.B) {
	tbl := bigTable(b, 2000)
	rnd := rand.New(rand.NewPCG(5, 6))
	ts := make([]ID, 1024)
	for i := range ts {
		ts[i] = RandomIDInBucket(tbl.Self(), 90+rnd.IntN(40), rnd)
	}
	dst := make([]Peer, 0, 20)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst = tbl.Closest(ts[i&1023], 20, dst[:0])
		i++
	}
}

// BenchmarkClosestSnapshot: the same selection on a snapshot.
func BenchmarkClosestSnapshot(b *testing.B) {
	s := bigTable(b, 2000).Snapshot()
	ts := benchTargets()
	dst := make([]Peer, 0, 20)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst = s.Closest(ts[i&1023], 20, dst[:0])
		i++
	}
}

// BenchmarkClosestFullSort is the baseline: copy all 2,000 entries and sort
// them by distance.
func BenchmarkClosestFullSort(b *testing.B) {
	all := bigTable(b, 2000).Snapshot().Peers(nil)
	ts := benchTargets()
	buf := make([]Peer, len(all))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		target := ts[i&1023]
		copy(buf, all)
		slices.SortFunc(buf, func(x, y Peer) int { return Xor(x.ID, target).Cmp(Xor(y.ID, target)) })
		_ = buf[:20]
		i++
	}
}

// BenchmarkSeenUpdate: an exchange with a peer already in the table.
func BenchmarkSeenUpdate(b *testing.B) {
	tbl := bigTable(b, 2000)
	all := tbl.Snapshot().Peers(nil)
	b.ReportAllocs()
	now := int64(1 << 40)
	for b.Loop() {
		now++
		tbl.Seen(all[now%int64(len(all))], now)
	}
}

// BenchmarkSeenInsert: inserting new peers and evicting them again (a
// Seen that adds plus a Remove), in a realistic table of 1,000 random nodes.
func BenchmarkSeenInsert(b *testing.B) {
	tbl := network(b, 1000, 1)
	rnd := rand.New(rand.NewPCG(7, 8))
	ps := make([]Peer, 4096)
	for i := range ps {
		ps[i] = Peer{ID: RandomIDInBucket(tbl.Self(), 6+rnd.IntN(4), rnd), Addr: publicAddr(rnd)}
	}
	b.ReportAllocs()
	now := int64(1 << 40)
	i := 0
	for b.Loop() {
		now++
		p := ps[i&4095]
		tbl.Seen(p, now)
		tbl.Remove(p.ID)
		i++
	}
}

// BenchmarkSeenFullBucket: newcomers to a full bucket go to the replacement
// cache (with its entropy-based choice of which candidate to keep).
func BenchmarkSeenFullBucket(b *testing.B) {
	tbl := bigTable(b, 2000)
	rnd := rand.New(rand.NewPCG(9, 10))
	ps := make([]Peer, 4096)
	for i := range ps {
		ps[i] = Peer{ID: RandomIDInBucket(tbl.Self(), rnd.IntN(100), rnd), Addr: publicAddr(rnd)}
	}
	b.ReportAllocs()
	now := int64(1 << 40)
	i := 0
	for b.Loop() {
		now++
		tbl.Seen(ps[i&4095], now)
		i++
	}
}

// entropyBucket is a full bucket of 20 entries from 6 groups.
func entropyBucket(b *testing.B) *Table {
	rnd := rand.New(rand.NewPCG(11, 12))
	self := randID(rnd)
	tbl := mustTable(b, self, DefaultConfig(), testResolver{})
	for j := range 20 {
		// First octets 20-25 map to 4 ASNs: 7, 7, 3 and 3 entries (cap 8).
		a := netip.AddrFrom4([4]byte{byte(20 + j%6), byte(j), 1, 1})
		if r := tbl.Seen(Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: netip.AddrPortFrom(a, 1)}, int64(j)); r.Outcome != Added {
			b.Fatalf("setup: %v", r.Outcome)
		}
	}
	return tbl
}

// BenchmarkEntropyIncremental: the O(1) update of one bucket's entropy when
// an entry leaves one group and joins another (dec + inc + read).
func BenchmarkEntropyIncremental(b *testing.B) {
	tbl := entropyBucket(b)
	bk := tbl.b[0]
	g1, g2 := bk.groups[0].g, bk.groups[1].g
	var h float64
	b.ReportAllocs()
	for b.Loop() {
		bk.dec(g1)
		bk.inc(g2)
		h += entropyFromSum(20, bk.sumFix)
		g1, g2 = g2, g1
	}
	_ = h
}

// BenchmarkEntropyFromScratch: the same change, recomputing the entropy from
// the bucket's entries (group counting plus Σ p·log2 p).
func BenchmarkEntropyFromScratch(b *testing.B) {
	tbl := entropyBucket(b)
	bk := tbl.b[0]
	meta := bk.meta
	var groups [MaxK]Group
	var counts [MaxK]int
	var h float64
	b.ReportAllocs()
	for b.Loop() {
		meta[0].group, meta[1].group = meta[1].group, meta[0].group
		ng := 0
		for _, m := range meta {
			k := 0
			for k < ng && groups[k] != m.group {
				k++
			}
			if k == ng {
				groups[k], counts[k] = m.group, 0
				ng++
			}
			counts[k]++
		}
		h += Entropy(counts[:ng])
	}
	_ = h
}

// BenchmarkSnapshot: a snapshot after one mutation (the common case: one
// bucket changed) of a 2,000-entry table.
func BenchmarkSnapshot(b *testing.B) {
	tbl := bigTable(b, 2000)
	all := tbl.Snapshot().Peers(nil)
	b.ReportAllocs()
	now := int64(1 << 40)
	for b.Loop() {
		now++
		tbl.Seen(all[now%int64(len(all))], now)
		_ = tbl.Snapshot()
	}
}

// BenchmarkSnapshotCached: a snapshot with no mutation since the last one.
func BenchmarkSnapshotCached(b *testing.B) {
	tbl := bigTable(b, 2000)
	tbl.Snapshot()
	b.ReportAllocs()
	for b.Loop() {
		_ = tbl.Snapshot()
	}
}

// BenchmarkEstimateNetworkSize: the censored maximum-likelihood estimate on
// the table of a 5,000-node network.
func BenchmarkEstimateNetworkSize(b *testing.B) {
	tbl := network(b, 5000, 1)
	b.ReportAllocs()
	for b.Loop() {
		_ = tbl.EstimateNetworkSize()
	}
}
