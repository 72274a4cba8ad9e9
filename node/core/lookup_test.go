package core

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// newNetwork returns an oracle of n random live nodes.
func newNetwork(r *rand.Rand, n int) *network {
	nw := &network{down: map[kbucket.ID]bool{}}
	for range n {
		nw.ids = append(nw.ids, randID(r))
	}
	return nw
}

// seedFrom reports m nodes of nw to c's table.
func seedFrom(c *Core, nw *network, r *rand.Rand, m int) {
	for _, i := range r.Perm(len(nw.ids))[:m] {
		c.AddPeer(epoch, peerFor(nw.ids[i]))
	}
}

// lookupSends counts the outstanding FIND_NODE/FIND_VALUE probes (eviction
// pings excluded).
func lookupSends(h *harness) int {
	n := 0
	for _, a := range h.sends {
		if a.Req.Op == wire.OpFindNode || a.Req.Op == wire.OpFindValue {
			n++
		}
	}
	return n
}

func ids(ps []kbucket.Peer) []kbucket.ID {
	out := make([]kbucket.ID, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func onlyResult(t *testing.T, h *harness) *Result {
	t.Helper()
	if len(h.results) != 1 {
		t.Fatalf("%d results, want 1", len(h.results))
	}
	return h.results[0]
}

func TestFindNodeFindsClosest(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 20))
	nw := newNetwork(r, 600)
	for trial := range 10 {
		c := newTestCore(t, randID(r), nil)
		seedFrom(c, nw, r, 40)
		h := newHarness(t, c)
		target := randID(r)
		id, acts, err := c.FindNode(epoch, target)
		if err != nil {
			t.Fatal(err)
		}
		h.take(acts)
		if n := len(h.pending()); n != c.cfg.Alpha {
			t.Fatalf("%d probes in flight at start, want alpha = %d", n, c.cfg.Alpha)
		}
		for _, a := range h.pending() {
			if a.Req.Op != wire.OpFindNode || a.Req.Key != target || a.Req.Hedge {
				t.Fatalf("bad probe %+v", a.Req)
			}
		}
		h.runAll(nw)
		res := onlyResult(t, h)
		if res.ID != id || res.Op != wire.OpFindNode || res.Err != nil || res.Purpose != PurposeUser {
			t.Fatalf("trial %d: result %+v", trial, res)
		}
		if want := nw.closest(target, c.cfg.K, c.Self()); !slices.Equal(ids(res.Closest), want) {
			t.Fatalf("trial %d: closest differ from brute force", trial)
		}
		sent := 0
		for _, a := range h.log {
			if a.Req.Op == wire.OpFindNode {
				sent++
			}
		}
		if res.Hops < 1 || res.Hops > c.cfg.HopBudget || res.RPCs < c.cfg.K || res.RPCs != sent {
			t.Fatalf("trial %d: hops %d rpcs %d (sent %d)", trial, res.Hops, res.RPCs, sent)
		}
		if c.Running() != 0 || lookupSends(h) != 0 {
			t.Fatalf("after the lookup: %d running, %d lookup probes in flight", c.Running(), lookupSends(h))
		}
	}
}

// TestLookupKeepsAlphaInFlight: until the lookup converges, at most Alpha
// probes are in flight; in its final round, at most K.
func TestLookupKeepsAlphaInFlight(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 21))
	nw := newNetwork(r, 300)
	c := newTestCore(t, randID(r), nil)
	seedFrom(c, nw, r, 30)
	h := newHarness(t, c)
	_, acts, _ := c.FindNode(epoch, randID(r))
	h.take(acts)
	final, wide := false, false
	for steps := 0; len(h.sends) > 0; steps++ {
		a := h.pending()[0] // answer one at a time, oldest first
		if p := c.probes[a.Probe]; p != nil && p.op != nil {
			final = p.op.final
		}
		n := lookupSends(h)
		if n > c.cfg.Alpha && !final || n > c.cfg.K {
			t.Fatalf("step %d: %d probes in flight (final round %v), alpha %d, k %d", steps, n, final, c.cfg.Alpha, c.cfg.K)
		}
		wide = wide || n > c.cfg.Alpha
		h.answer(a.Probe, nw.respond(a, c.cfg.K))
	}
	if res := onlyResult(t, h); res.Err != nil {
		t.Fatal(res.Err)
	}
	if !wide {
		t.Fatal("the lookup never had more than alpha probes in flight: no final round")
	}
}

