package core

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// refreshRun joins a core (its Rand seeded with seed) to a 1,000-node
// network: it starts at epoch and bootstraps through three seeds, which
// refreshes every populatable bucket once. Then it runs the core until
// epoch+2·BucketRefreshInterval+1s, answering every probe from the
// network. With traffic, a peer of bucket 0 (full after the join) and one
// of the deepest bucket with room (its index is returned) each send a
// FIND_NODE every second. It returns the harness, with the results of the
// refresh lookups after the join, in order, and the sends after the join
// in h.log.
func refreshRun(t *testing.T, seed uint64, traffic bool) (h *harness, refreshes []*Result, deep int) {
	t.Helper()
	r := rand.New(rand.NewPCG(50, 50))
	nw := newNetwork(r, 1000)
	c, err := New(randID(r), DefaultConfig(), Deps{Rand: rand.New(rand.NewPCG(seed, seed)), Verifier: testVerifier{}})
	if err != nil {
		t.Fatal(err)
	}
	h = newHarness(t, c)
	h.take(c.Start(epoch))
	_, acts, err := c.Bootstrap(epoch, []kbucket.Peer{peerFor(nw.ids[0]), peerFor(nw.ids[1]), peerFor(nw.ids[2])})
	if err != nil {
		t.Fatal(err)
	}
	h.take(acts)
	h.runAll(nw)
	// The size estimate may still grow with the join's refreshes, and with
	// it the populatable buckets.
	pop := kbucket.PopulatableBuckets(c.NetworkSizeEstimate())
	joinRefreshes := c.Stats().Refreshes
	if joinRefreshes < uint64(pop-1) || pop < 8 {
		t.Fatalf("join refreshed %d buckets, want all %d populatable", joinRefreshes, pop)
	}
	h.results, h.log = nil, nil
	var bucket0 []kbucket.Peer
	var deepPeer kbucket.Peer
	for _, p := range c.Table().Snapshot().Peers(nil) {
		switch b := c.Table().BucketOf(p.ID); {
		case b == 0:
			bucket0 = append(bucket0, p)
		case b < pop && b > deep && c.Table().BucketLen(b) < c.cfg.K:
			deep, deepPeer = b, p
		}
	}
	if len(bucket0) < c.cfg.K || deep == 0 {
		t.Fatalf("after the join bucket 0 holds %d peers, want it full; deepest bucket with room %d", len(bucket0), deep)
	}
	end := epoch.Add(2*c.cfg.BucketRefreshInterval + time.Second)
	var resp Response
	for step := 0; h.now.Before(end); step++ {
		h.advance(250 * time.Millisecond)
		if traffic && step%4 == 0 {
			for _, from := range []kbucket.Peer{bucket0[step/4%len(bucket0)], deepPeer} {
				req := Request{Op: wire.OpFindNode, Key: randID(r)}
				h.take(c.HandleRequest(h.now, from, &req, &resp))
			}
		}
		h.fireDue()
		h.runAll(nw)
	}
	for _, res := range h.results {
		if res.Purpose == PurposeRefresh {
			refreshes = append(refreshes, res)
		}
	}
	if n := c.Stats().Refreshes - joinRefreshes; n != uint64(len(refreshes)) {
		t.Fatalf("%d refreshes counted, %d results", n, len(refreshes))
	}
	return h, refreshes, deep
}

