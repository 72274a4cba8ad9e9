package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/zeebo/blake3"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/api"
	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/logx"
	"github.com/svc-dht/svc-dht/node/runtime"
)

// devnet limits and defaults.
const (
	devnetDefaultNodes = 8
	devnetMaxNodes     = 128
	devnetKeyText      = "svc-dht devnet"
	devnetReadyPoll    = 10 * time.Millisecond
	devnetOpTimeout    = 30 * time.Second
)

// devnetOptions are the devnet subcommand's flags.
type devnetOptions struct {
	nodes    int
	ops      string
	basePort int
	seed     uint64
	timeout  time.Duration
	logLevel string
}

const devnetUsage = `Usage: svc-dht devnet [flags]

Runs N svc-dht nodes in this process on 127.0.0.1 over QUIC (micronode
profile, amnesia on, one event loop each). Node 0 is the first node of the
network; the others are seeded by it. Once all are ready, node N-1 provides
the key BLAKE3("svc-dht devnet") and every other node finds it. A summary is
printed and the nodes keep running, with node 0's ops plane and local API
on --ops, until SIGINT or SIGTERM.

Flags:
`

// devnetFlags registers the devnet flags on fs, with o as their target.
func devnetFlags(fs *flag.FlagSet, o *devnetOptions) {
	opsDefault := "127.0.0.1:9108"
	if k, ok := config.LookupKey("ops_addr"); ok {
		opsDefault = k.Default
	}
	fs.IntVar(&o.nodes, "nodes", devnetDefaultNodes, "number of nodes (2-128)")
	fs.StringVar(&o.ops, "ops", opsDefault, "ops plane address of node 0 (host:port; port 0 picks a free one)")
	fs.IntVar(&o.basePort, "base-port", 0, "UDP port of node 0, node i listens on base-port+i; 0 = ephemeral ports")
	fs.Uint64Var(&o.seed, "seed", 0, "non-zero: reproducible identities and randomness from this seed")
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "how long to wait for every node to be ready (exit 4 beyond)")
	fs.StringVar(&o.logLevel, "log-level", "warn", "level of the nodes' JSON logs on stderr: debug, info, warn or error")
}

// parseDevnet parses the devnet flags.
func parseDevnet(args []string) (devnetOptions, error) {
	var o devnetOptions
	fs := newFlagSet("svc-dht devnet")
	devnetFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("devnet: %w", err)
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("devnet: unexpected argument %q", fs.Arg(0))
	case o.nodes < 2 || o.nodes > devnetMaxNodes:
		return o, fmt.Errorf("devnet: --nodes %d: want 2 to %d", o.nodes, devnetMaxNodes)
	case o.basePort < 0 || o.basePort+o.nodes-1 > 65535:
		return o, fmt.Errorf("devnet: --base-port %d: want 0 (ephemeral) or 1 to %d for %d nodes", o.basePort, 65536-o.nodes, o.nodes)
	case o.timeout <= 0:
		return o, fmt.Errorf("devnet: --timeout %v: want a positive duration", o.timeout)
	}
	if _, _, err := net.SplitHostPort(o.ops); err != nil {
		return o, fmt.Errorf("devnet: --ops %q: %w", o.ops, err)
	}
	if _, err := logx.ParseLevel(o.logLevel); err != nil {
		return o, fmt.Errorf("devnet: --log-level: %w", err)
	}
	return o, nil
}

