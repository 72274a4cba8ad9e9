package runtime

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/kbucket/asndb"
	"github.com/svc-dht/svc-dht/node/api"
	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/logx"
	"github.com/svc-dht/svc-dht/node/metrics"
	"github.com/svc-dht/svc-dht/node/ops"
	"github.com/svc-dht/svc-dht/node/persist"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/seeds"
	"github.com/svc-dht/svc-dht/wire"
)

// Node states.
const (
	stateNew int32 = iota
	stateRunning
	stateStopping
	stateStopped
)

// Errors of the node's lifecycle.
var (
	// ErrNotRunning is returned by operations on a node that is not
	// started, or already shutting down. It matches wire.ErrNotReady.
	ErrNotRunning = wire.NewError(wire.CodeNotReady, "node not running")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("runtime: node already started")
)

// Node is one svc-dht node: the protocol core driven over QUIC, with its
// seeds, persistence, metrics and ops plane. Build it with New, run it with
// Start, stop it with Shutdown. Its methods are safe for concurrent use; it
// implements api.Backend.
type Node struct {
	cfg     *config.Config // as given to New; reloadable values live in atomics
	opts    Options
	log     *slog.Logger
	level   *slog.LevelVar // nil when the embedder supplied the logger
	m       *metrics.Metrics
	id      *identity.Identity
	store   persist.Store
	tr      Transport
	pools   *wire.Pools
	runner  *seeds.Runner
	ops     *ops.Server
	created time.Time
	addrs   []string // advertised quic:// addresses

	// Owner-only state: touched by the owner goroutine alone.
	core        *core.Core
	pre         preVerifier
	sign        signer
	timers      timerHeap
	timer       *time.Timer
	timerAt     int64 // deadline the timer is armed for; 0: stopped
	probes      map[core.ProbeID]context.CancelFunc
	waiters     map[core.LookupID]chan<- *core.Result
	bootID      core.LookupID
	bootRunning bool
	bootDone    bool
	bootTried   int64 // unix ns of the last bootstrap start
	bootFails   int   // failed bootstrap lookups
	nextSave    int64
	lastStats   core.Stats
	wasReady    bool
	addrCache   map[netip.AddrPort][]string

	// Channels between the goroutines.
	inbound   chan *job            // event loops → owner
	results   chan *probeResult    // probe goroutines → owner
	calls     chan func(time.Time) // API, seeds, persistence → owner
	quit      chan struct{}        // closed: owner and loops stop
	ownerDone chan struct{}        // closed when the owner returned
	loops     []*loop              // per-core event loops
	verifyQ   chan *job            // macronode: PROVIDE verification pool
	drained   chan struct{}        // signalled when inflight drops to 0 while draining
	probeCtx  context.Context      // parent of every probe; ends at shutdown
	stopProbe context.CancelFunc   // ends probeCtx
	stopSeeds context.CancelFunc   // ends the seed runner
	wg        sync.WaitGroup       // every goroutine the node started
	resolver  swapResolver         // ASN table, installed after the first dial

	// Shared state.
	state       atomic.Int32
	draining    atomic.Bool
	inflight    atomic.Int64
	maxInflight atomic.Int64
	global      gcra
	peerLimit   peerLimiter
	rr          atomic.Uint32
	corr        atomic.Uint64
	verifier    atomic.Pointer[verifierBox]
	dualSign    atomic.Bool
	required    atomic.Int64
	fillWant    atomic.Uint64                 // float64 bits of bootstrap.ready_bucket_fill_pct
	shutdownTO  atomic.Int64                  // shutdown_timeout, ns
	rpcTimeout  atomic.Int64                  // rpc_timeout, ns: the deadline of a probe's context
	providerTTL atomic.Int64                  // provider.ttl_secs, ns: the ttl of an API provide without one
	tunables    atomic.Pointer[core.Tunables] // reloaded core knobs the owner has yet to apply
	ready       atomic.Pointer[readyState]
	snap        atomic.Pointer[kbucket.Snapshot]
	saving      atomic.Bool
	saveMu      sync.Mutex
	firstDial   sync.Once
}

type verifierBox struct{ v identity.Verifier }

