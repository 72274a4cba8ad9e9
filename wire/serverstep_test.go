package wire

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/svc-dht/svc-dht/kbucket"
)

// serverStep is the FIND_NODE server step without I/O: decode the request
// frame, take the 20 closest peers from a 2,000-entry routing table, encode
// the reply frame into a pooled buffer. It is the hot path the DESIGN budget
// (at most 1 allocation per op) is about.
type serverStep struct {
	table *kbucket.Table
	pools Pools
	reqs  [][]byte // request envelopes, several targets
	env   Envelope
	req   FindNodeRequest
	peers []kbucket.Peer
	resp  FindNodeResponse
	i     int
}

func newServerStep(tb testing.TB) *serverStep {
	tb.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	var self kbucket.ID
	fillID(rng, &self)
	cfg := kbucket.DefaultConfig()
	tab, err := kbucket.NewTable(self, cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	// A 2,000-entry table: draw peers until that many are held. Addresses are
	// public and spread over many /16s so that the diversity caps accept them.
	for n := 0; tab.Len() < 2000; n++ {
		if n > 200_000 {
			tb.Fatalf("table holds only %d peers", tab.Len())
		}
		var id kbucket.ID
		fillID(rng, &id)
		// Aim at bucket cpl (0..119): share cpl leading bits with self and
		// differ in the next one, so that 2,000 peers fit in k-sized buckets.
		cpl := rng.IntN(120)
		for b := 0; b <= cpl; b++ {
			mask := byte(0x80) >> (b % 8)
			bit := self[b/8] & mask
			if b == cpl {
				bit ^= mask
			}
			id[b/8] = id[b/8]&^mask | bit
		}
		ip := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(250))})
		p := kbucket.Peer{
			ID:       id,
			Addr:     netip.AddrPortFrom(ip, 4433),
			Addrs:    []string{fmt.Sprintf("quic://%s:4433", ip), fmt.Sprintf("quic://[2001:db8::%x]:4433", n)},
			LastSeen: int64(n),
		}
		tab.Seen(p, int64(n))
	}
	s := &serverStep{table: tab, peers: make([]kbucket.Peer, 0, 32)}
	s.resp.Closest = make([]NodeInfo, 0, 32)
	for i := 0; i < 64; i++ {
		var target kbucket.ID
		fillID(rng, &target)
		env := NewRequest(OpFindNode, uint64(i+1), 1_700_000_000)
		frame, err := AppendEnvelope(nil, &env, &FindNodeRequest{Target: target})
		if err != nil {
			tb.Fatal(err)
		}
		s.reqs = append(s.reqs, frame)
	}
	return s
}

func fillID(rng *rand.Rand, id *kbucket.ID) {
	for i := 0; i < len(id); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			id[i+j] = byte(v >> (8 * j))
		}
	}
}

// step runs one server step and returns the pooled reply frame, which the
// caller puts back.
func (s *serverStep) step() (*Buffer, error) {
	in := s.reqs[s.i%len(s.reqs)]
	s.i++
	if err := DecodeEnvelope(in, &s.env); err != nil {
		return nil, err
	}
	if err := DecodeBody(s.env.Op, s.env.Flags, s.env.Body, &s.req); err != nil {
		return nil, err
	}
	s.peers = s.table.Closest(kbucket.ID(s.req.Target), 20, s.peers[:0])
	s.resp.Closest = s.resp.Closest[:0]
	for i := range s.peers {
		p := &s.peers[i]
		s.resp.Closest = append(s.resp.Closest, NodeInfo{ID: p.ID, Addrs: p.Addrs, LastSeen: p.LastSeen / 1e9})
	}
	out := NewResponse(&s.env, CodeOK, 1_700_000_001)
	buf := s.pools.Get(FrameBufSize)
	var err error
	buf.B, err = AppendFrame(buf.B, &out, &s.resp)
	return buf, err
}

func BenchmarkFindNodeServerStep(b *testing.B) {
	s := newServerStep(b)
	b.ReportAllocs()
	for b.Loop() {
		buf, err := s.step()
		if err != nil {
			b.Fatal(err)
		}
		s.pools.Put(buf)
	}
}

// TestFindNodeServerStep checks that the step answers with the true 20
// closest peers (against a brute-force sort) in a frame that decodes, and
// that it stays within the allocation budget (skipped under -race, which
// instruments allocations).
func TestFindNodeServerStep(t *testing.T) {
	s := newServerStep(t)
	snap := s.table.Snapshot()
	all := snap.Peers(nil)
	for n := 0; n < 8; n++ {
		buf, err := s.step()
		if err != nil {
			t.Fatal(err)
		}
		var env Envelope
		if err := DecodeEnvelope(buf.B[4:], &env); err != nil {
			t.Fatal(err)
		}
		var resp FindNodeResponse
		if err := DecodeBody(env.Op, env.Flags, env.Body, &resp); err != nil {
			t.Fatal(err)
		}
		target := kbucket.ID(s.req.Target)
		want := bruteClosest(all, target, 20)
		if len(resp.Closest) != len(want) {
			t.Fatalf("got %d peers, want %d", len(resp.Closest), len(want))
		}
		for i := range want {
			if resp.Closest[i].ID != want[i] {
				t.Fatalf("peer %d: got %x, want %x", i, resp.Closest[i].ID[:4], want[i][:4])
			}
		}
		s.pools.Put(buf)
	}
	if raceEnabled {
		t.Log("allocation budget not checked: the race detector instruments allocations")
		return
	}
	allocs := testing.AllocsPerRun(200, func() {
		buf, err := s.step()
		if err != nil {
			t.Fatal(err)
		}
		s.pools.Put(buf)
	})
	if allocs > 1 {
		t.Fatalf("FIND_NODE server step: %.1f allocations per op, budget 1", allocs)
	}
}

func bruteClosest(all []kbucket.Peer, target kbucket.ID, n int) []kbucket.ID {
	ids := make([]kbucket.ID, len(all))
	for i := range all {
		ids[i] = all[i].ID
	}
	// Selection by repeated minimum: simple and obviously correct.
	out := make([]kbucket.ID, 0, n)
	used := make([]bool, len(ids))
	for len(out) < n && len(out) < len(ids) {
		best := -1
		for i := range ids {
			if !used[i] && (best < 0 || kbucket.CloserTo(target, ids[i], ids[best])) {
				best = i
			}
		}
		used[best] = true
		out = append(out, ids[best])
	}
	return out
}
