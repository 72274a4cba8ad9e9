package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/logx"
	"github.com/svc-dht/svc-dht/node/memnet"
	"github.com/svc-dht/svc-dht/node/runtime"
	"github.com/svc-dht/svc-dht/node/transport"
)

// Start-up of the swarm mode. Peers join as a network grows: peer 0 is the
// first node; every later peer is started with swarmSeeds seeds drawn at
// random among the peers whose join is done, so that no single seed takes
// every join. At most joinWindow joins run at a time (2,000 joins at once
// on two cores would queue behind each other until their probes time out),
// and no more than there are peers joined already: a network of a few
// nodes flooded with joiners makes them discover each other through each
// other, and their bootstrap lookups run out of hop budget (then retry
// only seconds later).
const (
	swarmSeeds     = 3                     // seeds per joining peer (bootstrap.required 1)
	joinWindow     = 32                    // joins in flight at a time (memnet)
	quicJoinWindow = 8                     // the same with --net quic: each join pays QUIC+TLS handshakes
	joinTimeout    = 30 * time.Second      // a join not done by then frees its slot
	joinPoll       = 2 * time.Millisecond  // how often joins in flight are checked
	readyPoll      = 25 * time.Millisecond // how often readiness is checked
	progressPeriod = time.Second
	// swarmHousekeeping is the peers' housekeeping period
	// (runtime.Options.HousekeepingInterval): every tick costs a peer a
	// table snapshot and a network-size estimate, 2,000 ticks a second at
	// the daemon's 1 s.
	swarmHousekeeping = 5 * time.Second
	// swarmIdleWorkers bounds the goroutines the peers' shared probe pool
	// (runtime.GoPool) keeps waiting.
	swarmIdleWorkers = 256
)

// swarm is a running in-process network.
type swarm struct {
	net     *memnet.Network // nil with --net quic: each peer has its own QUIC socket
	pool    *runtime.GoPool // the peers' probe goroutines
	nodes   []*runtime.Node
	starts  []time.Time     // Start of each node
	readyIn []time.Duration // time from Start to ready; -1: not ready yet
	left    int             // nodes not ready yet
	last    time.Time       // when the last node got ready
	keygen  time.Duration   // time spent generating the identities, before the first start
	stalled int             // joins that freed their slot without finishing
}

// swarmConfig is the configuration of a peer seeded by seedList.
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
	if o.netMode == "quic" {
		// The runtime's own QUIC transport, on a port of its own on
		// loopback; it advertises the bound address (quic://127.0.0.1:PORT).
		cfg.ListenAddr = "127.0.0.1:0"
		cfg.AdvertiseAddrs = nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("swarm config: %w", err)
	}
	return cfg, nil
}

// peerEntropy is peer i's randomness: its identity keys and the runtime's
// Entropy come from it.
func peerEntropy(seed uint64, i int) *rand.ChaCha8 {
	var ent [32]byte
	binary.LittleEndian.PutUint64(ent[:], seed)
	binary.LittleEndian.PutUint64(ent[8:], uint64(i))
	return rand.NewChaCha8(ent)
}

// genIdentities generates the n peers' identities (with an ML-DSA-87 key
// when dual is set) on every core. Each is a pure function of the seed and
// the peer's index. Key generation is each node's own business on its own
// machine, so it happens before the swarm's clock starts.
func genIdentities(ctx context.Context, seed uint64, n int, dual bool) ([]*identity.Identity, []*rand.ChaCha8, error) {
	ids := make([]*identity.Identity, n)
	ents := make([]*rand.ChaCha8, n)
	workers := min(goruntime.GOMAXPROCS(0), n)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				ents[i] = peerEntropy(seed, i)
				id, err := identity.Generate(ents[i], dual)
				if err != nil {
					errs[w] = fmt.Errorf("peer %d: %w", i, err)
					return
				}
				ids[i] = id
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, fmt.Errorf("swarm: identities: %w", err)
		}
	}
	return ids, ents, nil
}