// New builds a node from cfg (validated here too): it opens the key store
// (or none, with amnesia), loads or generates the identity, binds the QUIC
// listener and builds the protocol core. Nothing is dialed before Start.
func New(cfg *config.Config, opts Options) (*Node, error) {
	if cfg == nil {
		return nil, errors.New("runtime: nil config")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	cfg = cfg.Clone()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Entropy == nil {
		opts.Entropy = crand.Reader
	}
	if opts.Rand == nil {
		var b [16]byte
		if _, err := io.ReadFull(opts.Entropy, b[:]); err != nil {
			return nil, fmt.Errorf("runtime: seed randomness: %w", err)
		}
		opts.Rand = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])))
	}
	if opts.SeedClock == nil {
		opts.SeedClock = seeds.SystemClock()
	}
	if opts.SnapshotInterval <= 0 {
		opts.SnapshotInterval = DefaultSnapshotInterval
	}
	if opts.HousekeepingInterval <= 0 {
		opts.HousekeepingInterval = DefaultHousekeepingInterval
	}
	n := &Node{
		cfg:       cfg,
		opts:      opts,
		m:         opts.Metrics,
		pools:     new(wire.Pools),
		created:   opts.Now(),
		probes:    make(map[core.ProbeID]context.CancelFunc),
		waiters:   make(map[core.LookupID]chan<- *core.Result),
		addrCache: make(map[netip.AddrPort][]string),
		results:   make(chan *probeResult, 64),
		calls:     make(chan func(time.Time), 16),
		quit:      make(chan struct{}),
		ownerDone: make(chan struct{}),
		drained:   make(chan struct{}, 1),
	}
	if n.opts.ProcessStart.IsZero() {
		n.opts.ProcessStart = n.created
	}
	if n.m == nil {
		n.m = metrics.New()
	}
	n.log = opts.Logger
	if n.log == nil {
		n.level = new(slog.LevelVar)
		n.level.Set(cfg.Log.SlogLevel())
		l, err := logx.New(os.Stderr, logx.Options{Format: cfg.Log.Format, Level: n.level})
		if err != nil {
			return nil, fmt.Errorf("runtime: logger: %w", err)
		}
		n.log = l
	}
	n.applyLimits(cfg)
	if err := n.setVerifier(cfg); err != nil {
		return nil, err
	}
	// Randomness: one generator per goroutine that uses it.
	seedRand := rand.New(rand.NewPCG(opts.Rand.Uint64(), opts.Rand.Uint64()))
	n.corr.Store(opts.Rand.Uint64() >> 1)

	var err error
	if n.store, err = persist.Open(cfg, opts.Entropy); err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	if err := n.loadIdentity(); err != nil {
		return nil, err
	}
	n.sign = signer{n: n}

	loops := cfg.EventLoops
	if loops == 0 {
		loops = goruntime.GOMAXPROCS(0)
	}
	qcap := cfg.QueueCap.Work
	var streamTimeout time.Duration // 0: the transport's default
	if h := opts.hooks; h != nil {
		if h.loops > 0 {
			loops = h.loops
		}
		if h.queueCap > 0 {
			qcap = h.queueCap
		}
		streamTimeout = h.streamTimeout
	}
	per := max(1, (qcap+loops-1)/loops)
	n.loops = make([]*loop, loops)
	for i := range n.loops {
		n.loops[i] = &loop{q: make(chan *job, per), proc: proc{reply: make(chan struct{}, 1)}}
	}
	n.inbound = make(chan *job, loops)
	if verifyPool {
		n.verifyQ = make(chan *job, qcap)
	}

	if opts.NewTransport != nil {
		n.tr, err = opts.NewTransport(n.id, n.serveRPC)
	} else {
		n.tr, err = newQUIC(n.id, cfg, opts, streamTimeout, n.m, n.pools, n.serveRPC)
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	n.addrs = cfg.AdvertiseAddrs
	if len(n.addrs) == 0 {
		n.addrs = advertised(n.tr.Addrs())
	}

	cc := coreConfig(cfg, n.addrs)
	n.core, err = core.New(n.id.ID(), cc, core.Deps{
		Rand:     opts.Rand,
		Resolver: &n.resolver,
		Verifier: &n.pre,
		Signer:   &n.sign,
	})
	if err != nil {
		_ = n.tr.Close()
		return nil, fmt.Errorf("runtime: %w", err)
	}
	n.pre.n = n

	seedList, err := seeds.FromConfig(cfg.Bootstrap.Seeds, cfg.Bootstrap.UseDefaultSeeds)
	if err == nil {
		n.runner, err = seeds.NewRunner(seeds.RunnerConfig{
			Seeds:    seedList,
			Rand:     seedRand,
			Clock:    opts.SeedClock,
			Dial:     n.dialSeed,
			Start:    n.opts.ProcessStart,
			OnResult: n.seedResult,
		})
	}
	if err != nil {
		_ = n.tr.Close()
		return nil, fmt.Errorf("runtime: %w", err)
	}

	if !opts.DisableOps {
		v := opts.Version
		if v.Service == "" {
			v = ops.NewVersionInfo(ops.Build{}, Features(cfg)...)
		}
		n.ops, err = ops.New(ops.Options{Addr: cfg.OpsAddr, Metrics: n.m, Readiness: readiness{n}, Version: v, Logger: n.log})
		if err == nil {
			err = n.ops.Mount("/v1/", api.Handler(n, api.Options{}))
		}
		if err != nil {
			_ = n.tr.Close()
			return nil, fmt.Errorf("runtime: %w", err)
		}
	}
	n.bindMetrics()
	n.ready.Store(&readyState{})
	return n, nil
}