// TestLookupFinalRound: an answer that brings nothing closer than the
// closest candidate in play, once that candidate has answered, starts the
// final round: every unqueried member of the K closest is asked at once.
// A closer node learned in the final round is asked at once too, and the
// lookup still ends when the K closest candidates have all answered.
func TestLookupFinalRound(t *testing.T) {
	r := rand.New(rand.NewPCG(26, 26))
	c := newTestCore(t, randID(r), nil)
	k, alpha := c.cfg.K, c.cfg.Alpha
	nw := newNetwork(r, 0)
	for range 200 {
		id := randID(r)
		// Seen now: no ping-before-evict probes mix with the lookup's.
		if res := c.Table().Seen(peerFor(id), epoch.UnixNano()); res.Outcome == kbucket.Added {
			nw.ids = append(nw.ids, id)
		}
	}
	target := randID(r)
	order := nw.closest(target, len(nw.ids), c.Self())
	if len(order) < k+alpha {
		t.Fatalf("table holds %d peers, want at least %d", len(order), k+alpha)
	}
	// Two nodes not in the table, closer to the target than any table
	// entry: near1 closer than near2. The responders teach them on cue.
	near1, near2 := target, target
	near1[31] ^= 1
	near2[31] ^= 2
	teach := map[kbucket.ID][]kbucket.ID{}
	nw.know = func(responder, _ kbucket.ID, _ int) []kbucket.ID { return teach[responder] }

	h := newHarness(t, c)
	_, acts, err := c.FindNode(h.now, target)
	if err != nil {
		t.Fatal(err)
	}
	h.take(acts)
	sends := func() int {
		for _, a := range h.log {
			if a.Req.Op != wire.OpFindNode {
				t.Fatalf("a %s send among the lookup's", opName(a.Req.Op))
			}
		}
		if len(h.log) != len(h.asked()) {
			t.Fatal("a node was asked twice")
		}
		return len(h.log)
	}
	byPeer := func(id kbucket.ID) Action {
		t.Helper()
		for _, a := range h.pending() {
			if a.Peer.ID == id {
				return a
			}
		}
		t.Fatalf("no probe in flight to %s", id.Short())
		return Action{}
	}
	reply := func(id kbucket.ID) int {
		t.Helper()
		a := byPeer(id)
		before := sends()
		h.answer(a.Probe, nw.respond(a, k))
		return sends() - before
	}
	if got := sends(); got != alpha {
		t.Fatalf("%d probes at start, want alpha = %d", got, alpha)
	}
	// The third closest answers with nothing new while the closest is
	// still silent: not converged, one probe replaces it.
	if n := reply(order[2]); n != 1 {
		t.Fatalf("answer before the closest answered: %d new probes, want 1", n)
	}
	// The closest answers and teaches near2, closer than itself: still not
	// converged, near2 (the closest unqueried) takes the free slot.
	teach[order[0]] = []kbucket.ID{near2}
	if n := reply(order[0]); n != 1 || h.log[len(h.log)-1].Peer.ID != near2 {
		t.Fatalf("answer bringing a closer node: %d new probes, want 1 (to it)", n)
	}
	// near2, now the closest, answers with nothing closer than itself: the
	// lookup has converged and asks the rest of the K closest at once.
	// Asked so far: order[0..3] and near2; near2 and order[0], order[2]
	// have answered, order[1] and order[3] are in flight.
	nw.ids = append(nw.ids, near2)
	n := reply(near2)
	if want := k - 5; n != want {
		t.Fatalf("convergence: %d new probes at once, want %d (the unqueried rest of the K closest)", n, want)
	}
	top := append([]kbucket.ID{near2}, order[:k-1]...)
	for _, a := range h.pending() {
		if !slices.Contains(top, a.Peer.ID) || a.Req.Hedge {
			t.Fatalf("final round asked %s, not among the K closest (or as a hedge)", a.Peer.ID.Short())
		}
	}
	if got := lookupSends(h); got != k-3 {
		t.Fatalf("%d probes in flight in the final round, want %d", got, k-3)
	}
	// A final-round answer brings near1, closer than all: it is asked at
	// once, without waiting for a free alpha slot.
	teach[order[1]] = []kbucket.ID{near1}
	nw.ids = append(nw.ids, near1)
	if n := reply(order[1]); n != 1 || h.log[len(h.log)-1].Peer.ID != near1 {
		t.Fatalf("closer node in the final round: %d new probes, want 1 (to it)", n)
	}
	delete(teach, order[1])
	// Everyone answers: the lookup ends with the K closest of all it
	// learned, each asked once, and nothing farther was ever asked.
	h.runAll(nw)
	res := onlyResult(t, h)
	want := nw.closest(target, k, c.Self())
	if res.Err != nil || !slices.Equal(ids(res.Closest), want) {
		t.Fatalf("err %v, closest equal to the brute-force K closest: %v", res.Err, slices.Equal(ids(res.Closest), want))
	}
	asked := h.asked()
	sends()
	// order[k-2] was pushed out of the K closest by near1 after it was
	// asked in the final round: it is the one probe beyond the K.
	if res.RPCs != k+1 || len(asked) != k+1 || !slices.Contains(asked, order[k-2]) {
		t.Fatalf("rpcs %d, asked %d, want %d (the K closest and one displaced)", res.RPCs, len(asked), k+1)
	}
	for _, id := range asked {
		if !slices.Contains(want, id) && id != order[k-2] {
			t.Fatalf("asked %s, outside the K closest", id.Short())
		}
	}
	if res.Hops != 2 {
		t.Fatalf("hops %d, want 2 (near1 learned from a table peer)", res.Hops)
	}
}

