package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/api"
	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/logx"
	"github.com/svc-dht/svc-dht/node/memnet"
	"github.com/svc-dht/svc-dht/node/runtime"
	"github.com/svc-dht/svc-dht/node/transport"
)

// swarmSeeds is how many of the first peers act as seeds: peer 0 is the
// first node of the network, peers 1 and 2 join through the ones before
// them, every other peer gets all three (bootstrap.required 1).
const swarmSeeds = 3

// keyRing keeps the most recently provided keys for FIND_VALUE to look up.
type keyRing struct {
	mu   sync.Mutex
	keys []kbucket.ID
	next int
}

const keyRingSize = 4096

func (k *keyRing) add(key kbucket.ID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) < keyRingSize {
		k.keys = append(k.keys, key)
		return
	}
	k.keys[k.next] = key
	k.next = (k.next + 1) % keyRingSize
}

// pick returns a provided key chosen by r, or false when none is.
func (k *keyRing) pick(r uint64) (kbucket.ID, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 {
		return kbucket.ID{}, false
	}
	return k.keys[r%uint64(len(k.keys))], true
}

// randomID derives an ID from r.
func randomID(r uint64) kbucket.ID {
	var id kbucket.ID
	for i := 0; i < len(id); i += 8 {
		r = splitmix(r)
		binary.BigEndian.PutUint64(id[i:], r)
	}
	return id
}

// swarm is a running in-process network.
type swarm struct {
	net    *memnet.Network
	nodes  []*runtime.Node
	starts []time.Time
}

// swarmConfig is the configuration of peer i, seeded by seedList.
func swarmConfig(o *options, seedList []string) (*config.Config, error) {
	cfg, err := config.Defaults(config.Profile(o.profile))
	if err != nil {
		return nil, fmt.Errorf("swarm config: %w", err)
	}
	cfg.K, cfg.Alpha, cfg.Beta = o.k, o.alpha, o.beta
	cfg.EventLoops = 1
	cfg.Amnesia.Enabled = true
	cfg.DataDir, cfg.KeyFile = "", ""
	cfg.Bootstrap.UseDefaultSeeds = false
	cfg.Bootstrap.Seeds = seedList
	cfg.Bootstrap.Required = min(1, len(seedList))
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("swarm config: %w", err)
	}
	return cfg, nil
}

// startSwarm builds the network and starts o.peers nodes on it.
func startSwarm(ctx context.Context, o *options, stderr io.Writer) (*swarm, error) {
	level, err := logx.ParseLevel(o.logLevel)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	log, err := logx.New(stderr, logx.Options{Level: level})
	if err != nil {
		return nil, fmt.Errorf("swarm: %w", err)
	}
	base, err := swarmConfig(o, nil)
	if err != nil {
		return nil, err
	}
	net, err := memnet.New(memnet.Config{Seed: o.seed, RTTMin: o.rttMin, RTTMax: o.rttMax, Jitter: o.jitter,
		Loss: o.loss, FrameMax: int(base.FrameMax), RPCTimeout: base.RPCTimeout})
	if err != nil {
		return nil, fmt.Errorf("swarm: %w", err)
	}
	newTransport := func(id *identity.Identity, h transport.Handler) (runtime.Transport, error) {
		e, err := net.Listen(id, h)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
	sw := &swarm{net: net, nodes: make([]*runtime.Node, 0, o.peers), starts: make([]time.Time, 0, o.peers)}
	var seedList []string
	lastProgress := time.Now()
	for i := range o.peers {
		if now := time.Now(); o.progress && now.Sub(lastProgress) >= time.Second {
			lastProgress = now
			fmt.Fprintf(stderr, "svc-dht-perf: starting peers: %d/%d\n", i, o.peers)
		}
		var ent [32]byte
		binary.LittleEndian.PutUint64(ent[:], o.seed)
		binary.LittleEndian.PutUint64(ent[8:], uint64(i))
		entropy := rand.NewChaCha8(ent)
		id, err := identity.Generate(entropy, base.PQ.DualSign)
		if err != nil {
			return sw, fmt.Errorf("swarm: peer %d: %w", i, err)
		}
		cfg, err := swarmConfig(o, seedList)
		if err != nil {
			return sw, err
		}
		n, err := runtime.New(cfg, runtime.Options{
			Logger: log.With("peer", i), Identity: id, Entropy: entropy,
			Rand: rand.New(rand.NewPCG(o.seed, uint64(i))), DisableOps: true, NewTransport: newTransport,
		})
		if err != nil {
			return sw, fmt.Errorf("swarm: peer %d: %w", i, err)
		}
		start := time.Now()
		if err := n.Start(ctx); err != nil {
			return sw, fmt.Errorf("swarm: peer %d: %w", i, err)
		}
		sw.nodes, sw.starts = append(sw.nodes, n), append(sw.starts, start)
		if i < swarmSeeds {
			seedList = append(seedList, n.ID().String()+"@"+n.Addrs()[0])
		}
	}
	return sw, nil
}

// stop shuts every node down, a few at a time.
func (sw *swarm) stop() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, n := range sw.nodes {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = n.Shutdown(ctx)
			cancel()
			<-sem
		}()
	}
	wg.Wait()
}

