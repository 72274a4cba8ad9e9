package kbucket

// BucketStats describes one bucket (for metrics and the ops plane).
type BucketStats struct {
	Index        int     // bucket index (common-prefix length with the local ID)
	Occupancy    int     // entries in the bucket
	Cached       int     // candidates in its replacement cache
	EntropyBits  float64 // Shannon entropy of the bucket's group mix (exempt peers count as singletons)
	MaxASNPct    float64 // largest non-exempt group's share of the capacity K, 0-1
	MaxGroup     Group   // that group (GroupExempt when there is none)
	LowDiversity bool    // bucket full and EntropyBits < Config.ASNEntropyMin
	LastUsed     int64   // unix nanos of the last Touch (0: never)
}

// bucketView is the immutable state of one bucket in a snapshot; snapshots
// share the views of the buckets that did not change between them.
type bucketView struct {
	peers []Peer
	stats BucketStats
}

// Snapshot is an immutable view of a Table, safe for concurrent readers.
type Snapshot struct {
	self     ID
	n        int
	nonEmpty bucketSet
	views    [NumBuckets]*bucketView
}

// Bucket returns the statistics of bucket i (0 ≤ i < NumBuckets).
func (t *Table) Bucket(i int) BucketStats {
	st := BucketStats{Index: i, LastUsed: t.lastUsed[i]}
	b := t.b[i]
	if b == nil {
		return st
	}
	st.Occupancy, st.Cached = len(b.peers), len(b.cache)
	st.EntropyBits = entropyFromSum(len(b.peers), b.sumFix)
	best := 0
	for _, gc := range b.groups {
		if gc.n > best {
			best, st.MaxGroup = gc.n, gc.g
		}
	}
	st.MaxASNPct = float64(best) / float64(t.cfg.K)
	st.LowDiversity = st.Occupancy == t.cfg.K && st.EntropyBits < t.cfg.ASNEntropyMin
	return st
}

// Snapshot returns an immutable view for concurrent readers. It is cached
// until the next mutation; a new one shares the unchanged buckets with the
// previous one and copies only the buckets that changed. Call it from the
// table's owner.
func (t *Table) Snapshot() *Snapshot {
	if t.snap != nil && t.dirtyStats.empty() && t.dirtyPeers.empty() {
		return t.snap
	}
	s := new(Snapshot)
	if t.snap != nil {
		*s = *t.snap
	} else {
		s.self = t.self
		empty := &bucketView{}
		for i := range s.views {
			s.views[i] = empty
		}
		t.dirtyStats = bucketSet{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	}
	t.dirtyStats.each(func(i int) {
		v := &bucketView{peers: s.views[i].peers, stats: t.Bucket(i)}
		if ps := t.peersOf(i); t.dirtyPeers.has(i) && len(ps) > 0 {
			v.peers = make([]Peer, len(ps)) // never the table's array: it keeps changing
			copy(v.peers, ps)
		} else if t.dirtyPeers.has(i) {
			v.peers = nil
		}
		s.views[i] = v
	})
	s.n, s.nonEmpty = t.n, t.nonEmpty
	t.dirtyPeers, t.dirtyStats = bucketSet{}, bucketSet{}
	t.snap = s
	return s
}

// Self returns the local ID.
func (s *Snapshot) Self() ID { return s.self }

// Len returns the number of entries.
func (s *Snapshot) Len() int { return s.n }

// Closest is Table.Closest on the snapshot.
func (s *Snapshot) Closest(target ID, n int, dst []Peer) []Peer {
	return closest(func(i int) []Peer { return s.views[i].peers }, &s.nonEmpty, s.self, target, n, dst)
}

// Bucket returns the entries of bucket i, least recently seen first. The
// slice is shared: callers must not modify it.
func (s *Snapshot) Bucket(i int) []Peer { return s.views[i].peers }

// Buckets returns the statistics of all NumBuckets buckets, indexed by
// bucket (a fresh slice).
func (s *Snapshot) Buckets() []BucketStats {
	out := make([]BucketStats, NumBuckets)
	for i, v := range s.views {
		out[i] = v.stats
	}
	return out
}

// Peers appends every entry to dst, bucket by bucket, least recently seen
// first within a bucket.
func (s *Snapshot) Peers(dst []Peer) []Peer {
	s.nonEmpty.each(func(i int) { dst = append(dst, s.views[i].peers...) })
	return dst
}