// devnetHelp prints the devnet usage and flags.
func devnetHelp(w io.Writer) {
	_, _ = io.WriteString(w, devnetUsage)
	fs := newFlagSet("svc-dht devnet")
	devnetFlags(fs, new(devnetOptions))
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// devnet is a running local network.
type devnet struct {
	inv   invocation
	opts  devnetOptions
	log   *slog.Logger
	nodes []*runtime.Node
	k     int // bucket width of the nodes
}

// runDevnet runs the devnet subcommand.
func runDevnet(ctx context.Context, inv invocation, args []string) int {
	o, err := parseDevnet(args)
	if errors.Is(err, flag.ErrHelp) {
		devnetHelp(inv.stdout)
		return exitOK
	}
	if err != nil {
		return flagError(inv.stderr, "svc-dht devnet", err)
	}
	level, _ := logx.ParseLevel(o.logLevel)
	log, err := logx.New(inv.stderr, logx.Options{Level: level})
	if err != nil {
		fmt.Fprintf(inv.stderr, "svc-dht devnet: %v\n", err)
		return exitFailure
	}
	d := &devnet{inv: inv, opts: o, log: log}
	code := d.run(ctx)
	if d.stopAll() && code == exitOK {
		code = exitFailure
	}
	return code
}

// run starts the nodes, exercises them and serves until a stop signal.
func (d *devnet) run(ctx context.Context) int {
	w := d.inv.stdout
	fmt.Fprintf(w, "svc-dht devnet: starting %d nodes on 127.0.0.1 over QUIC (micronode, amnesia)\n", d.opts.nodes)
	starts, code := d.start(ctx)
	if code != exitOK {
		return code
	}
	for i, n := range d.nodes {
		ops := ""
		if a := n.OpsAddr(); a != nil {
			ops = "  ops http://" + a.String()
		}
		fmt.Fprintf(w, "  node %d  %s  %s%s\n", i, identity.KeyString(n.ID()), n.Addrs()[0], ops)
	}

	var readyIn []time.Duration
	var waitErr error
	if d.interruptible(ctx, func(ctx context.Context) { readyIn, waitErr = d.waitReady(ctx, starts) }) {
		return exitOK
	}
	if waitErr != nil {
		fmt.Fprintf(w, "ready: %v\n", waitErr)
		return exitNotReady
	}
	ready := percentiles(readyIn)
	fmt.Fprintf(w, "ready: %d/%d nodes; time to ready per node p50 %s, p95 %s, max %s\n",
		len(readyIn), len(d.nodes), ms(ready.p50), ms(ready.p95), ms(ready.max))

	var ex exercise
	if d.interruptible(ctx, func(ctx context.Context) { ex = d.exercise(ctx) }) {
		return exitOK
	}
	ex.print(w, len(d.nodes))

	fmt.Fprintf(w, "ops plane of node 0 on http://%s — Ctrl-C to stop\n", d.nodes[0].OpsAddr())
	for {
		select {
		case sig := <-d.inv.signals:
			if sig == syscall.SIGHUP {
				continue
			}
			fmt.Fprintf(w, "%s: stopping %d nodes\n", sig, len(d.nodes))
			return exitOK
		case <-ctx.Done():
			fmt.Fprintf(w, "stopping %d nodes\n", len(d.nodes))
			return exitOK
		}
	}
}

// start builds and starts the nodes: node 0 first, without seeds, then the
// others seeded by node 0 with its pinned ID. It returns each node's start
// time.
func (d *devnet) start(ctx context.Context) ([]time.Time, int) {
	starts := make([]time.Time, 0, d.opts.nodes)
	var seed string
	for i := range d.opts.nodes {
		cfg, err := devnetConfig(d.opts, i, seed)
		if err != nil {
			fmt.Fprintf(d.inv.stderr, "svc-dht devnet: node %d: %v\n", i, err)
			return nil, exitCodeOf(err)
		}
		d.k = cfg.K
		nlog := d.log.With(slog.Int("node", i))
		n, err := runtime.New(cfg, d.nodeOptions(i, cfg, nlog))
		if err == nil {
			starts = append(starts, d.inv.now())
			if err = n.Start(ctx); err != nil {
				_ = n.Shutdown(context.Background())
			}
		}
		if err != nil {
			fmt.Fprintf(d.inv.stderr, "svc-dht devnet: node %d: %v\n", i, err)
			return nil, exitCodeOf(err)
		}
		d.nodes = append(d.nodes, n)
		if i == 0 {
			seed = n.ID().String() + "@" + n.Addrs()[0]
		}
	}
	return starts, exitOK
}

// devnetConfig is node i's configuration: micronode defaults on loopback,
// amnesia on, no default seeds, one event loop; node 0 serves the ops
// plane on opts.ops and has no seed, the others are seeded by seed.
func devnetConfig(o devnetOptions, i int, seed string) (*config.Config, error) {
	cfg, err := config.Defaults(config.Micronode)
	if err != nil {
		return nil, fmt.Errorf("devnet config: %w", err)
	}
	port := 0
	if o.basePort != 0 {
		port = o.basePort + i
	}
	cfg.ListenAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg.OpsAddr = o.ops
	cfg.EventLoops = 1
	cfg.Amnesia.Enabled = true
	cfg.DataDir, cfg.KeyFile = "", ""
	cfg.Bootstrap.UseDefaultSeeds = false
	cfg.Bootstrap.Seeds = nil
	cfg.Bootstrap.Required = 0
	if i > 0 {
		cfg.Bootstrap.Seeds = []string{seed}
		cfg.Bootstrap.Required = 1
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("devnet config: %w", err)
	}
	return cfg, nil
}

// nodeOptions are node i's runtime options: only node 0 has an ops plane;
// with --seed the randomness is derived from it.
func (d *devnet) nodeOptions(i int, cfg *config.Config, log *slog.Logger) runtime.Options {
	o := runtime.Options{
		Logger:     log,
		Version:    versionInfo(d.inv.build, cfg),
		DisableOps: i > 0,
	}
	if d.opts.seed != 0 {
		o.Rand = rand.New(rand.NewPCG(d.opts.seed, uint64(i)))
		var s [32]byte
		binary.LittleEndian.PutUint64(s[:], d.opts.seed)
		binary.LittleEndian.PutUint64(s[8:], uint64(i))
		o.Entropy = rand.NewChaCha8(s)
	}
	return o
}

// interruptible runs f with a context that a stop signal (SIGINT, SIGTERM)
// or the end of ctx cancels, and reports whether that happened.
func (d *devnet) interruptible(ctx context.Context, f func(context.Context)) (stopped bool) {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(fctx)
	}()
	for {
		select {
		case <-done:
			return false
		case sig := <-d.inv.signals:
			if sig == syscall.SIGHUP {
				continue
			}
			fmt.Fprintf(d.inv.stdout, "%s: stopping %d nodes\n", sig, len(d.nodes))
			cancel()
			<-done
			return true
		case <-ctx.Done():
			<-done
			return true
		}
	}
}

