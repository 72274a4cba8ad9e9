package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
)

// churnFoundClosest reports whether op ended without error with the true
// closest live node to its target (brute force, the origin left out) first
// in its result.
func churnFoundClosest(s *Sim, op *Op) bool {
	if !op.Done || op.Err != nil || op.Result == nil || len(op.Result.Closest) == 0 {
		return false
	}
	want := s.TrueClosest(op.Target, 1, op.Node.ID)
	return len(want) == 1 && op.Result.Closest[0].ID == want[0]
}

// churnDeadEntries returns the share of the routing-table entries of the
// live nodes that point to dead nodes.
func churnDeadEntries(s *Sim) float64 {
	var buf []kbucket.Peer
	dead, all := 0, 0
	for _, n := range s.Live() {
		buf = n.Core().Table().Snapshot().Peers(buf[:0])
		for _, p := range buf {
			all++
			if m, ok := s.Node(p.ID); !ok || !m.Alive() {
				dead++
			}
		}
	}
	if all == 0 {
		return 0
	}
	return float64(dead) / float64(all)
}

// TestChurnRecovery is the churn scenario of issue 3. 1,000 nodes join
// through 3 seeds and warm up for 30 s; then 20% of them (any node, seeds
// included) are killed at once and the survivors are left alone for 600
// virtual seconds. In every 30 s window, 200 FIND_NODE lookups for random
// targets start from random live nodes, evenly spread over the window. A
// lookup succeeds when it ends without error with the true closest live
// node first in its result (brute force over the survivors; nobody joins
// or leaves after the kill, so the truth does not move).
//
// Asserted: success is >= 99% in every window from some window starting
// at most 300 s after the kill on (at the latest, the 300-330 s window and
// every later one). Also asserted, as the sign that the tables
// repair themselves rather than lookups merely routing around the dead:
// the share of routing-table entries pointing to dead nodes is at most
// half its value at the kill by 300 s, and at most 2% at the end.
//
// bucket_refresh_interval is 120 s, the top of its range, for every node
// (the default 30 s makes the 600 s run four times as expensive): table
// repair by refresh is then the slowest the configuration allows, so the
// recovery shown is a lower bound.
//
// Under -short it is skipped: about 3.5 M events, over a minute with -race.
func TestChurnRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: 600 virtual seconds of a 1,000-node network (~3.5 M events) take over a minute with -race")
	}
	const (
		size      = 1000
		killed    = size / 5
		window    = 30 * time.Second
		windows   = 20 // 600 s after the kill
		perWindow = 200
		deadline  = 300 * time.Second
		target    = 0.99
	)
	cfg := Config{Seed: 2020, Core: core.DefaultConfig()}
	cfg.Core.BucketRefreshInterval = 120 * time.Second
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Build(Build{Nodes: size, Seeds: 3, WarmUp: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if got := len(s.KillRandom(killed, nil)); got != killed {
		t.Fatalf("killed %d nodes, want %d", got, killed)
	}
	ops := make([][]*Op, windows)
	dead := make([]float64, windows+1) // at the start of each window, and at the end
	for w := range ops {
		dead[w] = churnDeadEntries(s)
		for range perWindow {
			ops[w] = append(ops[w], s.FindNode(randomLive(s), s.RandomID()))
			s.Run(window / perWindow)
		}
	}
	dead[windows] = churnDeadEntries(s)
	if !s.Wait(time.Minute) {
		t.Fatal("lookups did not finish within a virtual minute of the last window")
	}

	rates := make([]float64, windows)
	var log strings.Builder
	fmt.Fprintf(&log, "%d nodes, %d killed at t=0; per %v window, %d FIND_NODE lookups each:\n", size, killed, window, perWindow)
	for w, wops := range ops {
		ok, fails := 0, 0
		for _, op := range wops {
			if churnFoundClosest(s, op) {
				ok++
			}
			if op.Result != nil {
				fails += op.Result.Failures
			}
		}
		rates[w] = float64(ok) / float64(len(wops))
		rep := Summarize(wops)
		fmt.Fprintf(&log, "  %3.0f-%3.0fs: success %5.1f%% (%d/%d), dead table entries %4.1f%%, failed probes/lookup %.2f, latency p50/p99 %.0f/%.0f ms, hops p50/p99 %.0f/%.0f, rpcs mean %.1f\n",
			(time.Duration(w) * window).Seconds(), (time.Duration(w+1) * window).Seconds(),
			100*rates[w], ok, len(wops), 100*dead[w], float64(fails)/float64(len(wops)),
			rep.LatencyMs.P50, rep.LatencyMs.P99, rep.Hops.P50, rep.Hops.P99, rep.RPCs.Mean)
	}
	// recovered is the number of windows after which success stays >= target.
	recovered := windows
	for recovered > 0 && rates[recovered-1] >= target {
		recovered--
	}
	at := time.Duration(recovered) * window
	atDeadline := int(deadline / window)
	fmt.Fprintf(&log, "success >= %.0f%% in every window from %v after the kill on; dead table entries %.1f%% at the kill, %.1f%% at %v, %.2f%% at %v; %d events",
		100*target, at, 100*dead[0], 100*dead[atDeadline], deadline, 100*dead[windows], time.Duration(windows)*window, s.Events())
	t.Log(log.String())
	switch {
	case recovered == windows:
		t.Errorf("success %.1f%% in the last window, want >= %.0f%%: not recovered within %v", 100*rates[windows-1], 100*target, time.Duration(windows)*window)
	case at > deadline:
		t.Errorf("success stays >= %.0f%% only from %v after the kill, want <= %v", 100*target, at, deadline)
	}
	if dead[atDeadline] > dead[0]/2 {
		t.Errorf("dead table entries %.1f%% at %v after the kill, want <= half of the %.1f%% at the kill", 100*dead[atDeadline], deadline, 100*dead[0])
	}
	if dead[windows] > 0.02 {
		t.Errorf("dead table entries %.2f%% at %v after the kill, want <= 2%%", 100*dead[windows], time.Duration(windows)*window)
	}
}

// TestScale10k is the scale scenario of issue 3: 10,000 nodes under
// 10%/hour churn, 10,000 FIND_NODE lookups.
//
// The network is built with Build.Oracle (every table filled from the
// membership, as a converged network has it), not by protocol join: a
// protocol join of 10,000 nodes processes ~16.6 M events (24 lookups per
// node: the join, a refresh of every bucket right after it, and the
// periodic refreshes during the 100 s of joins), 4 minutes of CPU. To
// give the tables the staleness of real churn, the network is then aged
// by the turnover of an hour at 10%/h: 1,000 random nodes are killed (their
// entries stay in the others' tables until lookups find them dead) and
// 1,000 new nodes join through the seeds by the protocol, one every 10 ms.
// Then churn runs at 10%/h (Sim.StartChurn: Poisson leaves and joins of new
// nodes) for 90 virtual seconds while 10,000 lookups for random targets
// start from random live nodes, one every 9 ms.
//
// bucket_refresh_interval is 120 s: the whole run stays within one interval
// of the oracle fill, so no background refresh repairs the tables (the
// 10,000 synchronised refreshes of every bucket would cost ~10 M events);
// the lookups see the aged tables as they are.
//
// A lookup succeeds when it ends without error with the true closest live
// node first in its result, checked (brute force) within 9 virtual ms of
// its end, before churn can move the truth. Lookups whose origin left
// before they ended (ErrNodeLeft) are counted apart, not as failures.
// Asserted: success >= 99%, and over the successful lookups hop p50 <= 3,
// p95 <= 4, p99 <= 5. Logged: latency and RPCs per lookup, simulated
// events, wall time and simulated lookups per wall second.
//
// Under -short it is skipped: about 3.2 M events, over a minute even
// without -race.
func TestScale10k(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: a 10,000-node network and 10,000 lookups (~3.2 M events) take over a minute even without -race")
	}
	const (
		size    = 10000
		lookups = 10000
		churn   = 0.10 // per hour
		period  = 90 * time.Second
		gap     = period / lookups
	)
	wall0 := time.Now() // wall time is only logged, never asserted
	cfg := Config{Seed: 10000, Core: core.DefaultConfig()}
	cfg.Core.BucketRefreshInterval = 120 * time.Second
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := s.Build(Build{Nodes: size, Seeds: 3, Oracle: true})
	if err != nil {
		t.Fatal(err)
	}
	seeds := nodes[:3]
	isSeed := func(n *Node) bool { return n.Index() < len(seeds) }

	// Age the network by an hour's turnover.
	turnover := int(churn * size)
	s.KillRandom(turnover, isSeed)
	for i := range turnover {
		s.At(time.Duration(i)*10*time.Millisecond, func() {
			if n, err := s.AddNode(NodeOptions{}); err != nil {
				t.Errorf("aging: add node: %v", err)
			} else {
				s.Join(n, seeds)
			}
		})
	}
	s.Run(time.Duration(turnover)*10*time.Millisecond + 2*time.Second)
	if !s.Wait(time.Minute) {
		t.Fatal("aging joins did not finish within a virtual minute")
	}
	built, wallBuilt, nodesBefore := s.Events(), time.Since(wall0), len(s.Nodes())

	if err := s.StartChurn(Churn{Rate: churn, Until: s.Now() + period, Protect: isSeed}); err != nil {
		t.Fatal(err)
	}
	ops := make([]*Op, 0, lookups)
	var pending []*Op
	ok, left := 0, 0
	check := func() { // judge the lookups that ended since the last call
		rest := pending[:0]
		for _, op := range pending {
			switch {
			case !op.Done:
				rest = append(rest, op)
			case op.Err == ErrNodeLeft:
				left++
			case churnFoundClosest(s, op):
				ok++
			}
		}
		pending = rest
	}
	for range lookups {
		op := s.FindNode(randomLive(s), s.RandomID())
		ops, pending = append(ops, op), append(pending, op)
		s.Run(gap)
		check()
	}
	for limit := s.Now() + time.Minute; len(pending) > 0 && s.Now() < limit; {
		s.Run(gap)
		check()
	}
	if len(pending) > 0 {
		t.Fatalf("%d lookups did not finish within a virtual minute of the last start", len(pending))
	}
	wall := time.Since(wall0)
	wallLookups := wall - wallBuilt

	dead := 0
	for _, n := range s.Nodes() {
		if !n.Alive() {
			dead++
		}
	}
	judged := lookups - left
	rate := float64(ok) / float64(judged)
	rep := Summarize(ops)
	t.Logf("10k nodes (oracle-built, aged by %d leaves + %d protocol joins), churn %.0f%%/h over %v: %d nodes added by churn, %d nodes dead at the end, %d live",
		turnover, turnover, 100*churn, period, len(s.Nodes())-nodesBefore, dead, len(s.Live()))
	t.Logf("%d FIND_NODE: success %.2f%% (%d/%d; %d more ended by their origin leaving), hop p50/p95/p99 %.0f/%.0f/%.0f (max %.0f), latency p50/p95/p99 %.0f/%.0f/%.0f ms, rpcs/lookup mean %.1f p99 %.0f",
		lookups, 100*rate, ok, judged, left, rep.Hops.P50, rep.Hops.P95, rep.Hops.P99, rep.Hops.Max,
		rep.LatencyMs.P50, rep.LatencyMs.P95, rep.LatencyMs.P99, rep.RPCs.Mean, rep.RPCs.P99)
	t.Logf("virtual end %v; events %d (build and aging %d, lookup period %d), wall %v (build and aging %v, lookup period %v), %.0f simulated lookups per wall second in the lookup period\n%v",
		s.Now(), s.Events(), built, s.Events()-built, wall.Round(time.Millisecond), wallBuilt.Round(time.Millisecond), wallLookups.Round(time.Millisecond),
		float64(lookups)/wallLookups.Seconds(), rep)
	if rate < 0.99 {
		t.Errorf("success %.4f, want >= 0.99", rate)
	}
	if rep.Hops.P50 > 3 || rep.Hops.P95 > 4 || rep.Hops.P99 > 5 {
		t.Errorf("hop p50/p95/p99 = %v/%v/%v, want <= 3/4/5", rep.Hops.P50, rep.Hops.P95, rep.Hops.P99)
	}
}