// TestLookupTermination: when responders teach nothing new, the lookup asks
// exactly the K closest table entries and stops; the farther ones are never
// asked.
func TestLookupTermination(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 22))
	c := newTestCore(t, randID(r), nil)
	nw := newNetwork(r, 0)
	for range 200 {
		id := randID(r)
		if res := c.Table().Seen(peerFor(id), 0); res.Outcome == kbucket.Added {
			nw.ids = append(nw.ids, id)
		}
	}
	nw.know = func(kbucket.ID, kbucket.ID, int) []kbucket.ID { return nil }
	h := newHarness(t, c)
	target := randID(r)
	_, acts, _ := c.FindNode(epoch, target)
	h.take(acts)
	h.runAll(nw)
	res := onlyResult(t, h)
	want := nw.closest(target, c.cfg.K, c.Self())
	if res.Err != nil || res.RPCs != c.cfg.K || !slices.Equal(ids(res.Closest), want) || res.Hops != 1 {
		t.Fatalf("rpcs %d (want %d), hops %d, err %v, closest match %v", res.RPCs, c.cfg.K, res.Hops, res.Err,
			slices.Equal(ids(res.Closest), want))
	}
	asked := h.asked()
	slices.SortFunc(asked, func(a, b kbucket.ID) int { return kbucket.Xor(a, target).Cmp(kbucket.Xor(b, target)) })
	if !slices.Equal(asked, want) {
		t.Fatal("the lookup asked nodes outside the k closest")
	}
}

// TestLookupCancelsOutstandingOnFinish: once the K closest have answered,
// probes still in flight to farther candidates are cancelled.
func TestLookupCancelsOutstandingOnFinish(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 23))
	cfg := DefaultConfig()
	cfg.Alpha = 8
	c := newTestCore(t, randID(r), &cfg)
	nw := newNetwork(r, 1000)
	seedFrom(c, nw, r, 60)
	target := randID(r)
	// Only the 20 closest answer at once; everyone else teaches the 20
	// closest (so farther probes are still in flight at the end).
	top := nw.closest(target, cfg.K, c.Self())
	nw.know = func(kbucket.ID, kbucket.ID, int) []kbucket.ID { return top }
	h := newHarness(t, c)
	_, acts, _ := c.FindNode(epoch, target)
	h.take(acts)
	isTop := func(id kbucket.ID) bool { return slices.Contains(top, id) }
	for len(h.results) == 0 {
		answered := false
		for _, a := range h.pending() {
			if isTop(a.Peer.ID) {
				h.answer(a.Probe, nw.respond(a, cfg.K))
				answered = true
				break
			}
		}
		if !answered {
			// Answer the oldest non-top probe to make progress.
			a := h.pending()[0]
			h.answer(a.Probe, nw.respond(a, cfg.K))
		}
	}
	res := onlyResult(t, h)
	if !slices.Equal(ids(res.Closest), top) || res.Err != nil {
		t.Fatalf("closest differ or err %v", res.Err)
	}
	if lookupSends(h) != 0 {
		t.Fatalf("%d lookup probes left outstanding after finish", lookupSends(h))
	}
	if len(h.cancels) == 0 {
		t.Fatal("no probe was cancelled although some were in flight at the end")
	}
}