// waitReady polls the nodes until all are ready or --timeout passes, and
// returns how long each took from its start.
func (d *devnet) waitReady(ctx context.Context, starts []time.Time) ([]time.Duration, error) {
	readyIn := make([]time.Duration, len(d.nodes))
	ready := make([]bool, len(d.nodes))
	left := len(d.nodes)
	timeout := d.inv.after(d.opts.timeout)
	tick := time.NewTicker(devnetReadyPoll)
	defer tick.Stop()
	for {
		now := d.inv.now()
		for i, n := range d.nodes {
			if ready[i] {
				continue
			}
			if ok, _ := n.Ready(); ok {
				ready[i], readyIn[i] = true, now.Sub(starts[i])
				left--
			}
		}
		if left == 0 {
			return readyIn, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timeout:
			var errs []error
			for i, n := range d.nodes {
				if ok, missing := n.Ready(); !ok {
					errs = append(errs, fmt.Errorf("node %d not ready: %v", i, missing))
				}
			}
			return nil, fmt.Errorf("%d/%d nodes ready after %v: %w", len(d.nodes)-left, len(d.nodes), d.opts.timeout, errors.Join(errs...))
		}
	}
}

// exercise is the outcome of the provide and the finds.
type exercise struct {
	key      kbucket.ID
	provided api.ProvideResult
	err      error // of the provide
	found    int
	failures []string
	hops     []int
	latency  []time.Duration
	local    int // finds answered from the node's own store (0 hops)
	k        int
}

