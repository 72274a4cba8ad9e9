package kbucket

import (
	"fmt"
	"net/netip"
	"slices"
)

// Peer is a routing-table entry.
type Peer struct {
	ID       ID
	Addr     netip.AddrPort // observed address (used for ASN / prefix)
	Addrs    []string       // advertised quic:// addresses; the table keeps the slice, callers must not modify it afterwards
	LastSeen int64          // unix nanoseconds of last successful exchange (caller-supplied clock)
}

// Outcome is what Seen did with a peer.
type Outcome uint8

// Seen outcomes.
const (
	Added    Outcome = iota + 1 // inserted into its bucket
	Updated                     // already present: refreshed, moved to most-recent
	Cached                      // bucket full: kept in the bucket's replacement cache
	Rejected                    // not kept (see SeenResult.Reason)
)

// String names the outcome (for logs and the dht_route_updates_total action label).
func (o Outcome) String() string {
	switch o {
	case Added:
		return "added"
	case Updated:
		return "updated"
	case Cached:
		return "cached"
	case Rejected:
		return "rejected"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Reasons reported in SeenResult.Reason.
const (
	ReasonSelf      = "self"                                      // the local ID
	ReasonASNCap    = "asn cap reached in bucket"                 // the peer's group already holds its cap of the bucket
	ReasonCacheFull = "replacement cache holds better candidates" // bucket and cache full, every cached candidate raises entropy at least as much
	ReasonNoCache   = "bucket full, no replacement cache"         // Config.ReplacementCache is 0
	ReasonFull      = "bucket full"                               // set with Cached: waiting in the replacement cache
)

// SeenResult is the outcome of Seen.
type SeenResult struct {
	Outcome Outcome
	// PingCandidate, when set, is the bucket's least-recently-seen entry: the
	// caller must ping it and report the answer with PingResult
	// (ping-before-evict). At most one probe per bucket is outstanding; it is
	// re-issued when unanswered for Config.PingTimeout.
	PingCandidate *Peer
	// Reason says why the peer was Cached or Rejected.
	Reason string
	// Displaced is set when p took the slot of an entry of its own group that
	// had failed RPCs (the group being at its cap).
	Displaced *Peer
}

// entryMeta is the per-entry state kept beside bucket.peers.
type entryMeta struct {
	group Group
	fails uint8
}

type cachedPeer struct {
	p     Peer
	group Group
}

type groupCount struct {
	g Group
	n int
}

// bucket is one bucket; it is allocated on first use, since all but the
// first ~log2(N) buckets stay empty.
type bucket struct {
	peers     []Peer       // entries, least recently seen first
	meta      []entryMeta  // parallel to peers
	cache     []cachedPeer // replacement cache, unordered
	groups    []groupCount // non-exempt group -> entries in the bucket
	sumFix    int64        // Σ xlogxFix[n_g] over groups
	pinging   bool         // a ping-before-evict probe is outstanding
	pingID    ID
	pingSince int64
}

func (b *bucket) count(g Group) int {
	if g == GroupExempt {
		return 0
	}
	for _, gc := range b.groups {
		if gc.g == g {
			return gc.n
		}
	}
	return 0
}

func (b *bucket) inc(g Group) {
	if g == GroupExempt {
		return
	}
	for k := range b.groups {
		if gc := &b.groups[k]; gc.g == g {
			b.sumFix += xlogxFix[gc.n+1] - xlogxFix[gc.n]
			gc.n++
			return
		}
	}
	b.groups = append(b.groups, groupCount{g: g, n: 1}) // xlogx(1) = 0
}

func (b *bucket) dec(g Group) {
	if g == GroupExempt {
		return
	}
	for k := range b.groups {
		if gc := &b.groups[k]; gc.g == g {
			b.sumFix -= xlogxFix[gc.n] - xlogxFix[gc.n-1]
			if gc.n--; gc.n == 0 {
				last := len(b.groups) - 1
				b.groups[k] = b.groups[last]
				b.groups = b.groups[:last]
			}
			return
		}
	}
	panic("kbucket: group count underflow")
}

func (b *bucket) cacheIndex(id ID) int {
	if b == nil {
		return -1
	}
	for k := range b.cache {
		if b.cache[k].p.ID == id {
			return k
		}
	}
	return -1
}

func (b *bucket) removeCached(k int) {
	last := len(b.cache) - 1
	b.cache[k] = b.cache[last]
	b.cache[last] = cachedPeer{}
	b.cache = b.cache[:last]
}

// Table is the Kademlia routing table. It has a single writer and is not safe
// for concurrent use; concurrent readers use Snapshot.
type Table struct {
	self     ID
	cfg      Config
	groupCap int
	r        Resolver

	b        [NumBuckets]*bucket // nil until first used
	lastUsed [NumBuckets]int64   // unix nanos of the last Touch per bucket
	nonEmpty bucketSet
	n        int

	dirtyPeers bucketSet // buckets whose entries changed since the last snapshot
	dirtyStats bucketSet // buckets whose statistics changed since the last snapshot
	snap       *Snapshot
}

// NewTable returns an empty table for the local ID self. r may be nil: then
// every peer is grouped by address prefix.
func NewTable(self ID, cfg Config, r Resolver) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new routing table: %w", err)
	}
	return &Table{self: self, cfg: cfg, groupCap: cfg.GroupCap(), r: r}, nil
}