func TestLookupHedging(t *testing.T) {
	r := rand.New(rand.NewPCG(24, 24))
	nw := newNetwork(r, 400)
	c := newTestCore(t, randID(r), nil)
	seedFrom(c, nw, r, 40)
	h := newHarness(t, c)
	_, acts, _ := c.FindNode(epoch, randID(r))
	h.take(acts)
	primaries := h.pending()
	h.advance(c.cfg.HedgeAfter)
	h.fireDue()
	all := h.pending()
	if len(all) != 2*c.cfg.Alpha {
		t.Fatalf("%d probes after hedge_after, want %d", len(all), 2*c.cfg.Alpha)
	}
	hedges := all[c.cfg.Alpha:]
	for _, a := range hedges {
		if !a.Req.Hedge {
			t.Fatal("hedged probe without the HEDGE flag")
		}
	}
	if s := c.Stats(); s.HedgesSpawned != uint64(c.cfg.Alpha) {
		t.Fatalf("HedgesSpawned = %d", s.HedgesSpawned)
	}
	// The hedge of primary 0 answers first: primary 0 is cancelled.
	h.answer(hedges[0].Probe, nw.respond(hedges[0], c.cfg.K))
	if !h.cancels[primaries[0].Probe] {
		t.Fatal("the slow primary was not cancelled when its hedge answered")
	}
	// Primary 1 answers first: its hedge is cancelled.
	h.answer(primaries[1].Probe, nw.respond(primaries[1], c.cfg.K))
	if !h.cancels[hedges[1].Probe] {
		t.Fatal("the hedge was not cancelled when its primary answered")
	}
	if s := c.Stats(); s.HedgesCanceled != 2 {
		t.Fatalf("HedgesCanceled = %d, want 2", s.HedgesCanceled)
	}
	// A late answer to a cancelled probe changes nothing.
	before := len(h.order)
	h.take(c.HandleResponse(h.now, primaries[0].Probe, primaries[0].Peer.Addr, nw.respond(primaries[0], c.cfg.K)))
	if len(h.order) != before {
		t.Fatal("a late answer to a cancelled probe caused sends")
	}
	h.runAll(nw)
	res := onlyResult(t, h)
	if res.Err != nil || res.Hedges < c.cfg.Alpha || res.Canceled < 2 {
		t.Fatalf("result: err %v hedges %d canceled %d", res.Err, res.Hedges, res.Canceled)
	}
}

func TestLookupNoHedgeWithBetaZero(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 25))
	nw := newNetwork(r, 200)
	cfg := DefaultConfig()
	cfg.Beta = 0
	c := newTestCore(t, randID(r), &cfg)
	seedFrom(c, nw, r, 30)
	h := newHarness(t, c)
	_, acts, _ := c.FindNode(epoch, randID(r))
	h.take(acts)
	h.advance(cfg.HedgeAfter)
	h.fireDue()
	if n := len(h.pending()); n != cfg.Alpha || c.Stats().HedgesSpawned != 0 {
		t.Fatalf("beta=0 spawned hedges: %d in flight", n)
	}
}

func TestLookupTimeoutAndFailures(t *testing.T) {
	r := rand.New(rand.NewPCG(26, 26))
	nw := newNetwork(r, 400)
	c := newTestCore(t, randID(r), nil)
	target := randID(r)
	// The two closest nodes to target are down, and known to c.
	dead := nw.closest(target, 2, kbucket.ID{})
	for _, id := range dead {
		nw.down[id] = true
		c.AddPeer(epoch, peerFor(id))
	}
	seedFrom(c, nw, r, 30)
	for round := range 2 {
		h := newHarness(t, c)
		_, acts, _ := c.FindNode(h.now, target)
		h.take(acts)
		h.runAll(nw)
		res := onlyResult(t, h)
		if res.Err != nil || !slices.Equal(ids(res.Closest), nw.closest(target, c.cfg.K, c.Self())) {
			t.Fatalf("round %d: err %v, closest match %v", round, res.Err, slices.Equal(ids(res.Closest), nw.closest(target, c.cfg.K, c.Self())))
		}
		// Every probe to a dead node timed out and was cancelled (a dead
		// node may also be evicted early by a failed ping-before-evict).
		askedDead := 0
		for _, id := range dead {
			if slices.Contains(h.asked(), id) {
				askedDead++
				if !h.cancelledTo(id) {
					t.Fatalf("round %d: the probe to a dead node was not cancelled after its timeout", round)
				}
			}
		}
		if round == 0 && askedDead != 2 || res.Failures < askedDead {
			t.Fatalf("round %d: asked %d dead nodes, %d failures", round, askedDead, res.Failures)
		}
	}
	if s := c.Stats(); s.ProbesTimedOut < 3 {
		t.Fatalf("ProbesTimedOut = %d, want >= 3", s.ProbesTimedOut)
	}
	// Failures (FailThreshold consecutive ones, or a failed eviction ping)
	// evict the dead entries.
	for _, id := range dead {
		if _, ok := c.Table().Find(id); ok {
			t.Fatal("a node that failed twice is still in the table")
		}
	}
}

// chain builds IDs n_0..n_m at strictly decreasing distance to target, where
// n_i knows only n_{i+1}.
func chain(r *rand.Rand, target kbucket.ID, m int) *network {
	nw := newNetwork(r, 4*m+40)
	all := nw.closest(target, len(nw.ids), kbucket.ID{})
	// Take m+1 IDs spread over the distance order, farthest first.
	var ch []kbucket.ID
	for i := m; i >= 0; i-- {
		ch = append(ch, all[i*3])
	}
	nw.ids = ch
	nw.know = func(responder, _ kbucket.ID, _ int) []kbucket.ID {
		i := slices.Index(ch, responder)
		if i < 0 || i+1 >= len(ch) {
			return nil
		}
		return []kbucket.ID{ch[i+1]}
	}
	return nw
}

