package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/anacrolix"
	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/ctl"
	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/kad"
	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/loadgen"
	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/loopback"
	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/procstat"
	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/result"
)

const usage = `usage: peers <subcommand> [flags]

  rpc-server --impl libp2p|anacrolix --listen 127.0.0.1:PORT   one FIND_NODE server (stats on GET /stats)
  rpc-load   --impl libp2p|anacrolix --target 127.0.0.1:PORT   load generator against rpc-server
  swarm      --impl libp2p|anacrolix --nodes N --lookups M     in-process swarm on loopback
  table      [--machine FILE] [--notes] [LABEL=]FILE.json...   Markdown table of result files (also svc-dht-perf's)

Run "peers <subcommand> -h" for the flags. Every address must be a literal loopback IP.
`

// errUsage marks command-line errors (exit code 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one subcommand until it finishes or ctx ends, and returns the
// exit code: 0 ok, 1 failure, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "rpc-server":
		err = rpcServer(ctx, args[1:], stdout, stderr)
	case "rpc-load":
		err = rpcLoad(ctx, args[1:], stdout, stderr)
	case "swarm":
		err = swarm(ctx, args[1:], stdout, stderr)
	case "table":
		err = table(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "peers: unknown subcommand %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "peers %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "peers %s: %v\n", args[0], err)
		return 1
	}
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return nil
}

func checkImpl(impl string) error {
	switch impl {
	case kad.Impl, anacrolix.Impl:
		return nil
	case "":
		return fmt.Errorf("%w: --impl is required (libp2p or anacrolix)", errUsage)
	}
	return fmt.Errorf("%w: --impl %q: want libp2p or anacrolix", errUsage, impl)
}

// ctlAddr is the control address: the flag if given, else the same ip:port as base (TCP).
func ctlAddr(flagVal string, base netip.AddrPort) (netip.AddrPort, error) {
	if flagVal == "" {
		return base, nil
	}
	ap, err := loopback.ParseAddrPort(flagVal, false)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: --ctl: %v", errUsage, err)
	}
	return ap, nil
}

type server interface {
	ctl.Source
	Close() error
}

func rpcServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rpc-server", stderr)
	impl := fs.String("impl", "", "implementation: libp2p or anacrolix")
	listen := fs.String("listen", "", "loopback ip:port to serve FIND_NODE on (UDP; QUIC for libp2p)")
	ctlFlag := fs.String("ctl", "", "loopback ip:port of the HTTP control endpoint (default: the --listen ip:port, over TCP)")
	fill := fs.Int("fill", 32, "filler nodes (in this process) that populate the server's routing table")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server's whole life to this file")
	seed := fs.Uint64("seed", 1, "seed for node identities")
	lifetime := fs.Duration("max-lifetime", 15*time.Minute, "exit after this long even if not signalled")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkImpl(*impl); err != nil {
		return err
	}
	ap, err := loopback.ParseAddrPort(*listen, false)
	if err != nil {
		return fmt.Errorf("%w: --listen: %v", errUsage, err)
	}
	ctlAP, err := ctlAddr(*ctlFlag, ap)
	if err != nil {
		return err
	}
	if *fill < 0 || *lifetime <= 0 {
		return fmt.Errorf("%w: --fill must be >= 0 and --max-lifetime > 0", errUsage)
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	ctx, cancel := context.WithTimeout(ctx, *lifetime)
	defer cancel()

	ln, err := net.Listen("tcp", ctlAP.String())
	if err != nil {
		return fmt.Errorf("control listener: %w", err)
	}
	var srv server
	switch *impl {
	case kad.Impl:
		srv, err = kad.StartServer(ctx, ap, *fill, *seed)
	case anacrolix.Impl:
		srv, err = anacrolix.StartServer(ctx, ap, *fill, *seed)
	}
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	_, ver, addr := srv.Info()
	fmt.Fprintf(stdout, "rpc-server: %s (%s) serving on %s, routing table %d, stats at http://%s/stats\n",
		*impl, ver, addr, srv.RTSize(), ctlAP)
	return ctl.Serve(ctx, ln, srv)
}

