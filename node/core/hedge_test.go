package core

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// TestLookupHedgePastSlowTopK: when every one of the K closest candidates
// has been asked and only a slow one is still silent, its hedge goes to the
// next candidate beyond the K (which the slow one's hedge stands in for),
// and the lookup ends when that hedge answers — after HedgeAfter plus the
// hedge's round trip, not after RPCTimeout.
func TestLookupHedgePastSlowTopK(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 31))
	c := newTestCore(t, randID(r), nil)
	k := c.cfg.K
	// A network of K+5 nodes, all in c's table (the lookup starts from the
	// K closest of them and learns the others from the answers).
	nw := &network{down: map[kbucket.ID]bool{}}
	for range k + 5 {
		id := randID(r)
		nw.ids = append(nw.ids, id)
		c.AddPeer(epoch, peerFor(id))
	}
	if c.Table().Len() != k+5 {
		t.Fatalf("table holds %d of %d peers", c.Table().Len(), k+5)
	}
	target := randID(r)
	order := nw.closest(target, k+5, kbucket.ID{})
	slow := order[0]

	h := newHarness(t, c)
	_, acts, err := c.FindNode(h.now, target)
	if err != nil {
		t.Fatal(err)
	}
	h.take(acts)
	// Everyone but the closest answers at once.
	for progressed := true; progressed; {
		progressed = false
		for _, a := range h.pending() {
			if a.Peer.ID != slow {
				h.answer(a.Probe, nw.respond(a, k))
				progressed = true
			}
		}
	}
	if p := h.pending(); len(p) != 1 || p[0].Peer.ID != slow || len(h.results) != 0 {
		t.Fatalf("before hedge_after: %d probes pending, %d results; want the slow one only", len(p), len(h.results))
	}
	if got := h.asked(); len(got) != k || !slices.Contains(got, slow) {
		t.Fatalf("asked %d nodes before hedge_after, want the %d closest", len(got), k)
	}

	h.advance(c.cfg.HedgeAfter)
	h.fireDue()
	p := h.pending()
	if len(p) != 2 || !p[1].Req.Hedge || p[1].Peer.ID != order[k] {
		t.Fatalf("after hedge_after: %d probes pending; want the slow one and a hedge to the (K+1)-th closest", len(p))
	}
	h.advance(c.cfg.HedgeAfter / 5)
	h.answer(p[1].Probe, nw.respond(p[1], k))
	if !h.cancels[p[0].Probe] {
		t.Fatal("the slow probe was not cancelled when its hedge answered")
	}
	res := onlyResult(t, h)
	if want := order[1 : k+1]; res.Err != nil || !slices.Equal(ids(res.Closest), want) {
		t.Fatalf("result err %v, closest equal to the responsive K closest: %v", res.Err, slices.Equal(ids(res.Closest), want))
	}
	if res.Hedges != 1 || res.Canceled != 1 || res.Failures != 0 || res.RPCs != k+1 {
		t.Fatalf("result: hedges %d canceled %d failures %d rpcs %d", res.Hedges, res.Canceled, res.Failures, res.RPCs)
	}
	if lat := res.Latency(); lat >= c.cfg.RPCTimeout {
		t.Fatalf("lookup took %v, at least the rpc timeout %v", lat, c.cfg.RPCTimeout)
	}
}

// TestLookupSupersededSlowProbe: when a probe among the K closest has been
// silent for HedgeAfter and every candidate its hedge could go to has been
// asked already (a closer node learned in the final round displaced an
// answered one), the lookup does not wait RPCTimeout for it: it ends as
// soon as a full K of other candidates have answered, with those as its
// result.
func TestLookupSupersededSlowProbe(t *testing.T) {
	r := rand.New(rand.NewPCG(32, 32))
	c := newTestCore(t, randID(r), nil)
	k := c.cfg.K
	nw := &network{down: map[kbucket.ID]bool{}}
	for range 200 {
		id := randID(r)
		if res := c.Table().Seen(peerFor(id), epoch.UnixNano()); res.Outcome == kbucket.Added {
			nw.ids = append(nw.ids, id)
		}
	}
	target := randID(r)
	order := nw.closest(target, k, kbucket.ID{})
	slow := target
	slow[31] ^= 1 // closer than any table entry, learned late, never answers
	nw.know = func(kbucket.ID, kbucket.ID, int) []kbucket.ID { return nil }

	h := newHarness(t, c)
	_, acts, err := c.FindNode(h.now, target)
	if err != nil {
		t.Fatal(err)
	}
	h.take(acts)
	// Answer with nothing new, oldest first, until the final round has
	// asked every table candidate among the K closest.
	for len(h.asked()) < k {
		a := h.pending()[0]
		h.answer(a.Probe, nw.respond(a, k))
	}
	// The next answer teaches slow, which is asked at once.
	a := h.pending()[0]
	resp := nw.respond(a, k)
	resp.Closest = append(resp.Closest, wire.NodeInfo{ID: slow, Addrs: peerFor(slow).Addrs})
	h.answer(a.Probe, resp)
	if last := h.log[len(h.log)-1]; last.Peer.ID != slow {
		t.Fatal("the closer node learned in the final round was not asked at once")
	}
	// Everyone else answers.
	for _, a := range h.pending() {
		if a.Peer.ID != slow {
			h.answer(a.Probe, nw.respond(a, k))
		}
	}
	if len(h.results) != 0 {
		t.Fatal("the lookup ended before the slow probe was silent for hedge_after")
	}
	h.advance(c.cfg.HedgeAfter)
	h.fireDue()
	res := onlyResult(t, h)
	if res.Err != nil || !slices.Equal(ids(res.Closest), order) {
		t.Fatalf("err %v, closest equal to the K closest that answered: %v", res.Err, slices.Equal(ids(res.Closest), order))
	}
	if res.Hedges != 0 || res.RPCs != k+1 || !h.cancelledTo(slow) {
		t.Fatalf("hedges %d rpcs %d (want 0, %d), slow probe cancelled %v", res.Hedges, res.RPCs, k+1, h.cancelledTo(slow))
	}
	if lat := res.Latency(); lat >= c.cfg.RPCTimeout {
		t.Fatalf("lookup took %v, at least the rpc timeout %v", lat, c.cfg.RPCTimeout)
	}
}