// Self returns the local ID.
func (t *Table) Self() ID { return t.self }

// Config returns the table's configuration.
func (t *Table) Config() Config { return t.cfg }

// Len returns the number of entries in the buckets (replacement caches
// excluded).
func (t *Table) Len() int { return t.n }

// BucketOf returns the bucket index of id: its common-prefix length with the
// local ID, or -1 for the local ID itself.
func (t *Table) BucketOf(id ID) int {
	if i := CommonPrefixLen(t.self, id); i < NumBuckets {
		return i
	}
	return -1
}

// Group returns the diversity group the table assigns to an observed IP.
func (t *Table) Group(ip netip.Addr) Group { return groupOf(ip, t.r, t.cfg.ExemptPrivate) }

// peersOf returns the entries of bucket i (nil when empty).
func (t *Table) peersOf(i int) []Peer {
	if b := t.b[i]; b != nil {
		return b.peers
	}
	return nil
}

// bucket returns bucket i, allocating it on first use.
func (t *Table) bucket(i int) *bucket {
	if t.b[i] == nil {
		t.b[i] = new(bucket)
	}
	return t.b[i]
}

func (t *Table) indexOf(i int, id ID) int {
	if b := t.b[i]; b != nil {
		for j := range b.peers {
			if b.peers[j].ID == id {
				return j
			}
		}
	}
	return -1
}

func (t *Table) markPeers(i int) {
	t.dirtyPeers.set(i)
	t.dirtyStats.set(i)
}

// Seen records a successful exchange with p at time now (unix nanos); p.LastSeen
// is set to now. If p is already present its entry is refreshed and moved to
// most-recent (an invalid p.Addr or nil p.Addrs keeps the stored values). A
// new peer is inserted when its bucket has room and its group is under the
// cap; into a full bucket it goes to the replacement cache and the
// least-recently-seen entry is returned as PingCandidate. A peer whose group
// is at its cap is rejected unless an entry of the same group with failed
// RPCs can be displaced.
func (t *Table) Seen(p Peer, now int64) SeenResult {
	if p.ID == t.self {
		return SeenResult{Outcome: Rejected, Reason: ReasonSelf}
	}
	p.LastSeen = now
	i := CommonPrefixLen(t.self, p.ID)
	if j := t.indexOf(i, p.ID); j >= 0 {
		return t.update(i, j, p, now)
	}
	b := t.b[i]
	if k := b.cacheIndex(p.ID); k >= 0 {
		c := &b.cache[k]
		if !p.Addr.IsValid() {
			p.Addr = c.p.Addr
		}
		if p.Addrs == nil {
			p.Addrs = c.p.Addrs
		}
		b.removeCached(k)
		t.dirtyStats.set(i)
	}
	return t.insert(i, p, t.Group(p.Addr.Addr()), now)
}

// update refreshes entry j of bucket i with p.
func (t *Table) update(i, j int, p Peer, now int64) SeenResult {
	b := t.b[i]
	old := &b.peers[j]
	if !p.Addr.IsValid() {
		p.Addr = old.Addr
	}
	if p.Addrs == nil {
		p.Addrs = old.Addrs
	}
	if b.pinging && b.pingID == p.ID {
		b.pinging = false // it answered something: no longer a suspect
	}
	m := b.meta[j]
	if p.Addr.Addr() != old.Addr.Addr() {
		if g := t.Group(p.Addr.Addr()); g != m.group {
			if g != GroupExempt && b.count(g) >= t.groupCap {
				// The new address puts the peer into a group that is full
				// here: drop the entry and let p compete as a newcomer.
				t.removeAt(i, j)
				res := t.insert(i, p, g, now)
				if res.Outcome != Added {
					t.promote(i)
				}
				return res
			}
			b.dec(m.group)
			b.inc(g)
			m.group = g
		}
	}
	m.fails = 0
	ps, ms := b.peers, b.meta
	copy(ps[j:], ps[j+1:])
	copy(ms[j:], ms[j+1:])
	ps[len(ps)-1], ms[len(ms)-1] = p, m
	t.markPeers(i)
	return SeenResult{Outcome: Updated}
}

