package core

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// epoch is the fixed start of every test clock.
var epoch = time.Unix(1_700_000_000, 0)

// testVerifier accepts records whose Sigs hold the single marker signature
// testSigner writes, with the freshness rules of SPEC §3.
type testVerifier struct{}

func (testVerifier) Verify(rec *wire.ProviderRecord, now time.Time) error {
	if len(rec.Sigs) != 1 || string(rec.Sigs[0].Sig) != "ok" {
		return fmt.Errorf("test verifier: %w", wire.ErrBadSignature)
	}
	ts := time.Unix(rec.TS, 0)
	switch {
	case ts.After(now.Add(5 * time.Minute)):
		return fmt.Errorf("test verifier: from the future: %w", wire.ErrStaleRecord)
	case !ts.Add(time.Duration(rec.TTL) * time.Second).After(now):
		return fmt.Errorf("test verifier: expired: %w", wire.ErrStaleRecord)
	case time.Duration(rec.TTL)*time.Second > MaxProviderTTL:
		return fmt.Errorf("test verifier: ttl: %w", wire.ErrStaleRecord)
	}
	return nil
}

// testSigner marks a record as signed by publisher.
type testSigner struct{ publisher kbucket.ID }

func (s testSigner) SignRecord(rec *wire.ProviderRecord) error {
	rec.Publisher = s.publisher
	rec.Sigs = []wire.Signature{{Alg: wire.AlgEd25519, Sig: []byte("ok")}}
	return nil
}

func signedRecord(key, pub kbucket.ID, ts time.Time, ttl time.Duration) *wire.ProviderRecord {
	rec := &wire.ProviderRecord{ProtoVer: wire.ProtoVersion, Key: key, TTL: uint32(ttl / time.Second), TS: ts.Unix(),
		Addrs: []string{"quic://192.0.2.1:4433"}}
	_ = testSigner{publisher: pub}.SignRecord(rec)
	return rec
}

func randID(r *rand.Rand) kbucket.ID {
	var id kbucket.ID
	for i := 0; i < len(id); i += 8 {
		binary.BigEndian.PutUint64(id[i:], r.Uint64())
	}
	return id
}

// peerFor gives id a distinct public IPv4 address (one /16 per peer, so the
// table's prefix groups never hit the ASN cap).
func peerFor(id kbucket.ID) kbucket.Peer {
	a := netip.AddrFrom4([4]byte{1 + id[0]%200, id[1], id[2], 7})
	ap := netip.AddrPortFrom(a, 4433)
	return kbucket.Peer{ID: id, Addr: ap, Addrs: []string{"quic://" + ap.String()}}
}

// newTestCore returns a core for self with cfg (DefaultConfig when nil).
func newTestCore(t testing.TB, self kbucket.ID, cfg *Config) *Core {
	t.Helper()
	c := DefaultConfig()
	if cfg != nil {
		c = *cfg
	}
	core, err := New(self, c, Deps{Rand: rand.New(rand.NewPCG(7, 8)), Verifier: testVerifier{}, Signer: testSigner{publisher: self}})
	if err != nil {
		t.Fatal(err)
	}
	return core
}

// harness drives one core and records its actions.
type harness struct {
	t       testing.TB
	c       *Core
	now     time.Time
	sends   map[ProbeID]Action // outstanding sends
	order   []ProbeID          // send order
	log     []Action           // every send, in order
	timers  []Action           // armed timers, in arming order
	cancels map[ProbeID]bool
	results []*Result
}

func newHarness(t testing.TB, c *Core) *harness {
	return &harness{t: t, c: c, now: epoch, sends: map[ProbeID]Action{}, cancels: map[ProbeID]bool{}}
}

// take records acts (a slice owned by the core).
func (h *harness) take(acts []Action) {
	for _, a := range acts {
		switch a.Kind {
		case ActSend:
			h.sends[a.Probe] = a
			h.order = append(h.order, a.Probe)
			h.log = append(h.log, a)
		case ActCancel:
			h.cancels[a.Probe] = true
			delete(h.sends, a.Probe)
		case ActArmTimer:
			h.timers = append(h.timers, a)
		case ActDone:
			h.results = append(h.results, a.Result)
		default:
			h.t.Fatalf("unknown action kind %d", a.Kind)
		}
	}
}