// newQUIC builds the default transport: QUIC on listen_addr.
func newQUIC(id *identity.Identity, cfg *config.Config, opts Options, streamTimeout time.Duration,
	m *metrics.Metrics, pools *wire.Pools, h transport.Handler) (Transport, error) {
	tr, err := transport.New(id, transport.Config{
		ListenAddrs:        []string{cfg.ListenAddr},
		FrameMax:           int(cfg.FrameMax),
		ChunkSize:          int(cfg.ChunkSize),
		MaxConns:           cfg.MaxConns,
		IdleTimeout:        cfg.ConnIdleTimeout,
		RPCTimeout:         cfg.RPCTimeout,
		StreamTimeout:      streamTimeout,
		MaxInboundStreams:  max(transport.DefaultMaxInboundStreams, cfg.Limits.MaxInflight),
		HappyEyeballsDelay: cfg.HappyEyeballsDelay,
		DisableHybridKEX:   !cfg.PQ.HybridKEX,
		Metrics:            transportMetrics{m},
		Pools:              pools,
		Now:                opts.Now,
	}, h)
	if err != nil {
		return nil, err // a nil *transport.Transport must not become a non-nil Transport
	}
	return tr, nil
}

// loadIdentity takes the identity from Options, the key store, or, with
// amnesia, generates one in RAM.
func (n *Node) loadIdentity() error {
	if n.opts.Identity != nil {
		n.id = n.opts.Identity
		return nil
	}
	id, err := n.store.LoadIdentity()
	if errors.Is(err, persist.ErrNoIdentity) {
		id, err = identity.Generate(n.opts.Entropy, n.cfg.PQ.DualSign)
	}
	if err != nil {
		return fmt.Errorf("runtime: identity: %w", err)
	}
	if n.cfg.PQ.DualSign && !id.HasPQ() {
		return fmt.Errorf("runtime: identity %s has no ML-DSA-87 key but pq.dual_sign is set", id)
	}
	n.id = id
	return nil
}

// coreConfig maps the configuration onto the core's knobs. The request
// rate limits stay off in the core: the runtime applies limits.* before
// any heavy work, ahead of the work queue.
func coreConfig(cfg *config.Config, addrs []string) core.Config {
	cc := core.DefaultConfig()
	cc.K = cfg.K
	cc.Alpha = cfg.Alpha
	cc.Beta = cfg.Beta
	cc.HopBudget = cfg.HopBudget
	cc.RPCTimeout = cfg.RPCTimeout
	cc.HedgeAfter = cfg.HedgeAfter
	cc.BucketRefreshInterval = cfg.BucketRefreshInterval
	cc.LookupMaxRPCs = 10 * cfg.K
	cc.ProviderTTL = cfg.Provider.TTL
	cc.ProviderRefresh = cfg.Provider.Refresh
	cc.StoreMaxPerKey = cfg.Provider.MaxPerKey
	cc.StoreMaxPerPublisher = cfg.Provider.MaxPerPublisher
	cc.StoreMaxTotal = cfg.Provider.MaxTotal
	cc.EnableStore = cfg.Store.Enabled
	cc.MaxRPS, cc.MaxBurst, cc.PeerRPS, cc.PeerBurst = 0, 0, 0, 0
	cc.Addrs = addrs
	t := kbucket.DefaultConfig()
	t.K = cfg.K
	t.ReplacementCache = cfg.K
	t.ASNMaxPct = cfg.Diversity.ASNMaxPct
	t.ASNEntropyMin = cfg.Diversity.ASNEntropyMin
	t.ExemptPrivate = cfg.Diversity.ExemptPrivate
	cc.Table = t
	return cc
}