// startSwarm builds the network and joins o.peers nodes to it, at most
// joinWindow at a time, each through seeds among the peers already joined.
// It returns once every node has started and every join has finished or
// timed out; readiness is tracked from the first start on (waitReady
// finishes it).
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
	var net *memnet.Network
	var newTransport func(*identity.Identity, transport.Handler) (runtime.Transport, error)
	if o.netMode == "memnet" {
		net, err = memnet.New(memnet.Config{Seed: o.seed, RTTMin: o.rttMin, RTTMax: o.rttMax, Jitter: o.jitter,
			Loss: o.loss, Retransmit: o.lossMdl == "quic", FrameMax: int(base.FrameMax), RPCTimeout: base.RPCTimeout})
		if err != nil {
			return nil, fmt.Errorf("swarm: %w", err)
		}
		newTransport = func(id *identity.Identity, h transport.Handler) (runtime.Transport, error) {
			e, err := net.Listen(id, h)
			if err != nil {
				return nil, err
			}
			return e, nil
		}
	}
	t0 := time.Now()
	ids, ents, err := genIdentities(ctx, o.seed, o.peers, base.PQ.DualSign)
	if err != nil {
		return nil, err
	}
	sw := &swarm{net: net, pool: runtime.NewGoPool(swarmIdleWorkers), nodes: make([]*runtime.Node, 0, o.peers), starts: make([]time.Time, 0, o.peers),
		readyIn: make([]time.Duration, 0, o.peers), keygen: time.Since(t0)}
	seedAddr := make([]string, 0, o.peers) // "id@addr" of each started peer
	startPeer := func(i int, seedList []string) error {
		cfg, err := swarmConfig(o, seedList)
		if err != nil {
			return err
		}
		n, err := runtime.New(cfg, runtime.Options{
			Logger: log.With("peer", i), Identity: ids[i], Entropy: ents[i],
			Rand: rand.New(rand.NewPCG(o.seed, uint64(i))), DisableOps: true, NewTransport: newTransport,
			HousekeepingInterval: swarmHousekeeping, Go: sw.pool.Go,
		})
		if err != nil {
			return fmt.Errorf("swarm: peer %d: %w", i, err)
		}
		start := time.Now()
		if err := n.Start(ctx); err != nil {
			_ = n.Shutdown(ctx)
			return fmt.Errorf("swarm: peer %d: %w", i, err)
		}
		sw.nodes, sw.starts, sw.readyIn = append(sw.nodes, n), append(sw.starts, start), append(sw.readyIn, -1)
		sw.left++
		addrs := n.Addrs()
		if len(addrs) == 0 {
			return fmt.Errorf("swarm: peer %d: no address to be dialled at", i)
		}
		seedAddr = append(seedAddr, n.ID().String()+"@"+addrs[0])
		return nil
	}

	pick := rand.New(rand.NewPCG(o.seed, 0x5eed5))
	var joined, joining []int
	seedList := make([]string, 0, swarmSeeds)
	tick := time.NewTicker(joinPoll)
	defer tick.Stop()
	var lastPoll, lastProgress time.Time
	for len(sw.nodes) < o.peers || len(joining) > 0 {
		for len(sw.nodes) < o.peers && (len(sw.nodes) == 0 || len(joining) < min(windowOf(o), len(joined))) {
			seedList = pickSeeds(seedList[:0], pick, joined, seedAddr)
			if err := startPeer(len(sw.nodes), seedList); err != nil {
				return sw, err
			}
			joining = append(joining, len(sw.nodes)-1)
		}
		select {
		case <-ctx.Done():
			return sw, fmt.Errorf("swarm: start: %w", ctx.Err())
		case now := <-tick.C:
			k := 0
			for _, i := range joining {
				switch {
				case sw.nodes[i].Bootstrapped():
					joined = append(joined, i)
				case now.Sub(sw.starts[i]) >= joinTimeout:
					sw.stalled++
				default:
					joining[k] = i
					k++
				}
			}
			joining = joining[:k]
			if now.Sub(lastPoll) >= readyPoll {
				lastPoll = now
				sw.pollReady()
			}
			if o.progress && now.Sub(lastProgress) >= progressPeriod {
				lastProgress = now
				fmt.Fprintf(stderr, "svc-dht-perf: %5.1fs  started %d/%d  joined %d  ready %d\n",
					now.Sub(sw.starts[0]).Seconds(), len(sw.nodes), o.peers, len(joined), len(sw.nodes)-sw.left)
			}
		}
	}
	return sw, nil
}

// pickSeeds appends to dst the seed addresses of up to swarmSeeds distinct
// peers drawn from joined.
func pickSeeds(dst []string, r *rand.Rand, joined []int, seedAddr []string) []string {
	want := min(swarmSeeds, len(joined))
	var chosen [swarmSeeds]int
	for len(dst) < want {
		j := joined[r.IntN(len(joined))]
		dup := false
		for _, c := range chosen[:len(dst)] {
			dup = dup || c == j
		}
		if !dup {
			chosen[len(dst)] = j
			dst = append(dst, seedAddr[j])
		}
	}
	return dst
}

// pollReady notes the nodes that became ready since the last poll.
func (sw *swarm) pollReady() {
	if sw.left == 0 {
		return
	}
	now := time.Now()
	for i, n := range sw.nodes {
		if sw.readyIn[i] >= 0 {
			continue
		}
		if ok, _ := n.Ready(); ok {
			sw.readyIn[i], sw.last = now.Sub(sw.starts[i]), now
			sw.left--
		}
	}
}

// waitReady polls the nodes until all are ready, timeout has passed since
// the first start, or ctx ends.
func (sw *swarm) waitReady(ctx context.Context, timeout time.Duration, stderr io.Writer, verbose bool) {
	if len(sw.nodes) == 0 {
		return
	}
	deadline := time.NewTimer(time.Until(sw.starts[0].Add(timeout)))
	defer deadline.Stop()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	lastProgress := time.Now()
	for sw.left > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case now := <-tick.C:
			sw.pollReady()
			if verbose && now.Sub(lastProgress) >= progressPeriod {
				lastProgress = now
				fmt.Fprintf(stderr, "svc-dht-perf: %5.1fs  ready %d/%d peers\n", now.Sub(sw.starts[0]).Seconds(), len(sw.nodes)-sw.left, len(sw.nodes))
			}
		}
	}
}

// windowOf is the number of joins in flight at a time for o's network.
func windowOf(o *options) int {
	if o.netMode == "quic" {
		return quicJoinWindow
	}
	return joinWindow
}