// waitStats polls the control endpoint until the server answers.
func waitStats(ctx context.Context, ap netip.AddrPort, limit time.Duration) (ctl.Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		st, err := ctl.Fetch(ctx, ap)
		if err == nil {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return ctl.Stats{}, fmt.Errorf("server control endpoint %s not answering after %v: %w", ap, limit, err)
		case <-t.C:
		}
	}
}

type load interface {
	Callers() []loadgen.Caller
	Close() error
}

func rpcLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rpc-load", stderr)
	impl := fs.String("impl", "", "implementation: libp2p or anacrolix (must match the server)")
	target := fs.String("target", "", "loopback ip:port of the rpc-server")
	ctlFlag := fs.String("ctl", "", "control endpoint ip:port (default: the --target ip:port, over TCP)")
	inflight := fs.Int("inflight", 64, "requests in flight (one per worker)")
	clients := fs.Int("clients", 8, "libp2p: client hosts (QUIC connections) the workers are spread over")
	streamPerRPC := fs.Bool("stream-per-rpc", false, "libp2p: open a new stream for every RPC instead of reusing one per worker")
	warmup := fs.Duration("warmup", 3*time.Second, "load before the measurement window")
	duration := fs.Duration("duration", 20*time.Second, "measurement window")
	maxRPCs := fs.Int64("max-rpcs", 10_000_000, "hard bound on RPCs sent in the whole run")
	wait := fs.Duration("wait", 60*time.Second, "how long to wait for the server to come up")
	seed := fs.Uint64("seed", 1, "seed for keys and identities")
	jsonOut := fs.String("json", "", "write the JSON result to this file (- for stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkImpl(*impl); err != nil {
		return err
	}
	ap, err := loopback.ParseAddrPort(*target, false)
	if err != nil {
		return fmt.Errorf("%w: --target: %v", errUsage, err)
	}
	ctlAP, err := ctlAddr(*ctlFlag, ap)
	if err != nil {
		return err
	}
	if *inflight <= 0 || *clients <= 0 || *duration <= 0 || *warmup < 0 || *maxRPCs <= 0 {
		return fmt.Errorf("%w: --inflight, --clients, --duration and --max-rpcs must be positive", errUsage)
	}
	first, err := waitStats(ctx, ctlAP, *wait)
	if err != nil {
		return err
	}
	if first.Impl != *impl {
		return fmt.Errorf("%w: server at %s runs %q, not %q", errUsage, ctlAP, first.Impl, *impl)
	}

	var l load
	switch *impl {
	case kad.Impl:
		if err := sameEndpoint(first.Addr, ap); err != nil {
			return err
		}
		l, err = kad.NewLoad(ctx, first.Addr, *clients, *inflight, *streamPerRPC, *seed)
	case anacrolix.Impl:
		l, err = anacrolix.NewLoad(ap, *inflight, *seed)
	}
	if err != nil {
		return err
	}
	defer l.Close()

	var s0, s1 ctl.Stats
	rep, err := loadgen.Run(ctx, loadgen.Config{
		Warmup:   *warmup,
		Duration: *duration,
		MaxCalls: *maxRPCs,
		OnWindowStart: func(ctx context.Context) (err error) {
			s0, err = ctl.Fetch(ctx, ctlAP)
			return err
		},
		OnWindowEnd: func(ctx context.Context) (err error) {
			s1, err = ctl.Fetch(ctx, ctlAP)
			return err
		},
	}, l.Callers())
	if err != nil {
		return err
	}
	if rep.Calls == 0 {
		return fmt.Errorf("no successful RPC in the window (%d errors)", rep.Errors)
	}
	served := float64(s1.Served - s0.Served)
	cpu := time.Duration(s1.CPUNanos - s0.CPUNanos)
	res := result.Result{
		Impl:          *impl,
		ImplVersion:   first.Version,
		Mode:          result.ModeTarget,
		RPS:           float64(rep.Calls) / rep.Window.Seconds(),
		Latency:       result.Summarize(rep.Latencies),
		RPCs:          rep.Calls,
		Errors:        rep.Errors,
		WindowSeconds: rep.Window.Seconds(),
		Inflight:      *inflight,
		StreamPerRPC:  *streamPerRPC,
		AnswerNodes:   float64(rep.AnswerNodes) / float64(rep.Calls),
		ServerRTSize:  s1.RTSize,
		CPUAvgPct:     100 * cpu.Seconds() / rep.Window.Seconds(),
		LoadAvg:       procstat.LoadAvg(),
		Command:       commandLine(),
	}
	if served > 0 {
		res.CPUUsPerRPC = float64(cpu.Microseconds()) / served
		res.AllocsPerRPC = float64(s1.Mallocs-s0.Mallocs) / served
	}
	if rep.Truncated {
		fmt.Fprintf(stderr, "rpc-load: warning: window ended early after %v (max RPCs or failing workers)\n", rep.Window)
	}
	return emit(&res, *jsonOut, stdout)
}

