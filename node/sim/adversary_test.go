package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/wire"
)

// The adversarial scenarios of issue 3: an eclipse attempt by Sybils
// concentrated in one ASN, and hostile peers that answer FIND_NODE with
// garbage.

// advAttackerASN is the ASN of the eclipse attacker: OVH SAS, a hosting
// provider with a whole /16 in the committed extract, so its Sybils get
// distinct addresses.
const advAttackerASN = 16276

// advLoadPlan loads the real IP-to-ASN extract (IPv4 and IPv6).
func advLoadPlan(t *testing.T) *ASNPlan {
	t.Helper()
	plan, err := LoadASNPlan("../../kbucket/asndb/testdata/asn-ipv4-extract.csv",
		"../../kbucket/asndb/testdata/asn-ipv6-extract.csv")
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// advRegionID returns a random ID whose first bits bits are those of target.
func advRegionID(s *Sim, target kbucket.ID, bits int) kbucket.ID {
	id := s.RandomID()
	for b := range bits {
		m := byte(0x80) >> (b % 8)
		id[b/8] = id[b/8]&^m | target[b/8]&m
	}
	return id
}

// advBucketInRegion reports whether the whole ID range of bucket i of a
// node self lies in the region of the IDs that share their first bits bits
// with target. Bucket i holds the IDs that share exactly i bits with self.
func advBucketInRegion(self kbucket.ID, i int, target kbucket.ID, bits int) bool {
	if i+1 < bits {
		return false // the bucket's range is wider than the region
	}
	rep := self // any ID of the bucket's range: self with bit i flipped
	rep[i/8] ^= byte(0x80) >> (i % 8)
	return kbucket.CommonPrefixLen(rep, target) >= bits
}

// advEclipse is the eclipse network: honest nodes with IDs spread over the
// whole space and addresses drawn from the real ASN extract (any ASN but the
// attacker's), and Sybils of one ASN (advAttackerASN) with IDs in the
// region around target (the IDs sharing their first advRegionBits bits
// with it), as many as it takes to make them 70% of the nodes in that
// region. The Sybils collude from the start (joins included): each answers
// FIND_NODE with the K Sybils closest to the requested target, hiding every
// honest node.
type advEclipse struct {
	s       *Sim
	plan    *ASNPlan
	target  kbucket.ID
	honest  []*Node
	sybils  []wire.NodeInfo // every Sybil, as they advertise one another
	regionH int             // honest nodes in the region
	isSybil map[kbucket.ID]bool
}

const (
	advRegionBits     = 3
	advHonest         = 400
	advEclipseLookups = 500
)

func newAdvEclipse(t *testing.T, asnMaxPct float64) *advEclipse {
	t.Helper()
	plan := advLoadPlan(t)
	cfg := core.DefaultConfig()
	cfg.Table.ASNMaxPct = asnMaxPct
	s, err := New(Config{Seed: 0xec11, Core: cfg, Addresses: plan, Resolver: plan.Resolver()})
	if err != nil {
		t.Fatal(err)
	}
	e := &advEclipse{s: s, plan: plan, target: s.RandomID(), isSybil: map[kbucket.ID]bool{}}
	rng := s.Rand()

	var honest, sybil []NodeOptions
	for len(honest) < advHonest {
		ip, asn := plan.Assign(len(honest), rng)
		if asn == advAttackerASN {
			continue // keep the attacker's ASN to the attacker
		}
		o := NodeOptions{ID: s.RandomID(), Addr: ip, ASN: asn}
		if kbucket.CommonPrefixLen(o.ID, e.target) >= advRegionBits {
			e.regionH++
		}
		honest = append(honest, o)
	}
	// Sybils/(Sybils+regionH) >= 0.7.
	nSybil := (7*e.regionH + 2) / 3
	for range nSybil {
		ip, ok := plan.AddrIn(advAttackerASN, rng)
		if !ok {
			t.Fatalf("no address for AS%d in the plan", advAttackerASN)
		}
		o := NodeOptions{ID: advRegionID(s, e.target, advRegionBits), Addr: ip, ASN: advAttackerASN}
		o.FindNodeHook = e.collude
		e.isSybil[o.ID] = true
		e.sybils = append(e.sybils, wire.NodeInfo{ID: o.ID, Addrs: []string{"quic://" + netip.AddrPortFrom(ip, 4433).String()}})
		sybil = append(sybil, o)
	}
	// Three honest seeds first, then everyone else in random order.
	opts := slices.Concat(honest[3:], sybil)
	rng.Shuffle(len(opts), func(i, j int) { opts[i], opts[j] = opts[j], opts[i] })
	opts = slices.Concat(honest[:3], opts)
	nodes, err := s.Build(Build{Nodes: len(opts), Seeds: 3, WarmUp: 10 * time.Second,
		Options: func(i int) NodeOptions { return opts[i] }})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if !e.isSybil[n.ID] {
			e.honest = append(e.honest, n)
		}
		if want := opts[n.Index()].Addr; n.IP() != want {
			t.Fatalf("node %d has address %v, want %v", n.Index(), n.IP(), want)
		}
	}
	return e
}

