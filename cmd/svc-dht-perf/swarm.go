package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/api"
	"github.com/svc-dht/svc-dht/node/memnet"
)

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

// stop shuts every node down, a few at a time, then the probe pool.
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
	sw.pool.Close()
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
		rpcs, err := sw.rpcCount(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "svc-dht-perf: %d peers started and joined in %v (identities generated before, in %v); %d RPCs\n",
			len(sw.nodes), time.Since(sw.starts[0]).Round(time.Millisecond), sw.keygen.Round(time.Millisecond), rpcs)
	}
	sw.waitReady(ctx, o.readyTO, stderr, o.progress)
	var ready []float64
	for _, d := range sw.readyIn {
		if d >= 0 {
			ready = append(ready, d.Seconds())
		}
	}
	if len(ready) > 0 {
		slices.Sort(ready)
		q := func(p float64) float64 { return ready[max(int(p*float64(len(ready))+0.999999)-1, 0)] }
		res.ReadyS = &perfresult.Ready{P50: q(0.50), P95: q(0.95)}
		res.Notes = append(res.Notes, fmt.Sprintf("whole swarm ready in %.2fs (first start to last peer ready, %v polls); %d/%d peers ready; "+
			"peers joined %d at a time, each through %d random peers already joined; identities (keys) generated before the first start, in %.2fs; %d joins timed out after %v",
			sw.last.Sub(sw.starts[0]).Seconds(), readyPoll, len(ready), len(sw.nodes), windowOf(o), swarmSeeds, sw.keygen.Seconds(), sw.stalled, joinTimeout))
	}
	if len(ready) < len(sw.nodes) {
		res.Notes = append(res.Notes, fmt.Sprintf("%d peers not ready within --ready-timeout %v; the load ran anyway", len(sw.nodes)-len(ready), o.readyTO))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.settle > 0 {
		cpuS0, _ := selfUsage()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.settle):
		}
		cpuS1, _ := selfUsage()
		res.Notes = append(res.Notes, fmt.Sprintf("settled %v after every peer was ready before measuring (--settle); the process used %.0f%% of a core meanwhile",
			o.settle, 100*(cpuS1-cpuS0).Seconds()/o.settle.Seconds()))
	}

	c0, err := sw.counters(ctx)
	if err != nil {
		return err
	}
	var ms0, ms1 goruntime.MemStats
	goruntime.ReadMemStats(&ms0)
	tls0, err := sw.metricSum("tls_handshake_failures_total")
	if err != nil {
		return err
	}
	cpu0, _ := selfUsage()
	var net0, net1 memnet.Stats
	if sw.net != nil {
		net0 = sw.net.Stats()
	}

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
				rec.lookedUp(fr.RPCs)
			}
		case kFindNode:
			var fr api.ClosestResult
			if fr, err = n.FindClosest(octx, randomID(r)); err == nil {
				hops = fr.Hops
				rec.lookedUp(fr.RPCs)
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
	if sw.net != nil {
		net1 = sw.net.Stats()
	}
	tls1, err := sw.metricSum("tls_handshake_failures_total")
	if err != nil {
		return err
	}

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
	if l := rec.lookups.Load(); l > 0 {
		res.RPCsPerLookup = perfresult.Ptr(float64(rec.lookupRPCs.Load()) / float64(l))
	}
	if d := rec.done.Load(); d > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("rpcs_per_lookup = RPCs the successful FIND_VALUE/FIND_NODE lookups sent themselves (hedges included), %d lookups; "+
			"all probes the peers sent in the window per operation: %.1f (background bucket refreshes, silent-entry pings and PROVIDE stores included)",
			rec.lookups.Load(), float64(c1["probes_sent"]-c0["probes_sent"])/float64(d)))
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
	if sw.net == nil {
		eb.TLSFailuresPerMin = (tls1 - tls0) / wall.Minutes()
	}
	res.ErrorBudget = eb
	res.Notes = append(res.Notes,
		fmt.Sprintf("%d in-process node runtimes (%s, one event loop each, housekeeping every %v, probes on a shared goroutine pool) %s",
			len(sw.nodes), o.profile, swarmHousekeeping, sw.netNote(o)),
		fmt.Sprintf("latency counts from when an operation was due (open loop, %d workers); %d operations skipped with every worker busy", o.inflight, rec.skipped.Load()),
		fmt.Sprintf("cpu, allocs and RSS are the whole harness process (all %d peers, both ends of every RPC, the generator); per RPC = per inbound RPC served (%d in the window)", len(sw.nodes), rpcs),
		"error budget: r429_503_ratio from the operations' codes; queue_drop_ratio from queue_dropped_total over the whole run; no ops plane (http_5xx_ratio 0); "+
			tlsNote(sw.net == nil, tls1-tls0),
		fmt.Sprintf("peers' probes in the window: %d sent, %d answered, %d failed, %d timed out; hedges %d spawned, %d cancelled",
			c1["probes_sent"]-c0["probes_sent"], c1["probes_answered"]-c0["probes_answered"], c1["probes_failed"]-c0["probes_failed"],
			c1["probes_timed_out"]-c0["probes_timed_out"], c1["hedges_spawned"]-c0["hedges_spawned"], c1["hedges_canceled"]-c0["hedges_canceled"]),
	)
	if sw.net != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("memnet in the window: %d calls, %d lost, %d refused, %d without route",
			net1.Calls-net0.Calls, net1.Lost-net0.Lost, net1.Refused-net0.Refused, net1.NoRoute-net0.NoRoute))
	}
	return nil
}

// rpcCount is the number of RPCs so far: memnet's calls, or with --net
// quic the inbound RPCs the peers' cores served.
func (sw *swarm) rpcCount(ctx context.Context) (uint64, error) {
	if sw.net != nil {
		return sw.net.Stats().Calls, nil
	}
	c, err := sw.counters(ctx)
	if err != nil {
		return 0, err
	}
	return served(c), nil
}

// netNote says which network the peers ran over (--net).
func (sw *swarm) netNote(o *options) string {
	if sw.net == nil {
		return "each on its own QUIC socket on loopback (--net quic: 127.0.0.1, mutual TLS 1.3, the runtime's own transport; no injected RTT, jitter or loss)"
	}
	return fmt.Sprintf("over node/memnet (--net memnet: in memory, no sockets, no QUIC or TLS; RTT %s, jitter %v, loss %s); %s",
		o.rttText, o.jitter, o.lossText, lossNote(o.lossMdl))
}

// tlsNote says where tls_failures_per_min comes from.
func tlsNote(quic bool, failures float64) string {
	if quic {
		return fmt.Sprintf("tls_failures_per_min from the peers' tls_handshake_failures_total in the window (%.0f failures)", failures)
	}
	return "no TLS (tls_failures_per_min 0) in memnet"
}

// lossNote says what --loss-model made of a lost message.
func lossNote(model string) string {
	if model == "blackhole" {
		return "a lost message never arrives (--loss-model blackhole)"
	}
	return "a lost message is retransmitted after the link's QUIC probe timeout (memnet Retransmit, --loss-model quic), not dropped"
}