// sameEndpoint checks that the libp2p server's advertised multiaddr is the
// loopback ip:port we were told to load.
func sameEndpoint(addr string, ap netip.AddrPort) error {
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return fmt.Errorf("server address %q: %w", addr, err)
	}
	if !manet.IsIPLoopback(m) {
		return fmt.Errorf("server address %s is not loopback", addr)
	}
	ip, err := manet.ToIP(m)
	if err != nil {
		return fmt.Errorf("server address %s: %w", addr, err)
	}
	port, err := m.ValueForProtocol(ma.P_UDP)
	if err != nil || ip.String() != ap.Addr().String() || port != fmt.Sprint(ap.Port()) {
		return fmt.Errorf("%w: server listens on %s, not %s", errUsage, addr, ap)
	}
	return nil
}

type swarmer interface {
	Bootstrap(ctx context.Context, parallel int) (failed int, err error)
	MeanRTSize() float64
	Lookup(ctx context.Context, origin int, target [32]byte) (rpcs int, exact bool, err error)
	Close() error
}

func swarm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("swarm", stderr)
	impl := fs.String("impl", "", "implementation: libp2p or anacrolix")
	nodes := fs.Int("nodes", 200, "nodes in the swarm")
	seeds := fs.Int("seeds", 3, "seed nodes every node bootstraps from")
	lookups := fs.Int("lookups", 500, "lookups toward random targets from random nodes")
	concurrency := fs.Int("concurrency", 1, "lookups in flight at once")
	parallel := fs.Int("bootstrap-parallel", 0, "nodes bootstrapping at once (0: all)")
	settleCPU := fs.Float64("settle-cpu", 0.05, "before the lookups, wait until the swarm uses less than this share of one core over 1s")
	settleTimeout := fs.Duration("settle-timeout", time.Minute, "bound on the wait for the swarm to settle")
	lookupTimeout := fs.Duration("lookup-timeout", 30*time.Second, "bound on one lookup")
	timeout := fs.Duration("timeout", 10*time.Minute, "bound on the whole run")
	seed := fs.Uint64("seed", 1, "seed for identities and the lookup plan")
	jsonOut := fs.String("json", "", "write the JSON result to this file (- for stdout)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	settleProfile := fs.String("settle-profile", "", "write a CPU profile of the settle phase only to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkImpl(*impl); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if *nodes < 2 || *seeds < 1 || *seeds >= *nodes || *lookups <= 0 || *concurrency <= 0 || *lookupTimeout <= 0 || *timeout <= 0 {
		return fmt.Errorf("%w: need nodes >= 2, 1 <= seeds < nodes, positive lookups, concurrency and timeouts", errUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var (
		sw  swarmer
		err error
		ver string
	)
	fmt.Fprintf(stderr, "swarm: starting %d %s nodes\n", *nodes, *impl)
	switch *impl {
	case kad.Impl:
		ver = kad.Version()
		sw, err = kad.NewSwarm(*nodes, *seeds, *seed)
	case anacrolix.Impl:
		ver = anacrolix.Version()
		sw, err = anacrolix.NewSwarm(*nodes, *seeds, *seed)
	}
	if err != nil {
		return err
	}
	defer sw.Close()

	t0 := time.Now()
	failed, err := sw.Bootstrap(ctx, *parallel)
	ready := time.Since(t0)
	if err != nil {
		return err
	}
	meanRT := sw.MeanRTSize()
	fmt.Fprintf(stderr, "swarm: bootstrapped in %.2fs (%d node(s) reported errors), mean routing table %.1f\n",
		ready.Seconds(), failed, meanRT)
	var stopSettleProfile func()
	if *settleProfile != "" {
		if *cpuProfile != "" {
			return fmt.Errorf("%w: --cpuprofile and --settle-profile are exclusive", errUsage)
		}
		if stopSettleProfile, err = startCPUProfile(*settleProfile); err != nil {
			return err
		}
	}
	settle, settled, background, err := waitQuiet(ctx, *settleCPU, *settleTimeout)
	if stopSettleProfile != nil {
		stopSettleProfile()
	}
	if err != nil {
		return err
	}
	if !settled {
		fmt.Fprintf(stderr, "swarm: warning: still using %.0f%% of a core after %v; lookups run on a busy swarm\n", 100*background, *settleTimeout)
	}
	meanRT = sw.MeanRTSize()
	fmt.Fprintf(stderr, "swarm: settled %.2fs after bootstrap (background work such as follow-up refreshes), mean routing table %.1f; running %d lookups\n",
		settle.Seconds(), meanRT, *lookups)

	rep, err := loadgen.RunLookups(ctx, *nodes, *lookups, *concurrency, *seed, *lookupTimeout, sw.Lookup)
	if err != nil {
		return err
	}
	if rep.FirstErr != nil {
		fmt.Fprintf(stderr, "swarm: %d lookup(s) failed, first: %v\n", rep.Errors, rep.FirstErr)
	}
	runtime.GC()
	p, err := procstat.Read()
	if err != nil {
		return err
	}
	res := result.Result{
		Impl:           *impl,
		ImplVersion:    ver,
		Mode:           result.ModeSwarm,
		Latency:        result.Summarize(rep.Latencies),
		Nodes:          *nodes,
		RSSMiBPerNode:  procstat.MiB(p.PeakRSS) / float64(*nodes),
		HeapMiBPerNode: procstat.MiB(p.HeapInuse) / float64(*nodes),
		PeakRSSMiB:     procstat.MiB(p.PeakRSS),
		ReadySeconds:   ready.Seconds(),
		SettleSeconds:  settle.Seconds(),
		SettleCPUPct:   100 * background,
		Lookups:        rep.OK + rep.Errors,
		Errors:         int64(rep.Errors),
		MeanRTSize:     meanRT,
		BootstrapFails: failed,
		LoadAvg:        procstat.LoadAvg(),
		Command:        commandLine(),
	}
	if rep.OK > 0 {
		res.RPCsPerLookup = float64(rep.RPCs) / float64(rep.OK)
		exact := 100 * float64(rep.Exact) / float64(rep.OK)
		res.LookupExactPct = &exact
	}
	return emit(&res, *jsonOut, stdout)
}

func emit(r *result.Result, jsonOut string, stdout io.Writer) error {
	if jsonOut == "-" {
		return r.Write(stdout)
	}
	r.Human(stdout)
	if jsonOut != "" {
		return r.WriteFile(jsonOut)
	}
	return nil
}

// waitQuiet waits until this process uses less than share of one core over a
// one-second sample, or limit passes. It returns the time waited, whether the
// process went quiet, and the share of a core used in the last sample.
func waitQuiet(ctx context.Context, share float64, limit time.Duration) (time.Duration, bool, float64, error) {
	const sample = time.Second
	start := time.Now()
	prev, err := procstat.Read()
	if err != nil {
		return 0, false, 0, err
	}
	t := time.NewTicker(sample)
	defer t.Stop()
	last := 0.0
	for time.Since(start) < limit {
		select {
		case <-ctx.Done():
			return time.Since(start), false, last, fmt.Errorf("settle: %w", ctx.Err())
		case <-t.C:
		}
		cur, err := procstat.Read()
		if err != nil {
			return 0, false, 0, err
		}
		last = float64(cur.CPU-prev.CPU) / float64(sample)
		if last < share {
			return time.Since(start), true, last, nil
		}
		prev = cur
	}
	return time.Since(start), false, last, nil
}

// startCPUProfile starts a CPU profile into path and returns its stop function.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func commandLine() string {
	return "peers " + strings.Join(os.Args[1:], " ")
}