// collude is the Sybils' FIND_NODE answer: the K Sybils closest to target.
func (e *advEclipse) collude(n *Node, target kbucket.ID, honest []wire.NodeInfo) []wire.NodeInfo {
	out := honest[:0]
	for _, sy := range e.sybils {
		if sy.ID == n.ID {
			continue
		}
		i := len(out)
		for i > 0 && kbucket.CloserTo(target, sy.ID, out[i-1].ID) {
			i--
		}
		if i >= e.s.Config().Core.K {
			continue
		}
		out = slices.Insert(out, i, sy)
		if len(out) > e.s.Config().Core.K {
			out = out[:e.s.Config().Core.K]
		}
	}
	return out
}

// asnOf is the ASN the routing tables see for an observed address (0 when
// the extract does not know it).
func (e *advEclipse) asnOf(p kbucket.Peer) uint32 {
	asn, _ := e.plan.Resolver().LookupASN(p.Addr.Addr())
	return asn
}

// advTableFigures summarise the buckets of the honest nodes' tables.
type advTableFigures struct {
	full          int     // full buckets
	fullRegion    int     // full buckets whose range lies in the attacked region
	capped        int     // buckets (full or not) in which the attacker holds floor(0.40*K) entries or more
	maxShare      float64 // largest attacker share of K in any bucket, full or not
	maxGroupPct   float64 // largest MaxASNPct (any group) of a full bucket
	minEntropy    float64 // lowest EntropyBits of a full bucket
	lowDiversity  int     // full buckets flagged LowDiversity
	regionShare   float64 // mean attacker share of the full region buckets
	regionEntropy float64 // mean entropy of the full region buckets
}

// tables checks every bucket of every honest node and returns the figures.
// The attacker's share of a bucket is its entries whose observed address
// the Resolver maps to advAttackerASN, divided by K (the capacity, as
// asn_max_pct is defined).
func (e *advEclipse) tables() advTableFigures {
	k := e.s.Config().Core.K
	f := advTableFigures{minEntropy: 99}
	for _, n := range e.honest {
		snap := n.Core().Table().Snapshot()
		stats := snap.Buckets()
		for i, st := range stats {
			if st.Occupancy == 0 {
				continue
			}
			att := 0
			for _, p := range snap.Bucket(i) {
				if e.asnOf(p) == advAttackerASN {
					att++
				}
			}
			share := float64(att) / float64(k)
			f.maxShare = max(f.maxShare, share)
			if att >= advCap(k) {
				f.capped++
			}
			if st.Occupancy < k {
				continue
			}
			f.full++
			f.maxGroupPct = max(f.maxGroupPct, st.MaxASNPct)
			f.minEntropy = min(f.minEntropy, st.EntropyBits)
			if st.LowDiversity {
				f.lowDiversity++
			}
			if advBucketInRegion(n.ID, i, e.target, advRegionBits) {
				f.fullRegion++
				f.regionShare += share
				f.regionEntropy += st.EntropyBits
			}
		}
	}
	if f.fullRegion > 0 {
		f.regionShare /= float64(f.fullRegion)
		f.regionEntropy /= float64(f.fullRegion)
	}
	return f
}

// advLookupFigures summarise FIND_NODE lookups into the attacked region.
type advLookupFigures struct {
	ok         int     // found the true closest live node
	noErr      int     // ended without error
	asnsOK     float64 // mean distinct ASNs in Result.Closest of the ok lookups
	asnsAll    float64 // the same over the lookups without error
	sybilShare float64 // mean Sybil share of Result.Closest of the ok lookups
	eclipsed   int     // lookups without error whose Result.Closest are all Sybils
}