func TestHopCountAndBudget(t *testing.T) {
	for _, tc := range []struct {
		budget, length int
		err            error
		hops           int
	}{
		{5, 4, nil, 5},                 // n0..n4: depths 1..5
		{5, 5, wire.ErrHopExceeded, 5}, // n5 at depth 6 is never asked
		{3, 4, wire.ErrHopExceeded, 3}, // n3 at depth 4 is never asked
		{8, 6, nil, 7},                 // a longer budget reaches further
		{3, 1, nil, 2},                 // short chain
	} {
		r := rand.New(rand.NewPCG(27, uint64(tc.budget*10+tc.length)))
		target := randID(r)
		nw := chain(r, target, tc.length)
		cfg := DefaultConfig()
		cfg.HopBudget = tc.budget
		c := newTestCore(t, randID(r), &cfg)
		c.AddPeer(epoch, peerFor(nw.ids[0]))
		h := newHarness(t, c)
		_, acts, _ := c.FindNode(epoch, target)
		h.take(acts)
		h.runAll(nw)
		res := onlyResult(t, h)
		if !errors.Is(res.Err, tc.err) || (tc.err == nil && res.Err != nil) {
			t.Errorf("budget %d chain %d: err %v, want %v", tc.budget, tc.length, res.Err, tc.err)
		}
		if res.Hops != tc.hops || res.Hops > tc.budget {
			t.Errorf("budget %d chain %d: hops %d, want %d", tc.budget, tc.length, res.Hops, tc.hops)
		}
		if res.RPCs > tc.budget {
			t.Errorf("budget %d chain %d: %d rpcs beyond the budget", tc.budget, tc.length, res.RPCs)
		}
	}
}

func TestFindValueStopsEarly(t *testing.T) {
	r := rand.New(rand.NewPCG(28, 28))
	nw := newNetwork(r, 500)
	c := newTestCore(t, randID(r), nil)
	seedFrom(c, nw, r, 40)
	key := randID(r)
	holder := nw.closest(key, 5, kbucket.ID{})[4]
	pub := randID(r)
	rec := signedRecord(key, pub, epoch, time.Hour)
	bad := signedRecord(key, randID(r), epoch, time.Hour)
	bad.Sigs = nil
	h := newHarness(t, c)
	_, acts, _ := c.FindValue(epoch, key)
	h.take(acts)
	for rounds := 0; len(h.results) == 0; rounds++ {
		if rounds > 1000 {
			t.Fatal("no result")
		}
		a := h.pending()[0]
		if a.Req.Op != wire.OpFindValue {
			t.Fatalf("find value sent op %d", a.Req.Op)
		}
		resp := nw.respond(a, c.cfg.K)
		if a.Peer.ID == holder {
			resp.Closest = nil
			resp.Providers = []wire.ProviderRecord{*bad, *rec, *rec}
		}
		h.answer(a.Probe, resp)
	}
	res := onlyResult(t, h)
	if res.Err != nil || len(res.Providers) != 1 || res.Providers[0].Publisher != pub {
		t.Fatalf("result: err %v, %d providers", res.Err, len(res.Providers))
	}
	if res.Hops < 1 || lookupSends(h) != 0 {
		t.Fatalf("hops %d, %d lookup probes outstanding", res.Hops, lookupSends(h))
	}
}

func TestFindValueNotFound(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 29))
	nw := newNetwork(r, 300)
	c := newTestCore(t, randID(r), nil)
	seedFrom(c, nw, r, 30)
	h := newHarness(t, c)
	_, acts, _ := c.FindValue(epoch, randID(r))
	h.take(acts)
	h.runAll(nw)
	if res := onlyResult(t, h); !errors.Is(res.Err, wire.ErrNotFound) || len(res.Closest) != c.cfg.K {
		t.Fatalf("err %v, %d closest", res.Err, len(res.Closest))
	}
}

func TestFindValueLocal(t *testing.T) {
	r := rand.New(rand.NewPCG(30, 30))
	c := newTestCore(t, randID(r), nil)
	key := randID(r)
	provide(c, epoch, signedRecord(key, randID(r), epoch, time.Hour))
	h := newHarness(t, c)
	id, acts, _ := c.FindValue(epoch, key)
	h.take(acts)
	res := onlyResult(t, h)
	if res.ID != id || id == 0 || res.Err != nil || len(res.Providers) != 1 || res.Hops != 0 || res.RPCs != 0 {
		t.Fatalf("local find value: %+v", res)
	}
}