// waitReady polls every node until all are ready or timeout passes, and
// returns each one's time to ready (-1: not ready) and when the last one
// got ready.
func (sw *swarm) waitReady(ctx context.Context, timeout time.Duration, stderr io.Writer, verbose bool) ([]time.Duration, time.Time) {
	readyIn := make([]time.Duration, len(sw.nodes))
	for i := range readyIn {
		readyIn[i] = -1
	}
	left, last := len(sw.nodes), time.Time{}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	lastProgress := time.Now()
	for left > 0 {
		select {
		case <-ctx.Done():
			return readyIn, last
		case <-deadline.C:
			return readyIn, last
		case now := <-tick.C:
			for i, n := range sw.nodes {
				if readyIn[i] >= 0 {
					continue
				}
				if ok, _ := n.Ready(); ok {
					readyIn[i], last = now.Sub(sw.starts[i]), now
					left--
				}
			}
			if verbose && now.Sub(lastProgress) >= time.Second {
				lastProgress = now
				fmt.Fprintf(stderr, "svc-dht-perf: %5.1fs  ready %d/%d peers\n", now.Sub(sw.starts[0]).Seconds(), len(sw.nodes)-left, len(sw.nodes))
			}
		}
	}
	return readyIn, last
}

// counters sums the nodes' statistics counters.
func (sw *swarm) counters(ctx context.Context) (map[string]uint64, error) {
	sum := make(map[string]uint64)
	for _, n := range sw.nodes {
		st, err := n.Stats(ctx)
		if err != nil {
			return nil, fmt.Errorf("swarm: stats: %w", err)
		}
		for k, v := range st.Counters {
			sum[k] += v
		}
	}
	return sum, nil
}

// served is the number of inbound RPCs the nodes' cores handled.
func served(c map[string]uint64) uint64 {
	var s uint64
	for k, v := range c {
		if strings.HasPrefix(k, "rpcs_in_") {
			s += v
		}
	}
	return s
}

// metricSum renders every node's metrics and sums the samples of family
// name (every label set).
func (sw *swarm) metricSum(name string) (float64, error) {
	var buf bytes.Buffer
	var sum float64
	for _, n := range sw.nodes {
		buf.Reset()
		if err := n.Metrics().WritePrometheus(&buf); err != nil {
			return 0, fmt.Errorf("swarm: metrics: %w", err)
		}
		v, _, err := scanSum(&buf, name)
		if err != nil {
			return 0, fmt.Errorf("swarm: %w", err)
		}
		sum += v
	}
	return sum, nil
}