// lookups measures ops: a lookup succeeds when it ends without error and
// its closest result is the true closest live node (brute force).
func (e *advEclipse) lookups(ops []*Op) advLookupFigures {
	var f advLookupFigures
	seen := map[uint32]bool{}
	for _, op := range ops {
		if op.Err != nil || len(op.Result.Closest) == 0 {
			continue
		}
		f.noErr++
		clear(seen)
		syb := 0
		for _, p := range op.Result.Closest {
			seen[e.asnOf(p)] = true
			if e.isSybil[p.ID] {
				syb++
			}
		}
		f.asnsAll += float64(len(seen))
		if syb == len(op.Result.Closest) {
			f.eclipsed++
		}
		if op.Result.Closest[0].ID != e.s.TrueClosest(op.Target, 1, op.Node.ID)[0] {
			continue
		}
		f.ok++
		f.asnsOK += float64(len(seen))
		f.sybilShare += float64(syb) / float64(len(op.Result.Closest))
	}
	if f.ok > 0 {
		f.asnsOK /= float64(f.ok)
		f.sybilShare /= float64(f.ok)
	}
	if f.noErr > 0 {
		f.asnsAll /= float64(f.noErr)
	}
	return f
}

// advCap is floor(0.40*k), the entries one ASN may hold in a bucket.
func advCap(k int) int { return k * 2 / 5 }

func (f advTableFigures) String() string {
	return fmt.Sprintf("full buckets %d (in the attacked region %d); buckets where the attacker reached 40%% of K: %d; attacker share of K: max %.2f (any bucket), mean %.3f in full region buckets; "+
		"largest group share of a full bucket %.2f; entropy of full buckets min %.2f bits, mean %.2f in region buckets; low-diversity buckets %d",
		f.full, f.fullRegion, f.capped, f.maxShare, f.regionShare, f.maxGroupPct, f.minEntropy, f.regionEntropy, f.lowDiversity)
}