func TestProvide(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 31))
	nw := newNetwork(r, 500)
	c := newTestCore(t, randID(r), nil)
	seedFrom(c, nw, r, 40)
	h := newHarness(t, c)
	key := randID(r)
	addrs := []string{"quic://203.0.113.9:4433"}
	_, acts, err := c.Provide(epoch, key, addrs)
	if err != nil {
		t.Fatal(err)
	}
	h.take(acts)
	var stored []kbucket.ID
	for rounds := 0; len(h.sends) > 0; rounds++ {
		if rounds > 1000 {
			t.Fatal("provide does not finish")
		}
		a := h.pending()[0]
		if a.Req.Op == wire.OpProvide {
			rec := a.Req.Record
			if rec == nil || rec.Key != key || rec.Publisher != c.Self() || rec.TS != epoch.Unix() ||
				rec.TTL != uint32(c.cfg.ProviderTTL/time.Second) || !slices.Equal(rec.Addrs, addrs) {
				t.Fatalf("bad record sent: %+v", rec)
			}
			stored = append(stored, a.Peer.ID)
		}
		h.answer(a.Probe, nw.respond(a, c.cfg.K))
	}
	res := onlyResult(t, h)
	want := nw.closest(key, c.cfg.K, c.Self())
	slices.SortFunc(stored, func(a, b kbucket.ID) int { return kbucket.Xor(a, key).Cmp(kbucket.Xor(b, key)) })
	if res.Err != nil || res.Replicas != c.cfg.K || !slices.Equal(stored, want) || res.Op != wire.OpProvide {
		t.Fatalf("provide: err %v replicas %d, stored on the k closest: %v", res.Err, res.Replicas, slices.Equal(stored, want))
	}
}

func TestProvideCountsRefusals(t *testing.T) {
	r := rand.New(rand.NewPCG(32, 32))
	nw := newNetwork(r, 300)
	c := newTestCore(t, randID(r), nil)
	seedFrom(c, nw, r, 30)
	h := newHarness(t, c)
	_, acts, _ := c.Provide(epoch, randID(r), nil)
	h.take(acts)
	refused := 0
	for len(h.sends) > 0 {
		a := h.pending()[0]
		resp := nw.respond(a, c.cfg.K)
		if a.Req.Op == wire.OpProvide && refused < 3 {
			refused++
			resp.Accepted, resp.Code = false, wire.CodeQuotaExceeded
		}
		h.answer(a.Probe, resp)
	}
	if res := onlyResult(t, h); res.Replicas != c.cfg.K-3 || res.Err != nil {
		t.Fatalf("replicas %d, err %v", res.Replicas, res.Err)
	}
}

func TestRepublish(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 33))
	nw := newNetwork(r, 300)
	cfg := DefaultConfig()
	cfg.ProviderRefresh, cfg.ProviderTTL = time.Hour, 2*time.Hour
	c := newTestCore(t, randID(r), &cfg)
	seedFrom(c, nw, r, 30)
	h := newHarness(t, c)
	key := randID(r)
	_, acts, _ := c.Provide(epoch, key, nil)
	h.take(acts)
	h.runAll(nw)
	if res := onlyResult(t, h); res.Err != nil {
		t.Fatal(res.Err)
	}
	h.results = nil
	h.now = epoch.Add(time.Hour)
	h.fireDue()
	if len(h.sends) == 0 {
		t.Fatal("nothing sent at the republish deadline")
	}
	var ts []int64
	for len(h.sends) > 0 {
		a := h.pending()[0]
		if a.Req.Op == wire.OpProvide {
			ts = append(ts, a.Req.Record.TS)
		}
		h.answer(a.Probe, nw.respond(a, cfg.K))
	}
	res := onlyResult(t, h)
	if res.Purpose != PurposeRepublish || res.Replicas != cfg.K || len(ts) != cfg.K || ts[0] != h.now.Unix() {
		t.Fatalf("republish: purpose %d replicas %d, ts %v", res.Purpose, res.Replicas, ts)
	}
	if c.Stats().Republished != 1 {
		t.Fatalf("Republished = %d", c.Stats().Republished)
	}
	// After StopProviding nothing is republished.
	c.StopProviding(key)
	h.results = nil
	h.now = h.now.Add(2 * time.Hour)
	h.fireDue()
	if len(h.sends) != 0 {
		t.Fatal("republished after StopProviding")
	}
}