// runSwarm runs the swarm mode: start the peers, wait until they are
// ready, then drive the open-loop mix through random peers' API methods.
func runSwarm(ctx context.Context, o *options, res *perfresult.Result, stderr io.Writer) error {
	sw, err := startSwarm(ctx, o, stderr)
	if sw != nil {
		defer sw.stop()
	}
	if err != nil {
		return err
	}
	if o.progress {
		fmt.Fprintf(stderr, "svc-dht-perf: %d peers started in %v\n", len(sw.nodes), time.Since(sw.starts[0]).Round(time.Millisecond))
	}
	readyIn, lastReady := sw.waitReady(ctx, o.readyTO, stderr, o.progress)
	var ready []float64
	for _, d := range readyIn {
		if d >= 0 {
			ready = append(ready, d.Seconds())
		}
	}
	if len(ready) > 0 {
		slices.Sort(ready)
		q := func(p float64) float64 { return ready[max(int(p*float64(len(ready))+0.999999)-1, 0)] }
		res.ReadyS = &perfresult.Ready{P50: q(0.50), P95: q(0.95)}
		res.Notes = append(res.Notes, fmt.Sprintf("whole swarm ready in %.2fs (first start to last peer ready); %d/%d peers ready",
			lastReady.Sub(sw.starts[0]).Seconds(), len(ready), len(sw.nodes)))
	}
	if len(ready) < len(sw.nodes) {
		res.Notes = append(res.Notes, fmt.Sprintf("%d peers not ready within --ready-timeout %v; the load ran anyway", len(sw.nodes)-len(ready), o.readyTO))
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	c0, err := sw.counters(ctx)
	if err != nil {
		return err
	}
	var ms0, ms1 goruntime.MemStats
	goruntime.ReadMemStats(&ms0)
	cpu0, _ := selfUsage()
	net0 := sw.net.Stats()

	rec := newRecorder()
	var keys keyRing
	stop := make(chan struct{})
	var pwg sync.WaitGroup
	start := time.Now()
	if o.progress {
		pwg.Add(1)
		go progress(stderr, rec, start, stop, &pwg)
	}
	elapsed := generate(ctx, o.rps, o.duration, o.inflight, o.mix, o.seed, rec, func(ctx context.Context, j job) {
		r := splitmix(o.seed ^ 0x5a5a ^ j.seq*0x9e3779b97f4a7c15)
		n := sw.nodes[r%uint64(len(sw.nodes))]
		octx, cancel := context.WithTimeout(ctx, o.opTO)
		defer cancel()
		hops := -1
		var err error
		switch j.kind {
		case kFindValue:
			key, ok := keys.pick(splitmix(r))
			if !ok {
				key = randomID(r)
			}
			var fr api.ProvidersResult
			if fr, err = n.FindProviders(octx, key); err == nil {
				hops = fr.Hops
			}
		case kFindNode:
			var fr api.ClosestResult
			if fr, err = n.FindClosest(octx, randomID(r)); err == nil {
				hops = fr.Hops
			}
		default:
			key := randomID(r ^ 0x9909)
			var pr api.ProvideResult
			if pr, err = n.Provide(octx, api.ProvideParams{Key: key}); err == nil {
				hops = pr.Hops
				rec.replicated(pr.Replicas)
				keys.add(key)
			}
		}
		rec.record(j.kind, time.Since(j.at), codeName(err), hops)
	})
	wall := time.Since(start)
	cpu1, maxRSS := selfUsage()
	goruntime.ReadMemStats(&ms1)
	close(stop)
	pwg.Wait()
	c1, err := sw.counters(ctx)
	if err != nil {
		return err
	}
	net1 := sw.net.Stats()

	rec.fill(res)
	res.DurationS = elapsed.Seconds()
	res.AchievedRPS = perfresult.Ptr(float64(rec.done.Load()) / wall.Seconds())
	rpcs := served(c1) - served(c0)
	cpu := cpu1 - cpu0
	res.CPU = &perfresult.CPU{AvgPct: 100 * cpu.Seconds() / wall.Seconds()}
	if rpcs > 0 {
		res.CPU.USPerRPC = float64(cpu.Microseconds()) / float64(rpcs)
		res.AllocsPerRPC = perfresult.Ptr(float64(ms1.Mallocs-ms0.Mallocs) / float64(rpcs))
	}
	if d := rec.done.Load(); d > 0 {
		res.RPCsPerLookup = perfresult.Ptr(float64(c1["probes_sent"]-c0["probes_sent"]) / float64(d))
	}
	res.PeakRSSMiB = perfresult.Ptr(mib(maxRSS))
	res.RSSPerPeerMiB = perfresult.Ptr(mib(maxRSS) / float64(len(sw.nodes)))
	refused, total := rec.codeCount("busy", "quota_exceeded", "not_ready")
	drops, err := sw.metricSum("queue_dropped_total")
	if err != nil {
		return err
	}
	eb := &perfresult.ErrorBudget{}
	if total > 0 {
		eb.R429503Ratio = float64(refused) / float64(total)
	}
	if p := drops + float64(served(c1)); p > 0 {
		eb.QueueDropRatio = drops / p
	}
	res.ErrorBudget = eb
	res.Notes = append(res.Notes,
		fmt.Sprintf("%d in-process node runtimes (%s, one event loop each) over node/memnet; seeds: the first %d peers", len(sw.nodes), o.profile, min(swarmSeeds, len(sw.nodes))),
		fmt.Sprintf("latency counts from when an operation was due (open loop, %d workers); %d operations skipped with every worker busy", o.inflight, rec.skipped.Load()),
		fmt.Sprintf("cpu, allocs and RSS are the whole harness process (all %d peers, both ends of every RPC, the generator); per RPC = per inbound RPC served (%d in the window)", len(sw.nodes), rpcs),
		"rpcs_per_lookup = probes sent by all peers in the window (background bucket refreshes and PROVIDE stores included) / operations done",
		"error budget: r429_503_ratio from the operations' codes; queue_drop_ratio from queue_dropped_total over the whole run; no ops plane (http_5xx_ratio 0) and no TLS (tls_failures_per_min 0) in memnet",
		fmt.Sprintf("memnet in the window: %d calls, %d lost, %d refused, %d without route", net1.Calls-net0.Calls, net1.Lost-net0.Lost, net1.Refused-net0.Refused, net1.NoRoute-net0.NoRoute),
		fmt.Sprintf("peers' probes in the window: %d sent, %d answered, %d failed, %d timed out; hedges %d spawned, %d cancelled",
			c1["probes_sent"]-c0["probes_sent"], c1["probes_answered"]-c0["probes_answered"], c1["probes_failed"]-c0["probes_failed"],
			c1["probes_timed_out"]-c0["probes_timed_out"], c1["hedges_spawned"]-c0["hedges_spawned"], c1["hedges_canceled"]-c0["hedges_canceled"]),
	)
	return nil
}