// TestEclipse is the eclipse scenario of issue 3, on real ASNs (the
// committed extract of kbucket/asndb/testdata, resolved by the tables).
// 400 honest nodes spread over the ID space and the extract's ASNs join
// through the protocol together with ~170 Sybils of AS16276 whose IDs share
// the first 3 bits with a target, so that 70% of the nodes in that region
// (1/8 of the ID space) are the attacker's; the Sybils collude from the
// start (each answers FIND_NODE with the Sybils closest to the requested
// target only). After a 10 s warm-up:
//   - every bucket of every honest node holds the attacker's ASN at no more
//     than 40% of K (floor(0.40*20) = 8 entries), and every full bucket has
//     no group above 40% of K and at least 1.5 bits of ASN entropy
//     (kbucket.BucketStats: EntropyBits is the Shannon entropy of the
//     bucket's group mix, exempt peers as singletons; MaxASNPct is the
//     largest group's entries over the capacity K);
//   - 500 FIND_NODE lookups from honest nodes for random targets in the
//     region see >= 3 distinct ASNs on average, over the successful
//     lookups (no error, closest result = the true closest live node) and
//     over all that ended without error. The ASNs a lookup "sees" are
//     those of the nodes in Result.Closest — the up to K nodes closest to
//     the target that answered it — as the tables resolve their observed
//     addresses. The success rate itself is logged, not asserted.
//
// The contrast subtest rebuilds the same network with asn_max_pct at 0.60,
// the largest value the kbucket config allows: the Sybils' share of the
// region's full buckets then rises above 40%, so the bound above is the
// cap's doing, not the population's.
func TestEclipse(t *testing.T) {
	e := newAdvEclipse(t, 0.40)
	k := e.s.Config().Core.K
	if total := e.regionH + len(e.sybils); float64(len(e.sybils))/float64(total) < 0.70 {
		t.Fatalf("setup: Sybils are %d of %d nodes in the region, want >= 70%%", len(e.sybils), total)
	}
	t.Logf("%d honest nodes, %d Sybils in AS%d: %.1f%% of the %d nodes sharing %d bits with the target",
		len(e.honest), len(e.sybils), advAttackerASN,
		100*float64(len(e.sybils))/float64(e.regionH+len(e.sybils)), e.regionH+len(e.sybils), advRegionBits)
	near := 0
	for _, id := range e.s.TrueClosest(e.target, k) {
		if e.isSybil[id] {
			near++
		}
	}
	t.Logf("Sybils among the true %d closest to the target: %d", k, near)

	f := e.tables()
	t.Logf("cap 0.40: %v", f)
	if f.maxShare > 0.40+1e-9 {
		t.Errorf("a bucket holds the attacker at %.2f of K, want <= 0.40", f.maxShare)
	}
	if f.maxGroupPct > 0.40+1e-9 {
		t.Errorf("a full bucket holds one group at %.2f of K, want <= 0.40", f.maxGroupPct)
	}
	if f.minEntropy < 1.5 || f.lowDiversity > 0 {
		t.Errorf("full-bucket entropy min %.2f bits (%d low-diversity buckets), want >= 1.5", f.minEntropy, f.lowDiversity)
	}
	if f.capped < 50 {
		t.Errorf("the attacker reached the cap in only %d buckets: the scenario does not test it", f.capped)
	}

	var ops []*Op
	for range advEclipseLookups {
		n := e.honest[e.s.Rand().IntN(len(e.honest))]
		ops = append(ops, e.s.FindNode(n, advRegionID(e.s, e.target, advRegionBits)))
		e.s.Run(10 * time.Millisecond)
	}
	if !e.s.Wait(5 * time.Minute) {
		t.Fatal("lookups did not finish within 5 virtual minutes")
	}
	lk := e.lookups(ops)
	t.Logf("%d FIND_NODE into the region: success %.4f (%d/%d); distinct ASNs in Result.Closest: %.2f on average over the successful lookups, "+
		"%.2f over all that ended without error (%d); Sybil share of Result.Closest %.2f; lookups whose Result.Closest are all Sybils: %d\n%v",
		len(ops), float64(lk.ok)/float64(len(ops)), lk.ok, len(ops), lk.asnsOK, lk.asnsAll, lk.noErr, lk.sybilShare, lk.eclipsed, Summarize(ops))
	// The success rate is logged, not asserted: the issue sets no target
	// for it, and the lookup itself does not weigh ASNs, so colluding
	// Sybils do steer some lookups away from the honest closest node.
	if lk.asnsOK < 3 || lk.asnsAll < 3 {
		t.Errorf("lookups saw %.2f distinct ASNs on average (%.2f over all without error), want >= 3", lk.asnsOK, lk.asnsAll)
	}

	t.Run("contrast_cap_0.60", func(t *testing.T) {
		c := newAdvEclipse(t, 0.60).tables()
		t.Logf("cap 0.60: %v", c)
		if c.regionShare <= f.regionShare || c.maxShare <= 0.40 {
			t.Errorf("with asn_max_pct 0.60 the attacker holds %.3f of the region's full buckets (max %.2f), "+
				"with 0.40 %.3f: the cap made no difference", c.regionShare, c.maxShare, f.regionShare)
		}
	})
}

// advHostile is the hostile-peers network: every tenth node (seeds
// excepted) answers FIND_NODE, and FIND_VALUE without providers, with junk.
// Half of them ("fakers") return K random IDs of nodes that do not exist,
// with plausible public addresses; the other half ("misleaders") return up to K
// real nodes far from the target (their first bit differs from the
// target's, so each is farther than half the ID space). They answer PING
// and PROVIDE honestly and are live nodes like any other.
type advHostile struct {
	s       *Sim
	hostile map[kbucket.ID]bool
	honest  []*Node
	junk    int  // junk answers sent (hook calls)
	near    bool // fakers make up IDs next to the target instead of random ones
}

const (
	advHostileNodes   = 500
	advHostileLookups = 1000
	// advNearBits: in the near_fakes variant the made-up IDs share this
	// many leading bits with the target, so they are closer to it than any
	// real node of an 800-node network.
	advNearBits = 40
)