func TestPingBeforeEvict(t *testing.T) {
	for _, outcome := range []string{"alive", "dead", "timeout"} {
		r := rand.New(rand.NewPCG(34, 34))
		self := randID(r)
		c := newTestCore(t, self, nil)
		h := newHarness(t, c)
		// K+1 peers of bucket 0 (first bit differs from self).
		var b0 []kbucket.Peer
		for len(b0) < c.cfg.K+1 {
			id := randID(r)
			if kbucket.CommonPrefixLen(self, id) == 0 {
				b0 = append(b0, peerFor(id))
			}
		}
		for i, p := range b0[:c.cfg.K] {
			h.take(c.AddPeer(epoch.Add(time.Duration(i)*time.Second), p))
		}
		if len(h.sends) != 0 {
			t.Fatal("ping before the bucket is full")
		}
		h.now = epoch.Add(time.Minute)
		var resp Response
		h.take(c.HandleRequest(h.now, b0[c.cfg.K], &Request{Op: wire.OpPing}, &resp))
		ps := h.pending()
		if len(ps) != 1 || ps[0].Req.Op != wire.OpPing || ps[0].Peer.ID != b0[0].ID {
			t.Fatalf("%s: want one PING to the least-recently-seen entry, got %+v", outcome, ps)
		}
		// A second newcomer does not ping the same entry again.
		h.take(c.AddPeer(h.now, peerFor(func() kbucket.ID {
			for {
				if id := randID(r); kbucket.CommonPrefixLen(self, id) == 0 {
					return id
				}
			}
		}())))
		if len(h.pending()) != 1 {
			t.Fatalf("%s: duplicate eviction ping", outcome)
		}
		switch outcome {
		case "alive":
			h.answer(ps[0].Probe, &Response{Op: wire.OpPing, Code: wire.CodeOK})
		case "dead":
			h.fail(ps[0].Probe)
		case "timeout":
			h.advance(c.cfg.RPCTimeout)
			h.fireDue()
			if !h.cancels[ps[0].Probe] {
				t.Fatal("timed-out ping not cancelled")
			}
		}
		_, lrsIn := c.Table().Find(b0[0].ID)
		_, newIn := c.Table().Find(b0[c.cfg.K].ID)
		if outcome == "alive" && (!lrsIn || newIn) {
			t.Fatalf("alive: lrs in table %v, newcomer in table %v", lrsIn, newIn)
		}
		if outcome != "alive" && (lrsIn || c.Stats().RouteEvicted != 1) {
			t.Fatalf("%s: lrs still in table %v, evicted %d", outcome, lrsIn, c.Stats().RouteEvicted)
		}
		if outcome != "alive" && c.Table().Len() != c.cfg.K {
			t.Fatalf("%s: bucket not refilled from the replacement cache: %d entries", outcome, c.Table().Len())
		}
	}
}

func TestBootstrapAndRefresh(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 35))
	nw := newNetwork(r, 2000)
	c := newTestCore(t, randID(r), nil)
	h := newHarness(t, c)
	h.take(c.Start(epoch))
	seeds := []kbucket.Peer{peerFor(nw.ids[0]), peerFor(nw.ids[1]), peerFor(nw.ids[2])}
	_, acts, err := c.Bootstrap(epoch, seeds)
	if err != nil {
		t.Fatal(err)
	}
	h.take(acts)
	for _, a := range h.pending() {
		if !slices.ContainsFunc(seeds, func(p kbucket.Peer) bool { return p.ID == a.Peer.ID }) {
			t.Fatal("bootstrap asked a non-seed first")
		}
	}
	h.runAll(nw)
	var boot, refresh int
	for _, res := range h.results {
		switch res.Purpose {
		case PurposeBootstrap:
			boot++
			if res.Target != c.Self() || res.Err != nil {
				t.Fatalf("bootstrap result %+v", res)
			}
		case PurposeRefresh:
			refresh++
		}
	}
	pop := kbucket.PopulatableBuckets(c.Table().EstimateNetworkSize())
	if boot != 1 || refresh < pop-1 || c.Table().Len() < 100 {
		t.Fatalf("bootstrap %d, refresh lookups %d (populatable %d), table %d", boot, refresh, pop, c.Table().Len())
	}
	if fill := c.Table().BucketFillPct(len(nw.ids)); fill < 0.9 {
		t.Fatalf("bucket fill %.2f after bootstrap", fill)
	}
	// The refresh checks (the first one comes an interval after Start,
	// plus a phase of less than a check period) refresh buckets unused for
	// the interval.
	h.results = nil
	h.now = epoch.Add(c.cfg.BucketRefreshInterval + c.cfg.BucketRefreshInterval/refreshChecks)
	h.fireDue()
	if len(h.sends) == 0 {
		t.Fatal("no refresh after bucket_refresh_interval")
	}
	h.runAll(nw)
	for _, res := range h.results {
		if res.Purpose != PurposeRefresh {
			t.Fatalf("unexpected result purpose %d", res.Purpose)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(36, 36))
	// No peers at all.
	c := newTestCore(t, randID(r), nil)
	h := newHarness(t, c)
	id, acts, _ := c.FindNode(epoch, randID(r))
	h.take(acts)
	if res := onlyResult(t, h); !errors.Is(res.Err, wire.ErrNoBootstrap) || res.ID != id || id == 0 {
		t.Fatalf("empty table: %v", res.Err)
	}
	// Every peer down.
	nw := newNetwork(r, 50)
	for _, id := range nw.ids {
		nw.down[id] = true
	}
	c = newTestCore(t, randID(r), nil)
	seedFrom(c, nw, r, 10)
	h = newHarness(t, c)
	_, acts, _ = c.FindNode(epoch, randID(r))
	h.take(acts)
	h.runAll(nw)
	if res := onlyResult(t, h); !errors.Is(res.Err, wire.ErrTimeout) || res.Failures != 10 {
		t.Fatalf("all down: %v, %d failures", res.Err, res.Failures)
	}
	// The lookup cap.
	cfg := DefaultConfig()
	cfg.MaxLookups = 1
	c = newTestCore(t, randID(r), &cfg)
	seedFrom(c, newNetwork(r, 20), r, 5)
	if _, _, err := c.FindNode(epoch, randID(r)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.FindNode(epoch, randID(r)); !errors.Is(err, wire.ErrQuotaExceeded) {
		t.Fatalf("over max_lookups: %v", err)
	}
	// No signer: Provide fails cleanly.
	c, _ = New(randID(r), DefaultConfig(), Deps{Rand: rand.New(rand.NewPCG(1, 1)), Verifier: testVerifier{}})
	if _, _, err := c.Provide(epoch, randID(r), nil); err == nil {
		t.Fatal("provide without a signer succeeded")
	}
}

func TestWrongOpAnswerIsFailure(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 37))
	nw := newNetwork(r, 100)
	c := newTestCore(t, randID(r), nil)
	seedFrom(c, nw, r, 10)
	h := newHarness(t, c)
	_, acts, _ := c.FindNode(epoch, randID(r))
	h.take(acts)
	a := h.pending()[0]
	h.answer(a.Probe, &Response{Op: wire.OpPing, Code: wire.CodeOK})
	h.runAll(nw)
	if res := onlyResult(t, h); res.Failures != 1 || res.Err != nil {
		t.Fatalf("failures %d err %v", res.Failures, res.Err)
	}
}

