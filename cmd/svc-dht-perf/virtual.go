package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/sim"
	"github.com/svc-dht/svc-dht/wire"
)

// oracleAbove is the network size from which --oracle auto fills the
// routing tables from the membership instead of running the protocol join
// (a 1,000-node join is ~0.8 M events; 100,000 would take far too long).
const oracleAbove = 2000

// coreConfig returns the protocol knobs of the run.
func (o *options) coreConfig() core.Config {
	cc := core.DefaultConfig()
	cc.K, cc.Alpha, cc.Beta = o.k, o.alpha, o.beta
	cc.LookupMaxRPCs = 10 * o.k
	cc.Table.K, cc.Table.ReplacementCache = o.k, o.k
	return cc
}

// runVirtual runs the simulator: build the network, start o.lookups
// operations of the mix at o.rps per virtual second from random live
// peers, then summarise.
func runVirtual(ctx context.Context, o *options, res *perfresult.Result, stderr io.Writer) error {
	jitter := o.jitter
	if jitter == 0 {
		jitter = -1 // the simulator's "none"
	}
	s, err := sim.New(sim.Config{Seed: o.seed, Core: o.coreConfig(), RTTMin: o.rttMin, RTTMax: o.rttMax, Jitter: jitter, Loss: o.loss})
	if err != nil {
		return fmt.Errorf("virtual: %w", err)
	}
	oracle := o.oracle == "on" || (o.oracle == "auto" && o.peers > oracleAbove)
	wall := time.Now()
	nodes, err := s.Build(sim.Build{Nodes: o.peers, Oracle: oracle})
	if err != nil {
		return fmt.Errorf("virtual: %w", err)
	}
	buildWall, buildEvents := time.Since(wall), s.Events()
	if o.progress {
		fmt.Fprintf(stderr, "svc-dht-perf: virtual network of %d peers built in %v (oracle %v, %d events)\n", o.peers, buildWall.Round(time.Millisecond), oracle, buildEvents)
	}
	if o.churn > 0 {
		seeds := s.Seeds()
		protect := func(n *sim.Node) bool {
			for _, sd := range seeds {
				if sd == n {
					return true
				}
			}
			return false
		}
		if err := s.StartChurn(sim.Churn{Rate: o.churn, Protect: protect}); err != nil {
			return fmt.Errorf("virtual: %w", err)
		}
	}

	interval := time.Second / time.Duration(o.rps)
	ops := make([]*sim.Op, 0, o.lookups)
	var keys []kbucket.ID // provided keys, looked up by FIND_VALUE
	rng := s.Rand()
	start, runWall, e0 := s.Now(), time.Now(), s.Events()
	lastProgress := runWall
	for i := 0; i < o.lookups; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("virtual: %w", err)
			}
			if now := time.Now(); o.progress && now.Sub(lastProgress) >= time.Second {
				lastProgress = now
				virtualProgress(stderr, now.Sub(runWall), i, ops, s.Now()-start)
			}
		}
		n := nodes[rng.IntN(len(nodes))]
		for !n.Alive() {
			n = s.Nodes()[rng.IntN(len(s.Nodes()))]
		}
		switch pickKind(o.mix, rng.Uint64()) {
		case kFindValue:
			key := s.RandomID()
			if len(keys) > 0 {
				key = keys[rng.IntN(len(keys))]
			}
			ops = append(ops, s.FindValue(n, key))
		case kFindNode:
			ops = append(ops, s.FindNode(n, s.RandomID()))
		default:
			key := s.RandomID()
			keys = append(keys, key)
			ops = append(ops, s.Provide(n, key))
		}
		s.Run(interval)
	}
	if !s.Wait(5 * time.Minute) {
		res.Notes = append(res.Notes, "some operations had not finished after 5 virtual minutes")
	}
	virt := s.Now() - start
	runTime := time.Since(runWall)
	events := s.Events() - e0

	rec := newRecorder()
	var rpcs, lookups float64
	for _, op := range ops {
		if !op.Done {
			continue
		}
		kind := kFindNode
		switch op.Kind {
		case wire.OpFindValue:
			kind = kFindValue
		case wire.OpProvide:
			kind = kProvide
		}
		hops := -1
		if op.Err == nil && op.Result != nil {
			hops = op.Result.Hops
			rpcs += float64(op.Result.RPCs)
			lookups++
		}
		if kind == kProvide && op.Result != nil {
			rec.replicated(op.Result.Replicas)
		}
		rec.record(kind, op.Latency(), codeName(op.Err), hops)
	}
	rec.fill(res)
	rep := sim.Summarize(ops)
	res.DurationS = max(virt.Seconds(), 1e-9)
	res.AchievedRPS = perfresult.Ptr(float64(rec.done.Load()) / res.DurationS)
	if lookups > 0 {
		res.RPCsPerLookup = perfresult.Ptr(rpcs / lookups)
	}
	res.Notes = append(res.Notes,
		"virtual time: latencies are virtual milliseconds; achieved_rps is operations per virtual second",
		fmt.Sprintf("network built with oracle tables: %v (%d peers, %d events, wall %v)", oracle, o.peers, buildEvents, buildWall.Round(time.Millisecond)),
		fmt.Sprintf("operations: %d started, %d done, success %.4f; rpcs_per_lookup counts every RPC of a successful operation (PROVIDE stores included)", rep.Ops, rep.Done, rep.Success),
		fmt.Sprintf("wall %v for %v of virtual time: %d events, %.0f events/s", runTime.Round(time.Millisecond), virt.Round(time.Millisecond), events, float64(events)/max(runTime.Seconds(), 1e-9)),
		fmt.Sprintf("trace hash %016x; live peers at the end %d", s.TraceHash(), len(s.Live())),
	)
	return nil
}

func virtualProgress(w io.Writer, wall time.Duration, started int, ops []*sim.Op, virt time.Duration) {
	var h hist
	for _, op := range ops {
		if op.Done {
			h.record(op.Latency())
		}
	}
	fmt.Fprintf(w, "svc-dht-perf: %5.1fs  ops %d started, %d done  %.0f/s  virtual %v  p50 %.2fms p99 %.2fms (virtual)\n",
		wall.Seconds(), started, h.n.Load(), float64(h.n.Load())/wall.Seconds(), virt.Round(time.Millisecond), h.quantile(0.5), h.quantile(0.99))
}