// advertised returns the listening addresses peers can dial: wildcard
// binds (0.0.0.0, ::) are left out, since peers learn the address they
// reach this node on from the packets themselves.
func advertised(listen []string) []string {
	out := make([]string, 0, len(listen))
	for _, a := range listen {
		ap, err := netip.ParseAddrPort(strings.TrimPrefix(a, transport.Scheme))
		if err != nil || ap.Addr().IsUnspecified() {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Features lists the optional features of a node running cfg, as /version
// shows them (the daemon's --version prints the same list).
func Features(cfg *config.Config) []string {
	var f []string
	if cfg.PQ.DualSign {
		f = append(f, "pq-dual-sign")
	}
	if cfg.PQ.HybridKEX {
		f = append(f, "pq-hybrid-kex")
	}
	if cfg.Store.Enabled {
		f = append(f, "store")
	}
	if cfg.Amnesia.Enabled {
		f = append(f, "amnesia")
	}
	return f
}

// ID returns the node's NodeID.
func (n *Node) ID() kbucket.ID { return n.id.ID() }

// Addrs returns the bound QUIC addresses as quic://ip:port strings.
func (n *Node) Addrs() []string { return n.tr.Addrs() }

// Metrics returns the node's metrics plane.
func (n *Node) Metrics() *metrics.Metrics { return n.m }

// OpsAddr returns the bound address of the ops plane, or nil when it is
// disabled or not started.
func (n *Node) OpsAddr() net.Addr {
	if n.ops == nil {
		return nil
	}
	return n.ops.Addr()
}

// Logger returns the node's logger.
func (n *Node) Logger() *slog.Logger { return n.log }

func (n *Node) now() time.Time { return n.opts.Now() }

// Start runs the node: the owner and event loops, then the seed dialer
// (the first dial starts before any slow initialisation), the ops plane,
// and last the slow initialisation — the ASN table of diversity.asn_db and
// the snapshots of a node without amnesia. It returns once that is done;
// the node keeps running until Shutdown. A failure leaves the node
// stopped (Shutdown is still safe to call).
func (n *Node) Start(ctx context.Context) error {
	if !n.state.CompareAndSwap(stateNew, stateRunning) {
		return ErrStarted
	}
	now := n.now()
	n.timer = time.NewTimer(time.Hour)
	n.timer.Stop()
	n.probeCtx, n.stopProbe = context.WithCancel(context.Background())
	n.nextSave = now.Add(n.opts.SnapshotInterval).UnixNano()
	n.applyTunables(now)
	n.do(n.core.Start(now))
	n.pushTimer(now.Add(n.opts.HousekeepingInterval).UnixNano(), timerTick, 0)
	n.rearm(now)
	n.publish(now)

	for _, l := range n.loops {
		n.wg.Add(1)
		go n.runLoop(l)
	}
	if n.verifyQ != nil {
		for range goruntime.GOMAXPROCS(0) {
			n.wg.Add(1)
			go n.runVerifier()
		}
	}
	n.wg.Add(1)
	go n.runOwner()

	// Seeds first: the first dial must not wait for slow initialisation.
	var seedCtx context.Context
	seedCtx, n.stopSeeds = context.WithCancel(context.Background())
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		_ = n.runner.Run(seedCtx)
	}()
	n.log.Info("node_started", logx.PeerID(n.ID()), slog.Any("addrs", n.Addrs()),
		slog.Bool("amnesia", n.cfg.Amnesia.Enabled), slog.Int("event_loops", len(n.loops)),
		slog.Bool("first_node", n.runner.FirstNode()), slog.String("flavor", metrics.Flavor))

	if n.ops != nil {
		if err := n.ops.Start(); err != nil {
			_ = n.Shutdown(ctx)
			return fmt.Errorf("runtime: %w", err)
		}
	}
	if err := n.slowInit(ctx); err != nil {
		_ = n.Shutdown(ctx)
		return err
	}
	return nil
}

// slowInit loads the ASN table and the snapshots, after dialing started.
func (n *Node) slowInit(ctx context.Context) error {
	if path := n.cfg.Diversity.ASNDB; path != "" {
		start := n.now()
		db, err := asndb.LoadFiles(asndb.Options{}, path)
		if err != nil {
			return fmt.Errorf("runtime: diversity.asn_db: %w", err)
		}
		n.resolver.db.Store(db)
		n.log.Info("asn_table_loaded", slog.Int("ranges", db.Len()), logx.Latency(n.now().Sub(start)))
	}
	return n.loadSnapshots(ctx)
}

// swapResolver is the routing table's ASN resolver: empty (prefixes stand
// in for ASNs) until the ASN table is loaded, which happens after the first
// seed dial. Peers admitted before keep their prefix group.
type swapResolver struct{ db atomic.Pointer[asndb.DB] }

// LookupASN implements kbucket.Resolver.
func (r *swapResolver) LookupASN(ip netip.Addr) (uint32, bool) {
	if db := r.db.Load(); db != nil {
		return db.LookupASN(ip)
	}
	return 0, false
}

// Shutdown stops the node gracefully: /readyz answers 503 at once, new
// requests are refused (1501 Busy), in-flight requests drain for up to
// shutdown_timeout (or until ctx ends), the snapshots are saved (without
// amnesia), the transport and ops plane close and every goroutine of the
// node exits. It is idempotent; it returns the first error met.
func (n *Node) Shutdown(ctx context.Context) error {
	switch n.state.Load() {
	case stateNew:
		n.state.Store(stateStopped)
		_ = n.tr.Close()
		return nil
	case stateStopping, stateStopped:
		return nil
	}
	if !n.state.CompareAndSwap(stateRunning, stateStopping) {
		return nil
	}
	start := n.now()
	n.draining.Store(true)
	if n.ops != nil {
		n.ops.SetDraining()
	}
	n.log.Info("shutdown_started", slog.Int64("inflight", n.inflight.Load()))

	// Drain: wait for in-flight inbound requests, bounded.
	drainCtx, cancelDrain := context.WithTimeout(ctx, time.Duration(n.shutdownTO.Load()))
	defer cancelDrain()
	n.drain(drainCtx)
	n.stopSeeds()

	var errs []error
	if !n.cfg.Amnesia.Enabled {
		if err := n.saveSnapshots(); err != nil {
			errs = append(errs, err)
		}
	}
	// The transport waits for its handlers; the owner and loops still run,
	// so whatever is in flight completes.
	if err := n.tr.Close(); err != nil {
		errs = append(errs, fmt.Errorf("runtime: close transport: %w", err))
	}
	n.stopProbe()
	close(n.quit)
	n.wg.Wait()
	if n.ops != nil {
		if err := n.ops.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("runtime: %w", err))
		}
	}
	n.state.Store(stateStopped)
	n.log.Info("shutdown_done", logx.Latency(n.now().Sub(start)))
	return errors.Join(errs...)
}

// drainer is a transport that can stop taking inbound streams and wait
// for those being served to write their answers (transport.Transport).
type drainer interface {
	Drain(ctx context.Context) error
}

// drain waits, until ctx ends, for the inbound requests in flight to be
// answered. A transport with Drain is drained (new streams get 1501, and
// the answers of the streams being served are written when it returns);
// with another transport the wait is for the runtime's own count of
// requests in flight.
func (n *Node) drain(ctx context.Context) {
	if d, ok := n.tr.(drainer); ok {
		if err := d.Drain(ctx); err != nil {
			n.log.Warn("shutdown_drain_timeout", slog.Int64("inflight", n.inflight.Load()), logx.Err(err))
		}
		return
	}
	if n.inflight.Load() > 0 {
		select {
		case <-n.drained:
		case <-ctx.Done():
			n.log.Warn("shutdown_drain_timeout", slog.Int64("inflight", n.inflight.Load()))
		}
	}
}