// exercise provides the devnet key from the last node and finds it from
// every other node, one after the other.
func (d *devnet) exercise(ctx context.Context) exercise {
	ex := exercise{key: kbucket.ID(blake3.Sum256([]byte(devnetKeyText))), k: d.k}
	last := len(d.nodes) - 1
	pctx, cancel := context.WithTimeout(ctx, devnetOpTimeout)
	ex.provided, ex.err = d.nodes[last].Provide(pctx, api.ProvideParams{Key: ex.key})
	cancel()
	if ex.err != nil {
		return ex
	}
	publisher := d.nodes[last].ID()
	for i, n := range d.nodes[:last] {
		fctx, cancel := context.WithTimeout(ctx, devnetOpTimeout)
		res, err := n.FindProviders(fctx, ex.key)
		cancel()
		if err == nil && !hasPublisher(res.Providers, publisher) {
			err = fmt.Errorf("%d provider(s), none published by node %d", len(res.Providers), last)
		}
		if err != nil {
			ex.failures = append(ex.failures, fmt.Sprintf("node %d: %v", i, err))
			continue
		}
		ex.found++
		if res.Hops == 0 {
			ex.local++
		}
		ex.hops = append(ex.hops, res.Hops)
		ex.latency = append(ex.latency, res.Latency.Duration())
	}
	return ex
}

func hasPublisher(ps []api.Provider, id kbucket.ID) bool {
	for _, p := range ps {
		if kbucket.ID(p.Publisher) == id {
			return true
		}
	}
	return false
}

// print writes the provide and find lines of the summary.
func (ex *exercise) print(w io.Writer, nodes int) {
	last := nodes - 1
	if ex.err != nil {
		fmt.Fprintf(w, "provide: key %s from node %d failed: %v\n", identity.KeyString(ex.key), last, ex.err)
		return
	}
	fmt.Fprintf(w, "provide: key %s (BLAKE3 of %q) from node %d: %d replicas, %d hops, %s\n",
		identity.KeyString(ex.key), devnetKeyText, last, ex.provided.Replicas, ex.provided.Hops, ms(ex.provided.Latency.Duration()))
	fmt.Fprintf(w, "find: %d/%d nodes found the provider", ex.found, last)
	if ex.found > 0 {
		h := percentiles(ex.hops)
		l := percentiles(ex.latency)
		fmt.Fprintf(w, "; hops p50 %d, p95 %d, max %d; latency p50 %s, p95 %s, max %s", h.p50, h.p95, h.max, ms(l.p50), ms(l.p95), ms(l.max))
		if ex.local > 0 {
			fmt.Fprintf(w, " (%d answered from their own store, as one of the k=%d replicas)", ex.local, ex.k)
		}
	}
	fmt.Fprintln(w)
	for _, f := range ex.failures {
		fmt.Fprintf(w, "  find failed: %s\n", f)
	}
}

// stopAll shuts every node down in parallel (node 0's ops plane answers
// /readyz 503 first). A second stop signal meanwhile abandons the wait; it
// reports whether the stop was forced or failed.
func (d *devnet) stopAll() (failed bool) {
	if len(d.nodes) == 0 {
		return false
	}
	errs := make([]error, len(d.nodes))
	var wg sync.WaitGroup
	for i, n := range d.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Shutdown(context.Background()); err != nil {
				errs[i] = fmt.Errorf("node %d: %w", i, err)
			}
		}()
	}
	done := make(chan error, 1)
	go func() {
		wg.Wait()
		done <- errors.Join(errs...)
	}()
	return awaitShutdown(done, d.inv.signals, d.log)
}

// ms renders a duration in milliseconds with 0.1 ms precision.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}
