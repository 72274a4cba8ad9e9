package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
)

// hedgeRun is the outcome of one run of the hedging workload.
type hedgeRun struct {
	rep              Report
	exact, recall    float64 // against the true closest responsive nodes
	spawned, cancels uint64  // core Stats deltas over the workload, all nodes
	disturbed        int     // lookups with at least one failed or cancelled probe
}

// hedgeWorkload builds a 1,000-node network in which every 20th node (5%)
// answers every request 2 s late — beyond the 1.5 s rpc_timeout — and runs
// 1,000 FIND_NODE lookups from random origins (slow ones included: the
// delay is on their replies only) for random targets, every node running
// with the given Beta. The tables are filled by the oracle so that both
// runs of the comparison start from identical tables (a protocol join
// would itself hedge, or not, and diverge), and the origins and targets
// come from a source of their own so that they do not depend on how many
// messages (jitter draws) the run produced.
func hedgeWorkload(t *testing.T, beta int) hedgeRun {
	t.Helper()
	const nodes, lookups, slowEvery = 1000, 1000, 20
	cfg := core.DefaultConfig()
	cfg.Beta = beta
	s, err := New(Config{Seed: 2024, Core: cfg})
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.Build(Build{Nodes: nodes, Oracle: true, Options: func(i int) NodeOptions {
		if i%slowEvery == slowEvery-1 {
			return NodeOptions{ExtraDelay: 2 * time.Second}
		}
		return NodeOptions{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	var slow []kbucket.ID
	for _, n := range all {
		if n.Options().ExtraDelay > 0 {
			slow = append(slow, n.ID)
		}
	}
	stats := func() (spawned, canceled uint64) {
		for _, n := range all {
			st := n.Core().Stats()
			spawned += st.HedgesSpawned
			canceled += st.HedgesCanceled
		}
		return spawned, canceled
	}
	sp0, ca0 := stats()

	w := rand.New(rand.NewPCG(2024, 3)) // the workload: same in both runs
	ops := make([]*Op, 0, lookups)
	for range lookups {
		var target kbucket.ID
		for i := range target {
			target[i] = byte(w.Uint32())
		}
		ops = append(ops, s.FindNode(all[w.IntN(len(all))], target))
		s.Run(5 * time.Millisecond)
	}
	if !s.Wait(time.Minute) {
		t.Fatal("lookups did not finish within a virtual minute")
	}
	sp1, ca1 := stats()

	r := hedgeRun{rep: Summarize(ops), spawned: sp1 - sp0, cancels: ca1 - ca0}
	// Slow nodes never answer within rpc_timeout, so no lookup can confirm
	// them: accuracy is measured against the responsive nodes.
	k := s.Config().Core.K
	for _, op := range ops {
		if op.Result == nil || op.Err != nil {
			continue
		}
		want := s.TrueClosest(op.Target, k, append(slices.Clone(slow), op.Node.ID)...)
		got := op.Result.Closest
		if len(got) > 0 && got[0].ID == want[0] {
			r.exact++
		}
		hit := 0
		for _, p := range got {
			if slices.Contains(want, p.ID) {
				hit++
			}
		}
		r.recall += float64(hit) / float64(len(want))
		if op.Result.Failures+op.Result.Canceled > 0 {
			r.disturbed++
		}
	}
	r.exact /= float64(len(ops))
	r.recall /= float64(len(ops))
	return r
}

// TestHedging is the hedging scenario of issue 3: with 5% of the peers
// answering 2 s late, the same 1,000 lookups on the same network run with
// beta=1 (hedge_after 250 ms) and with beta=0. Hedging must cut the median
// lookup latency by at least 10% and must not worsen p99.
func TestHedging(t *testing.T) {
	b0 := hedgeWorkload(t, 0)
	b1 := hedgeWorkload(t, 1)
	for _, r := range []struct {
		name string
		hedgeRun
	}{{"beta=0", b0}, {"beta=1", b1}} {
		t.Logf("%s: success %.4f (%d/%d), exact %.4f, recall %.4f, lookups with a failed or cancelled probe %d\n"+
			"  latency ms p50/p95/p99 %.0f/%.0f/%.0f (mean %.1f, max %.0f)\n"+
			"  rpcs/lookup mean %.2f p50/p99 %.0f/%.0f, hops p50/p95/p99 %.0f/%.0f/%.0f\n"+
			"  hedges spawned %d, cancelled %d (all nodes, over the workload)",
			r.name, r.rep.Success, r.rep.OK, r.rep.Ops, r.exact, r.recall, r.disturbed,
			r.rep.LatencyMs.P50, r.rep.LatencyMs.P95, r.rep.LatencyMs.P99, r.rep.LatencyMs.Mean, r.rep.LatencyMs.Max,
			r.rep.RPCs.Mean, r.rep.RPCs.P50, r.rep.RPCs.P99, r.rep.Hops.P50, r.rep.Hops.P95, r.rep.Hops.P99,
			r.spawned, r.cancels)
		if r.rep.Success < 0.99 {
			t.Errorf("%s: lookup success %.4f, want >= 0.99", r.name, r.rep.Success)
		}
		if r.exact < 0.99 {
			t.Errorf("%s: true closest responsive node found in %.4f of lookups, want >= 0.99", r.name, r.exact)
		}
	}
	if b0.spawned != 0 || b1.spawned == 0 || b1.cancels == 0 {
		t.Errorf("hedges spawned/cancelled: beta=0 %d/%d, beta=1 %d/%d; want none at beta=0, some at beta=1",
			b0.spawned, b0.cancels, b1.spawned, b1.cancels)
	}
	p50gain := 1 - b1.rep.LatencyMs.P50/b0.rep.LatencyMs.P50
	t.Logf("median latency: beta=1 %.0f ms vs beta=0 %.0f ms (%.1f%% lower); p99 %.0f vs %.0f ms",
		b1.rep.LatencyMs.P50, b0.rep.LatencyMs.P50, 100*p50gain, b1.rep.LatencyMs.P99, b0.rep.LatencyMs.P99)
	if p50gain < 0.10 {
		t.Errorf("beta=1 improves the median latency by %.1f%% over beta=0, want >= 10%%", 100*p50gain)
	}
	if b1.rep.LatencyMs.P99 > b0.rep.LatencyMs.P99 {
		t.Errorf("beta=1 worsens p99 latency: %.0f ms vs %.0f ms at beta=0", b1.rep.LatencyMs.P99, b0.rep.LatencyMs.P99)
	}
}