// TestHostileRespondersBounded: responders that always return K fresh
// non-existent IDs closer than anything cannot make a lookup run forever
// or exceed the hop budget.
func TestHostileRespondersBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(38, 38))
	nw := newNetwork(r, 200)
	c := newTestCore(t, randID(r), nil)
	seedFrom(c, nw, r, 30)
	target := randID(r)
	fake := rand.New(rand.NewPCG(99, 99))
	nw.know = func(_, tgt kbucket.ID, k int) []kbucket.ID {
		out := make([]kbucket.ID, k)
		for i := range out {
			id := randID(fake)
			copy(id[:8], tgt[:8]) // very close to the target
			out[i] = id
			nw.down[id] = true
		}
		return out
	}
	h := newHarness(t, c)
	_, acts, _ := c.FindNode(epoch, target)
	h.take(acts)
	h.runAll(nw)
	res := onlyResult(t, h)
	if res.RPCs > c.cfg.LookupMaxRPCs || res.Hops > c.cfg.HopBudget {
		t.Fatalf("rpcs %d hops %d", res.RPCs, res.Hops)
	}
}

func TestPing(t *testing.T) {
	r := rand.New(rand.NewPCG(39, 39))
	c := newTestCore(t, randID(r), nil)
	h := newHarness(t, c)
	p := peerFor(randID(r))
	_, acts, _ := c.Ping(epoch, p)
	h.take(acts)
	a := h.pending()[0]
	h.answer(a.Probe, &Response{Op: wire.OpPing, Code: wire.CodeOK, Self: wire.NodeInfo{ID: p.ID}})
	if res := onlyResult(t, h); res.Err != nil || len(res.Closest) != 1 || res.Closest[0].ID != p.ID {
		t.Fatalf("ping: %+v", res)
	}
	if _, ok := c.Table().Find(p.ID); !ok {
		t.Fatal("a pinged peer that answered is not in the table")
	}
	h.results = nil
	_, acts, _ = c.Ping(h.now, peerFor(randID(r)))
	h.take(acts)
	h.advance(c.cfg.RPCTimeout)
	h.fireDue()
	if res := onlyResult(t, h); !errors.Is(res.Err, wire.ErrTimeout) {
		t.Fatalf("ping timeout: %v", res.Err)
	}
}

func TestEvictPingSkippedForFreshEntry(t *testing.T) {
	r := rand.New(rand.NewPCG(40, 40))
	self := randID(r)
	c := newTestCore(t, self, nil)
	h := newHarness(t, c)
	n := 0
	for n <= c.cfg.K {
		id := randID(r)
		if kbucket.CommonPrefixLen(self, id) != 0 {
			continue
		}
		h.take(c.AddPeer(epoch.Add(time.Duration(n)*time.Second), peerFor(id)))
		n++
	}
	// The newcomer came 20 s after the least-recently-seen entry was last
	// heard from: under EvictPingMinAge (1 min), so no ping.
	if len(h.sends) != 0 || c.Stats().EvictSkipped != 1 || c.Stats().EvictPings != 0 {
		t.Fatalf("sends %d, stats %+v", len(h.sends), c.Stats())
	}
}