func newAdvHostile(t *testing.T) *advHostile {
	t.Helper()
	s, err := New(Config{Seed: 0x4057})
	if err != nil {
		t.Fatal(err)
	}
	h := &advHostile{s: s, hostile: map[kbucket.ID]bool{}}
	k := s.Config().Core.K
	faker := func(_ *Node, target kbucket.ID, honest []wire.NodeInfo) []wire.NodeInfo {
		h.junk++
		out := honest[:0]
		for range k {
			ip, _ := RandomIPv4{}.Assign(0, s.Rand())
			id := s.RandomID()
			if h.near {
				id = advRegionID(s, target, advNearBits)
			}
			out = append(out, wire.NodeInfo{ID: id, Addrs: []string{"quic://" + ip.String() + ":4433"}})
		}
		return out
	}
	misleader := func(n *Node, target kbucket.ID, honest []wire.NodeInfo) []wire.NodeInfo {
		h.junk++
		out := honest[:0]
		all := s.Nodes()
		for range 4 * k { // bounded: fewer than K when the draws miss
			m := all[s.Rand().IntN(len(all))]
			if m != n && m.Alive() && (m.ID[0]^target[0])&0x80 != 0 &&
				!slices.ContainsFunc(out, func(x wire.NodeInfo) bool { return x.ID == m.ID }) {
				out = append(out, wire.NodeInfo{ID: m.ID, Addrs: m.Peer().Addrs})
				if len(out) == k {
					break
				}
			}
		}
		return out
	}
	nodes, err := s.Build(Build{Nodes: advHostileNodes, WarmUp: 10 * time.Second, Options: func(i int) NodeOptions {
		switch {
		case i < 3 || i%10 != 5:
			return NodeOptions{}
		case i%20 == 5:
			return NodeOptions{FindNodeHook: faker}
		default:
			return NodeOptions{FindNodeHook: misleader}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Options().FindNodeHook != nil {
			h.hostile[n.ID] = true
		} else {
			h.honest = append(h.honest, n)
		}
	}
	return h
}

// randomHonest picks a random honest node other than avoid.
func (h *advHostile) randomHonest(avoid *Node) *Node {
	for {
		if n := h.honest[h.s.Rand().IntN(len(h.honest))]; n != avoid {
			return n
		}
	}
}

// advCheckBounds checks that every lookup of ops finished within its
// bound of virtual time and never exceeded the hop budget or the RPC cap.
// A lookup launches a probe only at its start or when another one resolves,
// each probe resolves within RPCTimeout, and it sends at most
// LookupMaxRPCs probes, so it ends within LookupMaxRPCs*RPCTimeout.
func advCheckBounds(t *testing.T, cfg core.Config, ops []*Op) {
	t.Helper()
	bound := time.Duration(cfg.LookupMaxRPCs) * cfg.RPCTimeout
	done, slow, deep, costly := 0, 0, 0, 0
	for _, op := range ops {
		if !op.Done {
			continue
		}
		done++
		if op.Latency() > bound {
			slow++
		}
		if r := op.Result; r != nil {
			if r.Hops > cfg.HopBudget {
				deep++
			}
			if r.RPCs > cfg.LookupMaxRPCs {
				costly++
			}
		}
	}
	if done != len(ops) || slow > 0 {
		t.Errorf("%d of %d lookups done, %d took longer than %v", done, len(ops), slow, bound)
	}
	if deep > 0 || costly > 0 {
		t.Errorf("%d lookups over the hop budget %d, %d over %d RPCs", deep, cfg.HopBudget, costly, cfg.LookupMaxRPCs)
	}
}

// TestHostilePeers is the hostile-peers scenario of issue 3: 500 nodes
// join through the protocol while 10% of them (50, see advHostile) answer
// every FIND_NODE and provider-less FIND_VALUE with random non-existent
// IDs or with real far-away nodes. After a 10 s warm-up:
//   - 1,000 FIND_NODE lookups from random honest nodes for random targets
//     succeed in >= 99%: a lookup succeeds when it ends without error and
//     its closest result is the true closest live node, by brute force
//     over every live node (hostile nodes are live nodes too, and answer
//     with code OK: they count); on average they recall >= 95% of the true
//     K closest;
//   - every lookup finishes (all Done, each within LookupMaxRPCs *
//     RPCTimeout of virtual time), none reports more hops than the hop
//     budget (5) or more RPCs than LookupMaxRPCs;
//   - 10 keys PROVIDEd by honest nodes are found by FIND_VALUE from 100
//     random honest nodes each in >= 99% of the lookups (success: a
//     record of the key's publisher comes back), within the same bounds;
//   - find_node_near_fakes repeats the FIND_NODE part with the fakers
//     making up IDs next to the target (closer than any real node), the
//     costliest junk for a lookup: same targets and bounds.
func TestHostilePeers(t *testing.T) {
	h := newAdvHostile(t)
	s, cfg := h.s, h.s.Config().Core
	t.Logf("%d nodes, %d hostile (half fakers, half misleaders)", len(s.Nodes()), len(h.hostile))

	t.Run("find_node", func(t *testing.T) { h.findNodes(t) })

	t.Run("find_value", func(t *testing.T) {
		const keys, finders = 10, 100
		var provides []*Op
		for range keys {
			provides = append(provides, s.Provide(h.randomHonest(nil), s.RandomID()))
		}
		if !s.Wait(time.Duration(cfg.LookupMaxRPCs) * cfg.RPCTimeout) {
			t.Fatal("provides did not finish")
		}
		for _, op := range provides {
			if op.Err != nil {
				t.Errorf("provide %s: %v", op.Target.Short(), op.Err)
			}
		}
		before := h.junk
		var finds []*Op
		for _, p := range provides {
			for range finders {
				finds = append(finds, s.FindValue(h.randomHonest(p.Node), p.Target))
				s.Run(2 * time.Millisecond)
			}
		}
		if !s.Wait(time.Duration(cfg.LookupMaxRPCs) * cfg.RPCTimeout) {
			t.Fatal("FIND_VALUE lookups still running after LookupMaxRPCs*RPCTimeout of virtual time")
		}
		junk := h.junk - before
		ok := 0
		pub := map[kbucket.ID]kbucket.ID{}
		for _, p := range provides {
			pub[p.Target] = p.Node.ID
		}
		for _, op := range finds {
			if op.Err == nil && slices.ContainsFunc(op.Result.Providers, func(r wire.ProviderRecord) bool {
				return r.Publisher == pub[op.Target]
			}) {
				ok++
			}
		}
		rep := Summarize(finds)
		rate := float64(ok) / float64(len(finds))
		t.Logf("replicas per PROVIDE %v\n%d FIND_VALUE: success %.4f (%d/%d), junk answers %d; rpcs p99 %.0f, hops p99 %.0f\n%v",
			Summarize(provides).Replicas, len(finds), rate, ok, len(finds), junk, rep.RPCs.P99, rep.Hops.P99, rep)
		if rate < 0.99 {
			t.Errorf("FIND_VALUE success %.4f, want >= 0.99", rate)
		}
		advCheckBounds(t, cfg, finds)
	})

	// The near_fakes variant: the fakers now make up IDs next to the
	// target, closer than any real node, so each of their answers puts K
	// dead candidates at the head of the lookup, every one of which must
	// time out. Same network, same bounds and success target.
	t.Run("find_node_near_fakes", func(t *testing.T) {
		h.near = true
		defer func() { h.near = false }()
		h.findNodes(t)
	})
}

// findNodes runs advHostileLookups FIND_NODE lookups from random honest
// nodes for random targets and checks them (see TestHostilePeers).
func (h *advHostile) findNodes(t *testing.T) {
	s, cfg := h.s, h.s.Config().Core
	before := h.junk
	ops := make([]*Op, 0, advHostileLookups)
	for range advHostileLookups {
		ops = append(ops, s.FindNode(h.randomHonest(nil), s.RandomID()))
		s.Run(5 * time.Millisecond)
	}
	if !s.Wait(time.Duration(cfg.LookupMaxRPCs) * cfg.RPCTimeout) {
		t.Fatal("lookups still running after LookupMaxRPCs*RPCTimeout of virtual time")
	}
	junk := h.junk - before
	ok := 0
	for _, op := range ops {
		if op.Err == nil && len(op.Result.Closest) > 0 &&
			op.Result.Closest[0].ID == s.TrueClosest(op.Target, 1, op.Node.ID)[0] {
			ok++
		}
	}
	rep := Summarize(ops)
	_, recall := accuracy(s, ops, cfg.K)
	rate := float64(ok) / float64(len(ops))
	t.Logf("%d FIND_NODE: success %.4f (%d/%d), recall of the true %d closest %.4f, junk answers during the phase (these lookups and background refreshes) %d; rpcs p99 %.0f (cap %d), hops p99 %.0f\n%v",
		len(ops), rate, ok, len(ops), cfg.K, recall, junk, rep.RPCs.P99, cfg.LookupMaxRPCs, rep.Hops.P99, rep)
	if rate < 0.99 {
		t.Errorf("FIND_NODE success %.4f, want >= 0.99", rate)
	}
	if recall < 0.95 {
		t.Errorf("mean recall of the true %d closest %.4f, want >= 0.95", cfg.K, recall)
	}
	if junk < len(ops) {
		t.Errorf("hostile nodes sent only %d junk answers: the scenario does not exercise them", junk)
	}
	advCheckBounds(t, cfg, ops)
}
