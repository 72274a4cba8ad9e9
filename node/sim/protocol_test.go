package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// accuracy measures FIND_NODE results against brute force: the share of
// lookups whose closest result is the true closest live node, and the mean
// recall of the true k closest.
func accuracy(s *Sim, ops []*Op, k int) (exact, recall float64) {
	for _, op := range ops {
		if op.Result == nil || op.Err != nil {
			continue
		}
		want := s.TrueClosest(op.Target, k, op.Node.ID)
		got := op.Result.Closest
		if len(got) > 0 && got[0].ID == want[0] {
			exact++
		}
		hit := 0
		for _, p := range got {
			if slices.Contains(want, p.ID) {
				hit++
			}
		}
		recall += float64(hit) / float64(len(want))
	}
	return exact / float64(len(ops)), recall / float64(len(ops))
}

// randomLive picks a random live node other than those in avoid.
func randomLive(s *Sim, avoid ...*Node) *Node {
	all := s.Nodes()
	for {
		n := all[s.Rand().IntN(len(all))]
		if n.Alive() && !slices.Contains(avoid, n) {
			return n
		}
	}
}

// TestProtocol1000 is the 1,000-node scenario of issue 3: the network is
// bootstrapped from 3 seeds through the protocol (each node joins with a
// self-lookup and refreshes its buckets), then
//   - 1,000 FIND_NODE lookups for random targets from random nodes find the
//     true closest live node in >= 99% and recall >= 95% of the true k
//     closest on average, with hop p99 <= 5;
//   - keys PROVIDEd from random nodes are found by FIND_VALUE from 100 other
//     random nodes each in >= 99.5% of the lookups, with >= 18 of 20
//     replicas stored on average.
func TestProtocol1000(t *testing.T) {
	s, err := New(Config{Seed: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// The joins take 10 s of virtual time (one every 10 ms); a 5 s
	// warm-up lets the last joiners' refresh lookups finish.
	if _, err := s.Build(Build{Nodes: 1000, Seeds: 3, WarmUp: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	k := s.Config().Core.K

	t.Run("find_node", func(t *testing.T) {
		ops := make([]*Op, 0, 1000)
		for range 1000 {
			ops = append(ops, s.FindNode(randomLive(s), s.RandomID()))
			s.Run(5 * time.Millisecond)
		}
		if !s.Wait(time.Minute) {
			t.Fatal("lookups did not finish within a virtual minute")
		}
		rep := Summarize(ops)
		exact, recall := accuracy(s, ops, k)
		t.Logf("1000 nodes, 1000 FIND_NODE: exact %.4f recall %.4f\n%v", exact, recall, rep)
		if exact < 0.99 {
			t.Errorf("true closest found in %.4f of lookups, want >= 0.99", exact)
		}
		if recall < 0.95 {
			t.Errorf("mean recall of the true %d closest %.4f, want >= 0.95", k, recall)
		}
		if rep.Hops.P99 > 5 {
			t.Errorf("hop p99 = %v, want <= 5", rep.Hops.P99)
		}
	})

	t.Run("provide_find_value", func(t *testing.T) {
		const keys, finders = 10, 100
		var provides []*Op
		publishers := map[kbucket.ID]*Node{}
		for range keys {
			key, pub := s.RandomID(), randomLive(s)
			publishers[key] = pub
			provides = append(provides, s.Provide(pub, key))
		}
		if !s.Wait(time.Minute) {
			t.Fatal("provides did not finish")
		}
		stored := 0
		for _, op := range provides {
			if op.Err != nil {
				t.Errorf("provide %s: %v", op.Target.Short(), op.Err)
			}
			// Independently of the provide's own count: how many of the
			// true k closest nodes hold the record?
			for _, id := range s.TrueClosest(op.Target, k, op.Node.ID) {
				n, _ := s.Node(id)
				if recs := n.Core().LocalProviders(s.Time(), op.Target); len(recs) == 1 && recs[0].Publisher == op.Node.ID {
					stored++
				}
			}
		}
		rep := Summarize(provides)
		held := float64(stored) / keys
		t.Logf("replicas per PROVIDE: %v; held by the true %d closest: %.2f on average", rep.Replicas, k, held)
		if rep.Replicas.Mean < 18 || held < 18 {
			t.Errorf("replicas stored on average: %.2f reported, %.2f held, want >= 18", rep.Replicas.Mean, held)
		}

		var finds []*Op
		for _, p := range provides {
			for range finders {
				finds = append(finds, s.FindValue(randomLive(s, publishers[p.Target]), p.Target))
				s.Run(2 * time.Millisecond)
			}
		}
		if !s.Wait(time.Minute) {
			t.Fatal("find value lookups did not finish")
		}
		ok := 0
		for _, op := range finds {
			if op.Err == nil && len(op.Result.Providers) > 0 && op.Result.Providers[0].Publisher == publishers[op.Target].ID {
				ok++
			}
		}
		frep := Summarize(finds)
		rate := float64(ok) / float64(len(finds))
		t.Logf("%d FIND_VALUE: success %.4f\n%v", len(finds), rate, frep)
		if rate < 0.995 {
			t.Errorf("FIND_VALUE success %.4f, want >= 0.995", rate)
		}
		if frep.Hops.P99 > 5 {
			t.Errorf("FIND_VALUE hop p99 = %v, want <= 5", frep.Hops.P99)
		}
	})
}

// coverage counts what a scenario exercised, so that a determinism check
// cannot pass on a run that quietly stopped doing something.
type coverage struct {
	hedges, canceled, failures int // summed over the operations' results
	valuesFound                int // FIND_VALUE lookups that returned a provider
	restarts                   int // kills and revives (churn)
}

// scenario runs a small but busy scenario — joins, loss, jitter, churn, a
// partition, a slow and a hostile node, lookups (hedged: the slow node and
// lost messages trigger hedges), provides and finds — and returns the trace
// hash, the report and what was exercised.
func scenario(t *testing.T, seed uint64) (uint64, Report, coverage) {
	t.Helper()
	s, err := New(Config{Seed: seed, Loss: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := s.Build(Build{Nodes: 150, WarmUp: 2 * time.Second, Options: func(i int) NodeOptions {
		switch i {
		case 10:
			return NodeOptions{ExtraDelay: 600 * time.Millisecond}
		case 11:
			return NodeOptions{FindNodeHook: func(n *Node, _ kbucket.ID, _ []wire.NodeInfo) []wire.NodeInfo {
				return []wire.NodeInfo{{ID: s.RandomID()}}
			}}
		}
		return NodeOptions{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Rate 10/h of 150 nodes over 20 s: about 8 leaves expected, so the
	// scenario restarts nodes whatever the seed (at 2/h, 1 in 3 seeds saw
	// none and the coverage check below failed by chance).
	if err := s.StartChurn(Churn{Rate: 10, Until: s.Now() + 20*time.Second, Rejoin: true,
		Protect: func(n *Node) bool { return n.Index() < 3 }}); err != nil {
		t.Fatal(err)
	}
	s.Partition(nodes[20:40], nodes[40:80], 3*time.Second)
	var ops []*Op
	for i := range 60 {
		ops = append(ops, s.FindNode(randomLive(s), s.RandomID()))
		if i%10 == 0 {
			key := s.RandomID()
			ops = append(ops, s.Provide(randomLive(s), key))
			s.Run(time.Second)
			ops = append(ops, s.FindValue(randomLive(s), key))
		}
		s.Run(100 * time.Millisecond)
	}
	s.Wait(time.Minute)
	var cov coverage
	for _, op := range ops {
		if r := op.Result; r != nil {
			cov.hedges += r.Hedges
			cov.canceled += r.Canceled
			cov.failures += r.Failures
			if op.Kind == wire.OpFindValue && op.Err == nil && len(r.Providers) > 0 {
				cov.valuesFound++
			}
		}
	}
	for _, n := range s.Nodes() {
		cov.restarts += int(n.inc)
	}
	return s.TraceHash(), Summarize(ops), cov
}

func TestDeterminism(t *testing.T) {
	h1, r1, c1 := scenario(t, 7)
	h2, r2, c2 := scenario(t, 7)
	if h1 != h2 {
		t.Fatalf("same seed, different traces: %x vs %x", h1, h2)
	}
	if r1.String() != r2.String() || c1 != c2 {
		t.Fatalf("same seed, different reports:\n%v %+v\n%v %+v", r1, c1, r2, c2)
	}
	if c1.hedges == 0 || c1.canceled == 0 || c1.failures == 0 || c1.valuesFound == 0 || c1.restarts == 0 {
		t.Fatalf("the scenario did not exercise hedging, probe failures, FIND_VALUE and churn: %+v", c1)
	}
	h3, _, _ := scenario(t, 8)
	if h3 == h1 {
		t.Fatalf("seeds 7 and 8 gave the same trace hash %x", h1)
	}
	if r1.Ops == 0 || r1.OK == 0 {
		t.Fatalf("the scenario did nothing: %v", r1)
	}
	t.Logf("trace %x (seed 8: %x), exercised %+v\n%v", h1, h3, c1, r1)
}

// TestOracleBuild: a network built by filling the tables from the
// membership answers lookups as well as a joined one.
func TestOracleBuild(t *testing.T) {
	s, err := New(Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Build(Build{Nodes: 2000, Oracle: true}); err != nil {
		t.Fatal(err)
	}
	var ops []*Op
	for range 300 {
		ops = append(ops, s.FindNode(randomLive(s), s.RandomID()))
		s.Run(5 * time.Millisecond)
	}
	s.Wait(time.Minute)
	exact, recall := accuracy(s, ops, s.Config().Core.K)
	rep := Summarize(ops)
	if exact < 0.99 || recall < 0.95 || rep.Hops.P99 > 5 {
		t.Fatalf("oracle-built network: exact %.3f recall %.3f\n%v", exact, recall, rep)
	}
}
