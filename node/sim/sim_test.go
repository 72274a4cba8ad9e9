package sim

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/wire"
)

func TestEventHeapOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h eventHeap
	var want []event
	for i := range 2000 {
		e := event{at: r.Int64N(50), seq: uint64(i)}
		h.push(e)
		want = append(want, e)
		if r.IntN(3) == 0 { // interleave pops
			slices.SortFunc(want, func(a, b event) int {
				if a.at != b.at {
					return int(a.at - b.at)
				}
				return int(a.seq) - int(b.seq)
			})
			got := h.pop()
			if got.at != want[0].at || got.seq != want[0].seq {
				t.Fatalf("pop %d: got (%d,%d), want (%d,%d)", i, got.at, got.seq, want[0].at, want[0].seq)
			}
			want = want[1:]
		}
	}
	prev := event{at: -1}
	for len(h) > 0 {
		e := h.pop()
		if e.at < prev.at || (e.at == prev.at && e.seq < prev.seq) {
			t.Fatalf("out of order: (%d,%d) after (%d,%d)", e.at, e.seq, prev.at, prev.seq)
		}
		prev = e
	}
}

func newSim(t *testing.T, cfg Config) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	s := newSim(t, Config{})
	c := s.Config()
	if c.Core.K != 20 || c.RTTMin != 20*time.Millisecond || c.RTTMax != 120*time.Millisecond || c.Jitter != 4*time.Millisecond {
		t.Fatalf("defaults: %+v", c)
	}
	for _, bad := range []Config{
		{RTTMin: 50 * time.Millisecond, RTTMax: 10 * time.Millisecond},
		{Loss: 1},
		{Loss: -0.1},
		{Core: core.Config{K: 3}},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}