// pending returns the outstanding sends in send order.
func (h *harness) pending() []Action {
	var out []Action
	for _, id := range h.order {
		if a, ok := h.sends[id]; ok {
			out = append(out, a)
		}
	}
	return out
}

func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

// answer delivers resp for probe id and forgets the send.
func (h *harness) answer(id ProbeID, resp *Response) {
	a := h.sends[id]
	delete(h.sends, id)
	// The observed address is the one peerFor assigns (the runtime reports
	// the connection's remote address).
	h.take(h.c.HandleResponse(h.now, id, peerFor(a.Peer.ID).Addr, resp))
}

func (h *harness) fail(id ProbeID) {
	delete(h.sends, id)
	h.take(h.c.HandleFailure(h.now, id, wire.ErrTransportDown))
}

// fireDue fires, in deadline order, every armed timer due at h.now.
func (h *harness) fireDue() {
	for {
		idx := -1
		for i, a := range h.timers {
			if !a.Deadline.After(h.now) && (idx < 0 || a.Deadline.Before(h.timers[idx].Deadline)) {
				idx = i
			}
		}
		if idx < 0 {
			return
		}
		a := h.timers[idx]
		h.timers = slices.Delete(h.timers, idx, idx+1)
		h.take(h.c.HandleTimer(h.now, a.Timer))
	}
}

// cancelledTo reports whether a probe to id was cancelled.
func (h *harness) cancelledTo(id kbucket.ID) bool {
	for _, a := range h.log {
		if a.Peer.ID == id && h.cancels[a.Probe] {
			return true
		}
	}
	return false
}

// asked returns the distinct destinations of every send.
func (h *harness) asked() []kbucket.ID {
	var out []kbucket.ID
	for _, a := range h.log {
		if !slices.Contains(out, a.Peer.ID) {
			out = append(out, a.Peer.ID)
		}
	}
	return out
}

// network is an oracle of live nodes for answering lookups in unit tests.
type network struct {
	ids  []kbucket.ID
	down map[kbucket.ID]bool
	// know, when set, restricts what a node answers with.
	know func(responder kbucket.ID, target kbucket.ID, k int) []kbucket.ID
}

// closest returns the k live IDs closest to target, brute force.
func (n *network) closest(target kbucket.ID, k int, exclude kbucket.ID) []kbucket.ID {
	ids := slices.Clone(n.ids)
	slices.SortFunc(ids, func(a, b kbucket.ID) int {
		return kbucket.Xor(a, target).Cmp(kbucket.Xor(b, target))
	})
	out := make([]kbucket.ID, 0, k)
	for _, id := range ids {
		if id == exclude || n.down[id] {
			continue
		}
		out = append(out, id)
		if len(out) == k {
			break
		}
	}
	return out
}

// respond builds the answer of the destination of send.
func (n *network) respond(send Action, k int) *Response {
	resp := &Response{Op: send.Req.Op, Code: wire.CodeOK}
	switch send.Req.Op {
	case wire.OpFindNode, wire.OpFindValue:
		var ids []kbucket.ID
		if n.know != nil {
			ids = n.know(send.Peer.ID, send.Req.Key, k)
		} else {
			ids = n.closest(send.Req.Key, k, send.Peer.ID)
		}
		for _, id := range ids {
			p := peerFor(id)
			resp.Closest = append(resp.Closest, wire.NodeInfo{ID: id, Addrs: p.Addrs})
		}
	case wire.OpProvide:
		resp.Accepted = true
	case wire.OpPing:
		resp.Self = wire.NodeInfo{ID: send.Peer.ID}
	}
	return resp
}

// runAll answers every outstanding send from the oracle until none is
// left. Sends to down nodes are left unanswered; when only those remain,
// the clock jumps by RPCTimeout so that their timers fire.
func (h *harness) runAll(n *network) {
	for rounds := 0; len(h.sends) > 0; rounds++ {
		if rounds > 10000 {
			h.t.Fatal("lookup does not terminate")
		}
		progressed := false
		for _, a := range h.pending() {
			if _, ok := h.sends[a.Probe]; !ok || n.down[a.Peer.ID] {
				continue
			}
			h.answer(a.Probe, n.respond(a, h.c.cfg.K))
			progressed = true
		}
		if progressed {
			h.advance(10 * time.Millisecond)
		} else {
			h.advance(h.c.cfg.RPCTimeout)
		}
		h.fireDue()
	}
}