// insert places the new peer p of group g into bucket i, its cache, or nowhere.
func (t *Table) insert(i int, p Peer, g Group, now int64) SeenResult {
	b := t.bucket(i)
	if g != GroupExempt && b.count(g) >= t.groupCap {
		for j, m := range b.meta {
			if m.group == g && m.fails > 0 {
				ev := b.peers[j]
				t.removeAt(i, j)
				t.appendEntry(i, p, g)
				return SeenResult{Outcome: Added, Displaced: &ev}
			}
		}
		return SeenResult{Outcome: Rejected, Reason: ReasonASNCap}
	}
	if len(b.peers) < t.cfg.K {
		t.appendEntry(i, p, g)
		return SeenResult{Outcome: Added}
	}
	res := SeenResult{Outcome: Cached, Reason: ReasonFull}
	switch {
	case t.cfg.ReplacementCache == 0:
		res = SeenResult{Outcome: Rejected, Reason: ReasonNoCache}
	case !t.addToCache(i, p, g):
		res = SeenResult{Outcome: Rejected, Reason: ReasonCacheFull}
	}
	if !b.pinging || now-b.pingSince >= int64(t.cfg.PingTimeout) {
		lrs := b.peers[0]
		b.pinging, b.pingID, b.pingSince = true, lrs.ID, now
		res.PingCandidate = &lrs
	}
	return res
}

// addToCache keeps p in bucket i's replacement cache, dropping the cached
// candidate that would raise entropy least (oldest first among equals)
// when the cache is full. It reports false when p itself is that candidate.
//
// Candidates are ranked by the count c of their group in the bucket: adding
// one entry changes S by (c+1)·log2(c+1) - c·log2(c), which grows with c, so
// for a fixed n the candidate with the smallest c raises H = log2(n) - S/n
// most. Exempt candidates count as c = 0.
func (t *Table) addToCache(i int, p Peer, g Group) bool {
	b := t.b[i]
	t.dirtyStats.set(i)
	if len(b.cache) < t.cfg.ReplacementCache {
		if b.cache == nil {
			b.cache = make([]cachedPeer, 0, t.cfg.ReplacementCache)
		}
		b.cache = append(b.cache, cachedPeer{p: p, group: g})
		return true
	}
	worst, ws, wt := -1, b.count(g), p.LastSeen
	for k := range b.cache {
		c := &b.cache[k]
		if s := b.count(c.group); s > ws || (s == ws && c.p.LastSeen < wt) {
			worst, ws, wt = k, s, c.p.LastSeen
		}
	}
	if worst < 0 {
		return false
	}
	b.cache[worst] = cachedPeer{p: p, group: g}
	return true
}

// appendEntry adds p (group g) as the most recently seen entry of bucket i.
func (t *Table) appendEntry(i int, p Peer, g Group) {
	t.insertAt(i, len(t.b[i].peers), p, g)
}

func (t *Table) insertAt(i, j int, p Peer, g Group) {
	b := t.b[i]
	if b.peers == nil {
		b.peers = make([]Peer, 0, t.cfg.K)
		b.meta = make([]entryMeta, 0, t.cfg.K)
		b.groups = make([]groupCount, 0, t.groupCap)
	}
	b.peers = slices.Insert(b.peers, j, p)
	b.meta = slices.Insert(b.meta, j, entryMeta{group: g})
	b.inc(g)
	t.n++
	t.nonEmpty.set(i)
	t.markPeers(i)
}

// removeAt deletes entry j of bucket i without refilling the slot.
func (t *Table) removeAt(i, j int) {
	b := t.b[i]
	if b.pinging && b.pingID == b.peers[j].ID {
		b.pinging = false
	}
	b.dec(b.meta[j].group)
	b.peers = slices.Delete(b.peers, j, j+1)
	b.meta = slices.Delete(b.meta, j, j+1)
	t.n--
	if len(b.peers) == 0 {
		t.nonEmpty.clear(i)
	}
	t.markPeers(i)
}