// refreshedBuckets returns the buckets the refresh lookups of rs targeted.
func refreshedBuckets(c *Core, rs []*Result) []int {
	var out []int
	for _, res := range rs {
		if b := c.Table().BucketOf(res.Target); !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// pingedBuckets returns the buckets of the peers h's core sent a PING to
// (after the join, in a refreshRun).
func pingedBuckets(h *harness) []int {
	var out []int
	for _, a := range h.log {
		if b := h.c.Table().BucketOf(a.Peer.ID); a.Req.Op == wire.OpPing && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// TestRefreshSkipsLiveBuckets: a full bucket whose peers keep exchanging
// with the node counts as used: it is neither refreshed nor are its
// entries pinged. A bucket with room is refreshed all the same.
func TestRefreshSkipsLiveBuckets(t *testing.T) {
	h, busy, deep := refreshRun(t, 1, true)
	c := h.c
	got := refreshedBuckets(c, busy)
	if slices.Contains(got, 0) || slices.Contains(pingedBuckets(h), 0) {
		t.Errorf("bucket 0 refreshed or pinged although its peers exchange with the node every second (refreshed %v, pinged %v)",
			got, pingedBuckets(h))
	}
	if !slices.Contains(got, deep) {
		t.Errorf("bucket %d, which has room, not refreshed (refreshed %v): exchanges count only for full buckets", deep, got)
	}
	if lu := c.Table().Bucket(0).LastUsed; lu < epoch.Add(2*c.cfg.BucketRefreshInterval).UnixNano() {
		t.Errorf("bucket 0 last used at %v, want within the last second", time.Unix(0, lu).Sub(epoch))
	}
}

// TestRefreshSpread: the buckets a join refreshed all go stale together an
// interval later; they are refreshed over the following interval, at most
// ceil(P/8) per check (P populatable buckets), and every one is used again
// within an interval of going stale.
func TestRefreshSpread(t *testing.T) {
	h, rs, _ := refreshRun(t, 1, false)
	c := h.c
	interval := c.cfg.BucketRefreshInterval
	pop := kbucket.PopulatableBuckets(c.NetworkSizeEstimate())
	limit := (pop + refreshChecks - 1) / refreshChecks
	perCheck := map[time.Time]int{}
	for _, res := range rs {
		if res.Started.Before(epoch.Add(interval)) {
			t.Fatalf("refresh at %v, before any bucket was stale", res.Started.Sub(epoch))
		}
		perCheck[res.Started]++
	}
	for at, n := range perCheck {
		if n > limit {
			t.Errorf("%d refreshes at %v, want at most %d per check", n, at.Sub(epoch), limit)
		}
	}
	if len(rs) < pop/2 || len(perCheck) < 2 {
		t.Errorf("%d refreshes (%d populatable buckets) at %d distinct times, want at least %d, spread over several checks",
			len(rs), pop, len(perCheck), pop/2)
	}
	t.Logf("%d populatable buckets, %d refreshed at most %d per check, at %d checks", pop, len(rs), limit, len(perCheck))
	// Every populatable bucket was used (refreshed, or touched by an
	// exchange) within an interval after going stale at epoch+interval.
	snap := c.Table().Snapshot().Buckets()
	for b := range pop {
		if lu := time.Unix(0, snap[b].LastUsed); lu.Before(epoch.Add(interval)) {
			t.Errorf("bucket %d last used at %v", b, lu.Sub(epoch))
		}
	}
}

// TestRefreshStalestFirst: a check refreshes the stalest buckets first.
func TestRefreshStalestFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 51))
	c := newTestCore(t, randID(r), nil)
	fillTable(t, c, r, 2000)
	h := newHarness(t, c)
	h.take(c.Start(epoch))
	pop := kbucket.PopulatableBuckets(c.NetworkSizeEstimate())
	limit := (pop + refreshChecks - 1) / refreshChecks
	if pop < 8 || limit < 2 {
		t.Fatalf("%d populatable buckets, %d per check", pop, limit)
	}
	// Bucket b was last used ages[b] seconds before epoch.
	ages := r.Perm(pop)
	for b, age := range ages {
		c.Table().Touch(b, epoch.Add(-time.Duration(age+1)*time.Second).UnixNano())
	}
	h.now = h.timers[len(h.timers)-1].Deadline // the first refresh check
	h.fireDue()
	var got []int
	for _, a := range h.pending() {
		if b := c.Table().BucketOf(a.Req.Key); a.Req.Op == wire.OpFindNode && !slices.Contains(got, b) {
			got = append(got, b)
		}
	}
	var want []int
	for age := pop - 1; age >= pop-limit; age-- {
		want = append(want, slices.Index(ages, age))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("refreshed buckets %v, want the %d stalest %v (ages %v)", got, limit, want, ages)
	}
}

// TestRefreshDeterministicPhase: the first refresh check comes one
// interval after Start plus a phase of less than a check period, drawn
// from the core's Rand: the same seed gives the same phase and the same
// refreshes, different seeds spread the phases.
func TestRefreshDeterministicPhase(t *testing.T) {
	cfg := DefaultConfig()
	period := cfg.BucketRefreshInterval / refreshChecks
	phase := func(seed uint64) time.Time {
		c, err := New(kbucket.ID{1}, cfg, Deps{Rand: rand.New(rand.NewPCG(seed, seed)), Verifier: testVerifier{}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range c.Start(epoch) {
			if a.Kind == ActArmTimer && a.Timer == timerRefresh {
				return a.Deadline
			}
		}
		t.Fatal("Start armed no refresh check")
		return time.Time{}
	}
	seen := map[time.Time]bool{}
	for seed := range uint64(16) {
		at := phase(seed)
		if from := epoch.Add(cfg.BucketRefreshInterval); at.Before(from) || !at.Before(from.Add(period)) {
			t.Fatalf("seed %d: first check at +%v, want within [%v, %v)", seed, at.Sub(epoch), cfg.BucketRefreshInterval, cfg.BucketRefreshInterval+period)
		}
		if again := phase(seed); !again.Equal(at) {
			t.Fatalf("seed %d: first check at +%v, then +%v", seed, at.Sub(epoch), again.Sub(epoch))
		}
		seen[at] = true
	}
	if len(seen) < 12 {
		t.Errorf("16 seeds gave only %d distinct phases", len(seen))
	}

	_, a, _ := refreshRun(t, 3, false)
	_, b, _ := refreshRun(t, 3, false)
	key := func(rs []*Result) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Started.Sub(epoch).String()+" "+r.Target.Short())
		}
		return out
	}
	if len(a) == 0 || !slices.Equal(key(a), key(b)) {
		t.Fatalf("same seed, different refreshes:\n%v\n%v", key(a), key(b))
	}
}