func TestLinkRTT(t *testing.T) {
	s := newSim(t, Config{Seed: 5, RTTMin: 10 * time.Millisecond, RTTMax: 30 * time.Millisecond})
	seen := map[int64]bool{}
	for a := int32(0); a < 30; a++ {
		for b := int32(0); b < 30; b++ {
			d := s.linkRTT(a, b)
			if d != s.linkRTT(b, a) || d < int64(10*time.Millisecond) || d > int64(30*time.Millisecond) {
				t.Fatalf("link %d-%d rtt %v", a, b, time.Duration(d))
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Fatalf("only %d distinct link RTTs", len(seen))
	}
	other := newSim(t, Config{Seed: 6, RTTMin: 10 * time.Millisecond, RTTMax: 30 * time.Millisecond})
	if other.linkRTT(1, 2) == s.linkRTT(1, 2) && other.linkRTT(3, 4) == s.linkRTT(3, 4) {
		t.Fatal("link RTTs do not depend on the seed")
	}
}

// small builds a 60-node joined network.
func small(t *testing.T, cfg Config) (*Sim, []*Node) {
	t.Helper()
	s := newSim(t, cfg)
	nodes, err := s.Build(Build{Nodes: 60, WarmUp: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, nodes
}

func TestLookupLatencyFollowsRTT(t *testing.T) {
	fast, _ := small(t, Config{Seed: 9, RTTMin: 10 * time.Millisecond, RTTMax: 10 * time.Millisecond, Jitter: -1})
	slow, _ := small(t, Config{Seed: 9, RTTMin: 100 * time.Millisecond, RTTMax: 100 * time.Millisecond, Jitter: -1})
	lat := func(s *Sim) Dist {
		var ops []*Op
		for range 30 {
			ops = append(ops, s.FindNode(randomLive(s), s.RandomID()))
		}
		s.Wait(time.Minute)
		return Summarize(ops).LatencyMs
	}
	f, sl := lat(fast), lat(slow)
	// Lookups are sequences of round trips: every latency is a multiple of
	// the (fixed) RTT, and ten times the RTT gives ten times the latency.
	if f.N != 30 || sl.N != 30 || sl.P50 < 9*f.P50 || f.P50 < 10 {
		t.Fatalf("latency at 10ms rtt %v, at 100ms rtt %v", f, sl)
	}
}

func TestKillAndRevive(t *testing.T) {
	s, nodes := small(t, Config{Seed: 11})
	victim := nodes[30]
	op := s.FindNode(victim, s.RandomID())
	s.Kill(victim)
	if !op.Done || !errors.Is(op.Err, ErrNodeLeft) || victim.Alive() || victim.Core() != nil {
		t.Fatalf("kill: op %+v, alive %v", op, victim.Alive())
	}
	if got := s.FindNode(victim, s.RandomID()); !errors.Is(got.Err, ErrNodeLeft) {
		t.Fatalf("lookup on a dead node: %v", got.Err)
	}
	// Lookups for the victim's ID no longer find it.
	q := s.FindNode(nodes[0], victim.ID)
	s.Wait(time.Minute)
	if q.Err != nil || q.Result.Closest[0].ID == victim.ID {
		t.Fatalf("dead node still answers: %v", q.Err)
	}
	join, err := s.Revive(victim, s.Seeds())
	if err != nil {
		t.Fatal(err)
	}
	s.Wait(time.Minute)
	if join.Err != nil || !victim.Alive() || victim.Core().Table().Len() < 10 {
		t.Fatalf("revive: %v, table %d", join.Err, victim.Core().Table().Len())
	}
	q = s.FindNode(nodes[1], victim.ID)
	s.Wait(time.Minute)
	if q.Err != nil || q.Result.Closest[0].ID != victim.ID {
		t.Fatal("revived node not found")
	}
	if _, err := s.Revive(victim, nil); err == nil {
		t.Fatal("reviving a live node succeeded")
	}
}

func TestPartition(t *testing.T) {
	s, nodes := small(t, Config{Seed: 12})
	a, b := nodes[:30], nodes[30:]
	s.Partition(a, b, 10*time.Second)
	var ops []*Op
	for _, n := range b[:10] {
		ops = append(ops, s.FindNode(a[5], n.ID))
	}
	s.Wait(time.Minute)
	for _, op := range ops {
		if op.Err == nil && slices.ContainsFunc(op.Result.Closest, func(p kbucket.Peer) bool {
			return slices.Contains(b, mustNode(s, p.ID))
		}) {
			t.Fatal("a node across the partition answered")
		}
	}
	s.Run(10 * time.Second) // the partition heals
	op := s.FindNode(a[5], b[3].ID)
	s.Wait(time.Minute)
	if op.Err != nil || op.Result.Closest[0].ID != b[3].ID {
		t.Fatalf("after the partition healed: %v", op.Err)
	}
}

func mustNode(s *Sim, id kbucket.ID) *Node {
	n, _ := s.Node(id)
	return n
}

func TestLoss(t *testing.T) {
	s, _ := small(t, Config{Seed: 13})
	lossy := newSim(t, Config{Seed: 13, Loss: 0.3})
	if _, err := lossy.Build(Build{Nodes: 60, WarmUp: time.Second}); err != nil {
		t.Fatal(err)
	}
	fails := func(s *Sim) uint64 {
		var ops []*Op
		for range 30 {
			ops = append(ops, s.FindNode(randomLive(s), s.RandomID()))
		}
		s.Wait(time.Minute)
		n := 0
		for _, op := range ops {
			if op.Result != nil {
				n += op.Result.Failures
			}
		}
		return uint64(n)
	}
	if f0, f1 := fails(s), fails(lossy); f0 != 0 || f1 < 10 {
		t.Fatalf("probe failures without loss %d, with 30%% loss %d", f0, f1)
	}
}

func TestSlowAndHostileNodes(t *testing.T) {
	calls := 0
	s := newSim(t, Config{Seed: 14, RTTMin: 10 * time.Millisecond, RTTMax: 10 * time.Millisecond, Jitter: -1})
	nodes, err := s.Build(Build{Nodes: 40, WarmUp: time.Second, Options: func(i int) NodeOptions {
		switch i {
		case 5:
			return NodeOptions{ExtraDelay: 3 * time.Second}
		case 6:
			return NodeOptions{FindNodeHook: func(n *Node, target kbucket.ID, honest []wire.NodeInfo) []wire.NodeInfo {
				calls++
				return nil
			}}
		}
		return NodeOptions{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Pings measure the extra delay exactly.
	ping := func(to *Node) *core.Result {
		id, acts, err := nodes[0].Core().Ping(s.Time(), to.Peer())
		op := s.register(nodes[0], wire.OpPing, to.ID, id, acts, err)
		s.Wait(time.Minute)
		return op.Result
	}
	if r := ping(nodes[7]); r.Err != nil || r.Latency() != 10*time.Millisecond {
		t.Fatalf("normal ping: %v in %v", r.Err, r.Latency())
	}
	if r := ping(nodes[5]); r.Err == nil {
		t.Fatalf("a 3s-slow node answered within the rpc timeout (%v)", r.Latency())
	}
	before := calls
	op := s.FindNode(nodes[6], s.RandomID()) // its own lookups are honest
	s.Wait(time.Minute)
	id, acts, _ := nodes[0].Core().FindNode(s.Time(), nodes[6].ID)
	s.register(nodes[0], wire.OpFindNode, nodes[6].ID, id, acts, nil)
	s.Wait(time.Minute)
	if op.Err != nil || calls == before {
		t.Fatalf("hostile hook not used (calls %d) or own lookup failed (%v)", calls, op.Err)
	}
}

func TestTrueClosest(t *testing.T) {
	s, nodes := small(t, Config{Seed: 15})
	s.Kill(nodes[7])
	for range 50 {
		target := s.RandomID()
		var want []kbucket.ID
		for _, n := range s.Live() {
			want = append(want, n.ID)
		}
		slices.SortFunc(want, func(a, b kbucket.ID) int { return kbucket.Xor(a, target).Cmp(kbucket.Xor(b, target)) })
		if got := s.TrueClosest(target, 20); !slices.Equal(got, want[:20]) {
			t.Fatal("TrueClosest differs from a full sort")
		}
		if got := s.TrueClosest(target, 5, want[0]); !slices.Equal(got, want[1:6]) {
			t.Fatal("TrueClosest ignores exclude")
		}
	}
}

func TestASNPlan(t *testing.T) {
	p, err := LoadASNPlan("../../kbucket/asndb/testdata/asn-ipv4-extract.csv", "../../kbucket/asndb/testdata/asn-ipv6-extract.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ASNs()) < 200 {
		t.Fatalf("only %d ASNs in the extract", len(p.ASNs()))
	}
	r := rand.New(rand.NewPCG(3, 4))
	v6 := 0
	for i := range 500 {
		a, asn := p.Assign(i, r)
		got, ok := p.Resolver().LookupASN(a)
		if !ok || got != asn || asn == 0 || kbucket.IsSpecialPurpose(a) {
			t.Fatalf("assigned %v asn %d, resolver says %d %v", a, asn, got, ok)
		}
		if a.Is6() {
			v6++
		}
	}
	if v6 == 0 {
		t.Fatal("no IPv6 address assigned")
	}
	a, ok := p.AddrIn(13335, r)
	if got, _ := p.Resolver().LookupASN(a); !ok || got != 13335 {
		t.Fatalf("AddrIn(13335) = %v (%d)", a, got)
	}
	if _, ok := p.AddrIn(4_000_000_000, r); ok {
		t.Fatal("AddrIn of an unknown ASN succeeded")
	}
	if _, err := LoadASNPlan("testdata/does-not-exist.csv"); err == nil {
		t.Fatal("missing file accepted")
	}

	// Nodes built on the plan carry resolvable addresses, and their tables
	// group peers by those ASNs.
	s := newSim(t, Config{Seed: 16, Addresses: p, Resolver: p.Resolver()})
	nodes, err := s.Build(Build{Nodes: 80, WarmUp: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if asn, ok := p.Resolver().LookupASN(n.IP()); !ok || asn != n.ASN {
			t.Fatalf("node %d: %v asn %d", n.Index(), n.IP(), n.ASN)
		}
	}
	g := nodes[0].Core().Table().Group(nodes[1].IP())
	if asn, ok := g.ASN(); !ok || asn != nodes[1].ASN {
		t.Fatalf("table group %v, want ASN %d", g, nodes[1].ASN)
	}
}

func TestRandomIPv4(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	seen := map[netip.Prefix]bool{}
	for i := range 1000 {
		a, asn := RandomIPv4{}.Assign(i, r)
		if !a.Is4() || asn != 0 || kbucket.IsSpecialPurpose(a) {
			t.Fatalf("%v", a)
		}
		p, _ := a.Prefix(16)
		seen[p] = true
	}
	if len(seen) < 900 {
		t.Fatalf("only %d distinct /16s in 1000 addresses", len(seen))
	}
}

func TestSummarize(t *testing.T) {
	var ops []*Op
	for i := 1; i <= 100; i++ {
		ops = append(ops, &Op{Kind: wire.OpFindNode, Done: true, Start: 0, End: time.Duration(i) * time.Millisecond,
			Result: &core.Result{Hops: i % 4, RPCs: 20}})
	}
	ops = append(ops, &Op{Done: true, Err: ErrNodeLeft}, &Op{})
	r := Summarize(ops)
	if r.Ops != 102 || r.Done != 101 || r.OK != 100 || r.LatencyMs.P50 != 50 || r.LatencyMs.P99 != 99 ||
		r.LatencyMs.Max != 100 || r.RPCs.Mean != 20 || !slices.Equal(r.HopsHist, []int{25, 25, 25, 25}) {
		t.Fatalf("%+v", r)
	}
}

func TestChurnKeepsSize(t *testing.T) {
	s, _ := small(t, Config{Seed: 17})
	if err := s.StartChurn(Churn{Rate: 0}); err == nil {
		t.Fatal("zero churn rate accepted")
	}
	if err := s.StartChurn(Churn{Rate: 20, Until: s.Now() + 10*time.Minute}); err != nil {
		t.Fatal(err)
	}
	s.Run(10 * time.Minute)
	n, live := len(s.Nodes()), len(s.Live())
	// 20/h of 60 nodes for 10 minutes: about 200 leaves and 200 joins.
	if n < 150 || live < 30 || live > 90 {
		t.Fatalf("after churn: %d nodes ever, %d live", n, live)
	}
}

// TestEncodeOnWire: with every message encoded and decoded by the real
// codec, the run is the same as with structs passed through — the same
// trace hash — and no message fails to encode or decode.
func TestEncodeOnWire(t *testing.T) {
	run := func(onWire bool) (uint64, Report) {
		s := newSim(t, Config{Seed: 21, EncodeOnWire: onWire})
		if _, err := s.Build(Build{Nodes: 80, WarmUp: time.Second}); err != nil {
			t.Fatal(err)
		}
		var ops []*Op
		for i := range 20 {
			key := s.RandomID()
			ops = append(ops, s.FindNode(randomLive(s), s.RandomID()))
			if i%4 == 0 {
				ops = append(ops, s.Provide(randomLive(s), key))
				s.Run(time.Second)
				ops = append(ops, s.FindValue(randomLive(s), key))
			}
		}
		s.Wait(time.Minute)
		if n, err := s.WireErrors(); n != 0 {
			t.Fatalf("%d codec errors, first: %v", n, err)
		}
		if onWire != (s.WireBytes() > 100_000) {
			t.Fatalf("encode on wire %v: %d bytes encoded", onWire, s.WireBytes())
		}
		return s.TraceHash(), Summarize(ops)
	}
	h0, r0 := run(false)
	h1, r1 := run(true)
	if h0 != h1 || r0.String() != r1.String() {
		t.Fatalf("encode-on-wire run differs: %x vs %x\n%v\n%v", h0, h1, r0, r1)
	}
	if r1.OK != r1.Ops {
		t.Fatalf("operations failed:\n%v", r1)
	}
}