// promote moves the best eligible replacement of bucket i into the bucket,
// if it has room: the candidate whose group is rarest in the bucket (so it
// raises entropy most, see addToCache), the most recently seen among
// equals. Candidates whose group is at its cap are not eligible.
func (t *Table) promote(i int) *Peer {
	b := t.b[i]
	if len(b.peers) >= t.cfg.K {
		return nil
	}
	best, bs, bt := -1, 0, int64(0)
	for k := range b.cache {
		c := &b.cache[k]
		s := b.count(c.group)
		if c.group != GroupExempt && s >= t.groupCap {
			continue
		}
		if best < 0 || s < bs || (s == bs && c.p.LastSeen > bt) {
			best, bs, bt = k, s, c.p.LastSeen
		}
	}
	if best < 0 {
		return nil
	}
	c := b.cache[best]
	b.removeCached(best)
	// Keep the bucket ordered by recency: the candidate goes after every
	// entry seen no later than it.
	ps := b.peers
	j := len(ps)
	for j > 0 && ps[j-1].LastSeen > c.p.LastSeen {
		j--
	}
	t.insertAt(i, j, c.p, c.group)
	return &c.p
}

// PingResult reports the answer to a ping-before-evict probe of id: alive →
// the entry is refreshed and stays (the candidates stay in the cache); dead →
// the entry is evicted and the best replacement promoted. It returns what
// changed. Unknown IDs change nothing.
func (t *Table) PingResult(id ID, alive bool, now int64) (evicted bool, promoted *Peer) {
	i := CommonPrefixLen(t.self, id)
	if i >= NumBuckets {
		return false, nil
	}
	b := t.b[i]
	if b == nil {
		return false, nil
	}
	if b.pinging && b.pingID == id {
		b.pinging = false
	}
	j := t.indexOf(i, id)
	if j < 0 {
		return false, nil
	}
	if alive {
		p := b.peers[j]
		p.LastSeen = now
		t.update(i, j, p, now)
		return false, nil
	}
	t.removeAt(i, j)
	return true, t.promote(i)
}

// Failed records a failed RPC to id (timeout or transport error) at now.
// After Config.FailThreshold consecutive failures (any success in between
// resets the count) the entry is evicted and the best replacement promoted;
// Failed then returns true. A failed replacement candidate is dropped from
// the cache (and false returned).
func (t *Table) Failed(id ID, now int64) bool {
	_ = now // reserved: failures are counted, not timed
	i := CommonPrefixLen(t.self, id)
	if i >= NumBuckets {
		return false
	}
	b := t.b[i]
	j := t.indexOf(i, id)
	if j < 0 {
		if k := b.cacheIndex(id); k >= 0 {
			b.removeCached(k)
			t.dirtyStats.set(i)
		}
		return false
	}
	m := &b.meta[j]
	if m.fails < 255 {
		m.fails++
	}
	if int(m.fails) < t.cfg.FailThreshold {
		return false
	}
	t.removeAt(i, j)
	t.promote(i)
	return true
}

// Remove deletes id from the table (promoting the best replacement into the
// freed slot) or from its replacement cache. It reports whether id was found.
func (t *Table) Remove(id ID) bool {
	i := CommonPrefixLen(t.self, id)
	if i >= NumBuckets {
		return false
	}
	if j := t.indexOf(i, id); j >= 0 {
		t.removeAt(i, j)
		t.promote(i)
		return true
	}
	b := t.b[i]
	if k := b.cacheIndex(id); k >= 0 {
		b.removeCached(k)
		t.dirtyStats.set(i)
		return true
	}
	return false
}

// Find returns the bucket entry for id (replacement caches excluded).
func (t *Table) Find(id ID) (Peer, bool) {
	i := CommonPrefixLen(t.self, id)
	if i >= NumBuckets {
		return Peer{}, false
	}
	if j := t.indexOf(i, id); j >= 0 {
		return t.b[i].peers[j], true
	}
	return Peer{}, false
}

// Closest appends to dst the n peers closest to target by XOR distance,
// sorted ascending by distance, by partial selection (see the package
// documentation). It does not allocate when dst has room for n more peers.
func (t *Table) Closest(target ID, n int, dst []Peer) []Peer {
	return closest(t.peersOf, &t.nonEmpty, t.self, target, n, dst)
}