// TestCheckSilent: at a refresh check, the least-recently-seen entries of
// full buckets silent for an interval are pinged (at most ceil(P/8) per
// check, stalest first): an answer refreshes the entry, FailThreshold
// failed checks evict it.
func TestCheckSilent(t *testing.T) {
	r := rand.New(rand.NewPCG(52, 52))
	c := newTestCore(t, randID(r), nil)
	fillTable(t, c, r, 2000) // every entry seen at epoch
	h := newHarness(t, c)
	h.take(c.Start(epoch))
	lrs := func(b int) kbucket.ID {
		p, ok := c.Table().LeastRecentlySeen(b)
		if !ok {
			t.Fatalf("bucket %d empty", b)
		}
		return p.ID
	}
	if c.Table().BucketLen(0) != c.cfg.K || c.Table().BucketLen(1) != c.cfg.K {
		t.Fatal("buckets 0 and 1 not full")
	}
	alive, dead := lrs(0), lrs(1)
	pings := func() map[kbucket.ID]ProbeID {
		out := map[kbucket.ID]ProbeID{}
		for _, a := range h.pending() {
			if a.Req.Op == wire.OpPing {
				out[a.Peer.ID] = a.Probe
			}
		}
		return out
	}
	check := func() map[kbucket.ID]ProbeID {
		h.now = h.timers[len(h.timers)-1].Deadline
		if h.timers[len(h.timers)-1].Timer != timerRefresh {
			t.Fatal("the last armed timer is not the refresh check")
		}
		h.fireDue()
		return pings()
	}
	// First check: every entry has been silent for an interval; ties go
	// to the lower bucket.
	first := check()
	if len(first) != 2 || first[alive] == 0 || first[dead] == 0 || c.Stats().SilentChecks != 2 {
		t.Fatalf("first check pinged %d entries (%d counted), want the 2 of buckets 0 and 1", len(first), c.Stats().SilentChecks)
	}
	h.answer(first[alive], &Response{Op: wire.OpPing, Code: wire.CodeOK})
	h.fail(first[dead])
	if p, _ := c.Table().LeastRecentlySeen(0); p.ID == alive {
		t.Fatal("answered entry still the least recently seen of bucket 0")
	}
	if lrs(1) != dead {
		t.Fatal("entry evicted after one failed check (FailThreshold 2)")
	}
	second := check()
	if _, ok := second[alive]; ok {
		t.Fatal("answered entry pinged again within the interval")
	}
	id, ok := second[dead]
	if !ok {
		t.Fatal("failed entry not checked again")
	}
	evicted := c.Stats().RouteEvicted
	h.fail(id)
	inTable := slices.ContainsFunc(c.Table().Snapshot().Peers(nil), func(p kbucket.Peer) bool { return p.ID == dead })
	if inTable || c.Stats().RouteEvicted != evicted+1 {
		t.Fatal("entry not evicted after FailThreshold failed checks")
	}
}
