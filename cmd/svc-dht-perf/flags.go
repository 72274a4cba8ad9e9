package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Operation kinds, in the order of --mix.
const (
	kFindValue = iota
	kFindNode
	kProvide
	numKinds
)

// kindName is the result-schema name of each kind.
var kindName = [numKinds]string{"find_value", "find_node", "provide"}

// options are the command line.
type options struct {
	peers    int
	rps      int
	alpha    int
	beta     int
	k        int
	duration time.Duration
	jsonPath string
	mix      [numKinds]int
	mixText  string
	churn    float64 // fraction of live peers per hour
	churnTxt string
	seed     uint64
	rttMin   time.Duration
	rttMax   time.Duration
	rttText  string
	jitter   time.Duration
	loss     float64
	lossText string
	lossMdl  string // swarm mode: quic (retransmitted) or blackhole
	netMode  string // swarm mode: memnet (in memory) or quic (real sockets on loopback)
	lookups  int
	cpuProf  string
	memProf  string
	virtual  bool
	oracle   string // auto, on, off
	target   string
	inflight int
	clients  int
	records  int
	opTO     time.Duration
	readyTO  time.Duration
	settle   time.Duration // swarm mode: wait after ready before measuring
	profile  string
	logLevel string
	srvPID   int
	srvMet   string
	progress bool

	fill      int  // target mode: identities that contact the target before the measurement
	fillConns bool // target mode: the fill peers keep their connections to the target open

	coldStart int      // cold-start mode: measured starts (0: another mode)
	warmup    int      // cold-start mode: unmeasured starts first
	exec      string   // cold-start mode: the daemon binary
	execArgs  []string // cold-start mode: extra daemon arguments (after --)
}

const usage = `usage: svc-dht-perf [flags]

The svc-dht performance harness (PERFORMANCE.md §2.2). Three modes:

  --virtual                  the simulator (node/sim), virtual time, up to 100,000 peers
  (default)                  a real-time in-process swarm of --peers real node runtimes over
                             an in-memory network with injected RTT, jitter and loss
                             (--net quic: each peer its own QUIC socket on loopback)
  --target quic://host:port  a load generator against one running daemon over real QUIC

and a fourth that measures the daemon's start:

  --cold-start N --exec PATH [-- DAEMON-ARGS...]
                             start the daemon PATH N times; each time, from exec to the
                             first QUIC datagram at its only seed (a local UDP socket)

A progress line goes to stderr every second; the summary to stdout; --json FILE
writes the result (cmd/internal/perfresult schema) for cmd/perf-compare.

flags:
`

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("svc-dht-perf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.IntVar(&o.peers, "peers", 200, "number of peers (swarm and virtual modes)")
	fs.IntVar(&o.rps, "rps", 1000, "offered operations per second (virtual: per virtual second)")
	fs.IntVar(&o.alpha, "alpha", 3, "lookup parallelism (1-8)")
	fs.IntVar(&o.beta, "beta", 1, "hedged probes (0-4)")
	fs.IntVar(&o.k, "k", 20, "bucket width and result size (16-32)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "length of the measured phase (swarm, target)")
	fs.StringVar(&o.jsonPath, "json", "", "write the result to `FILE`")
	fs.StringVar(&o.mixText, "mix", "60/35/5", "operation mix in percent, FIND_VALUE/FIND_NODE/PROVIDE")
	fs.StringVar(&o.churnTxt, "churn", "", "churn rate of the virtual mode, e.g. 10%/h (peers leaving and joining per hour)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	fs.StringVar(&o.rttText, "rtt", "1ms-3ms", "per-link base round-trip time range, MIN-MAX (or one duration)")
	fs.DurationVar(&o.jitter, "jitter", time.Millisecond, "largest extra one-way delay per message")
	fs.StringVar(&o.lossText, "loss", "0.1%", "per-message loss probability, e.g. 0.1%")
	fs.StringVar(&o.lossMdl, "loss-model", "quic", "swarm mode: what a lost message becomes: quic (retransmitted after the link's QUIC probe timeout, as the real transport does) or blackhole (never arrives; the caller's timeout and hedging deal with it)")
	fs.StringVar(&o.netMode, "net", "memnet", "swarm mode: the peers' network: memnet (in memory, with the injected --rtt, --jitter and --loss) or quic (each peer its own QUIC socket on 127.0.0.1, mutual TLS; needs --rtt 0s --jitter 0s --loss 0%)")
	fs.IntVar(&o.lookups, "lookups", 0, "virtual mode: number of operations (0: rps × duration)")
	fs.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile of the harness process to `FILE`")
	fs.StringVar(&o.memProf, "memprofile", "", "write a heap profile of the harness process to `FILE` at the end")
	fs.BoolVar(&o.virtual, "virtual", false, "run the simulator instead of real runtimes")
	fs.StringVar(&o.oracle, "oracle", "auto", "virtual mode: fill routing tables from the membership instead of joining: auto (above 2,000 peers), on, off")
	fs.StringVar(&o.target, "target", "", "load a running daemon at `quic://host:port` (optionally ID@quic://...)")
	fs.IntVar(&o.inflight, "inflight", 0, "cap of operations in flight (0: 64 in target mode, 4096 in swarm mode)")
	fs.IntVar(&o.clients, "clients", 1, "target mode: client identities (each its own QUIC connection) to spread the load over")
	fs.IntVar(&o.records, "records", 1024, "target mode: pre-signed provider records to cycle through")
	fs.DurationVar(&o.opTO, "op-timeout", 10*time.Second, "timeout of one operation")
	fs.DurationVar(&o.readyTO, "ready-timeout", 2*time.Minute, "swarm mode: how long to wait for every peer to be ready")
	fs.DurationVar(&o.settle, "settle", 0, "swarm mode: how long to let the swarm run idle after every peer is ready, before the measured phase (the joins' bucket refreshes settle)")
	fs.StringVar(&o.profile, "profile", "micronode", "swarm mode: node profile, micronode or macronode")
	fs.StringVar(&o.logLevel, "log-level", "error", "swarm mode: level of the nodes' logs on stderr")
	fs.IntVar(&o.srvPID, "server-pid", 0, "target mode: PID of the daemon, for its CPU per RPC and RSS (/proc/PID)")
	fs.StringVar(&o.srvMet, "server-metrics", "", "target mode: the daemon's metrics `URL`, for allocations per RPC (macronode)")
	fs.BoolVar(&o.progress, "progress", true, "print a progress line on stderr every second")
	fs.BoolVar(&o.fillConns, "fill-conns", false, "target mode: the --fill peers keep their connections to the target open (by default each closes it after its contact, as an idle one would be)")
	fs.IntVar(&o.fill, "fill", 0, "target mode: this many extra identities, spread over the target's buckets (at most --k each), contact it once before the measurement and answer its probes: a full routing table")
	fs.IntVar(&o.coldStart, "cold-start", 0, "cold-start mode: start the daemon --exec this many times and time exec → first seed dial")
	fs.IntVar(&o.warmup, "warmup", 1, "cold-start mode: unmeasured starts before the measured ones")
	fs.StringVar(&o.exec, "exec", "", "cold-start mode: the svc-dht daemon binary to start (arguments after -- are passed to it)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.coldStart > 0 && dashDash(args, fs.Args()) {
		o.execArgs = fs.Args()
	} else if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.mix, err = parseMix(o.mixText); err != nil {
		return nil, fmt.Errorf("--mix: %w", err)
	}
	if o.rttMin, o.rttMax, err = parseRTT(o.rttText); err != nil {
		return nil, fmt.Errorf("--rtt: %w", err)
	}
	if o.loss, err = parsePercent(o.lossText); err != nil {
		return nil, fmt.Errorf("--loss: %w", err)
	}
	if o.lossMdl != "quic" && o.lossMdl != "blackhole" {
		return nil, fmt.Errorf("--loss-model %q: want quic or blackhole", o.lossMdl)
	}
	if err := checkNet(o); err != nil {
		return nil, err
	}
	if o.loss >= 1 {
		return nil, fmt.Errorf("--loss %s: must be below 100%%", o.lossText)
	}
	if o.churnTxt != "" {
		if o.churn, err = parseChurn(o.churnTxt); err != nil {
			return nil, fmt.Errorf("--churn: %w", err)
		}
	}
	switch {
	case o.virtual && o.target != "":
		return nil, errors.New("--virtual and --target exclude each other")
	case o.churn > 0 && !o.virtual:
		return nil, errors.New("--churn is supported in the virtual mode only")
	case o.peers < 1 && o.target == "":
		return nil, fmt.Errorf("--peers %d: want at least 1", o.peers)
	case o.peers > 100000:
		return nil, fmt.Errorf("--peers %d: at most 100,000", o.peers)
	case o.rps < 1:
		return nil, fmt.Errorf("--rps %d: want at least 1", o.rps)
	case o.alpha < 1 || o.alpha > 8:
		return nil, fmt.Errorf("--alpha %d: want 1-8", o.alpha)
	case o.beta < 0 || o.beta > 4:
		return nil, fmt.Errorf("--beta %d: want 0-4", o.beta)
	case o.k < 16 || o.k > 32:
		return nil, fmt.Errorf("--k %d: want 16-32", o.k)
	case o.duration <= 0 && (o.lookups == 0 || !o.virtual):
		return nil, fmt.Errorf("--duration %v: want a positive duration", o.duration)
	case o.jitter < 0:
		return nil, fmt.Errorf("--jitter %v: must not be negative", o.jitter)
	case o.lookups < 0:
		return nil, fmt.Errorf("--lookups %d: must not be negative", o.lookups)
	case o.inflight < 0 || o.clients < 1 || o.records < 1:
		return nil, fmt.Errorf("--inflight %d, --clients %d, --records %d: want inflight >= 0, clients and records >= 1", o.inflight, o.clients, o.records)
	case o.settle < 0:
		return nil, fmt.Errorf("--settle %v: must not be negative", o.settle)
	case o.opTO <= 0 || o.readyTO <= 0:
		return nil, errors.New("--op-timeout and --ready-timeout must be positive")
	case o.oracle != "auto" && o.oracle != "on" && o.oracle != "off":
		return nil, fmt.Errorf("--oracle %q: want auto, on or off", o.oracle)
	case o.profile != "micronode" && o.profile != "macronode":
		return nil, fmt.Errorf("--profile %q: want micronode or macronode", o.profile)
	case (o.srvPID != 0 || o.srvMet != "") && o.target == "":
		return nil, errors.New("--server-pid and --server-metrics need --target")
	case o.fill < 0 || o.fill > 4096:
		return nil, fmt.Errorf("--fill %d: want 0-4096", o.fill)
	case o.fill > 0 && o.target == "":
		return nil, errors.New("--fill needs --target")
	case o.fillConns && o.fill == 0:
		return nil, errors.New("--fill-conns needs --fill N")
	case o.coldStart < 0 || o.warmup < 0:
		return nil, fmt.Errorf("--cold-start %d, --warmup %d: must not be negative", o.coldStart, o.warmup)
	case o.coldStart > 0 && (o.virtual || o.target != ""):
		return nil, errors.New("--cold-start excludes --virtual and --target")
	case o.coldStart > 0 && o.exec == "":
		return nil, errors.New("--cold-start needs --exec PATH, the daemon binary")
	case o.coldStart == 0 && o.exec != "":
		return nil, errors.New("--exec needs --cold-start N")
	}
	if o.target != "" && !strings.Contains(o.target, "quic://") {
		return nil, fmt.Errorf("--target %q: want quic://host:port", o.target)
	}
	if o.inflight == 0 {
		o.inflight = 4096
		if o.target != "" {
			o.inflight = 64
		}
	}
	if o.lookups == 0 {
		o.lookups = int(min(float64(o.rps)*o.duration.Seconds(), math.MaxInt32))
	}
	return o, nil
}

// checkNet checks --net: memnet or quic, and quic only in the swarm mode
// and without injected link effects, which real sockets cannot take.
func checkNet(o *options) error {
	switch o.netMode {
	case "memnet":
		return nil
	case "quic":
	default:
		return fmt.Errorf("--net %q: want memnet or quic", o.netMode)
	}
	if o.virtual || o.target != "" || o.coldStart > 0 {
		return errors.New("--net quic is for the swarm mode (it excludes --virtual, --target and --cold-start)")
	}
	if o.rttMax > 0 || o.jitter != 0 || o.loss > 0 {
		return fmt.Errorf("--net quic: --rtt %s, --jitter %v, --loss %s cannot be injected on real sockets; pass --rtt 0s --jitter 0s --loss 0%%",
			o.rttText, o.jitter, o.lossText)
	}
	return nil
}

// dashDash reports whether the arguments left after flag parsing, rest,
// follow a "--" in args (and are not a stray positional argument).
func dashDash(args, rest []string) bool {
	i := len(args) - len(rest) - 1
	return i >= 0 && args[i] == "--"
}

// parseMix parses "60/35/5": whole percentages of FIND_VALUE, FIND_NODE and
// PROVIDE adding up to 100.
func parseMix(s string) ([numKinds]int, error) {
	var m [numKinds]int
	parts := strings.Split(s, "/")
	if len(parts) != numKinds {
		return m, fmt.Errorf("%q: want three percentages FIND_VALUE/FIND_NODE/PROVIDE, e.g. 60/35/5", s)
	}
	sum := 0
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 || n > 100 {
			return m, fmt.Errorf("%q: %q is not a whole percentage", s, p)
		}
		m[i] = n
		sum += n
	}
	if sum != 100 {
		return m, fmt.Errorf("%q: percentages add up to %d, want 100", s, sum)
	}
	return m, nil
}

// parseRTT parses "1ms-3ms" (a range) or "2ms" (a fixed RTT).
func parseRTT(s string) (lo, hi time.Duration, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = time.ParseDuration(strings.TrimSpace(a)); err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	hi = lo
	if isRange {
		if hi, err = time.ParseDuration(strings.TrimSpace(b)); err != nil {
			return 0, 0, fmt.Errorf("%q: %w", s, err)
		}
	}
	if lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("%q: want 0 <= MIN <= MAX", s)
	}
	return lo, hi, nil
}

// parsePercent parses "0.1%" (a percentage) or "0.001" (a fraction) into a
// fraction in [0, 1].
func parsePercent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number or percentage", s)
	}
	if pct {
		v /= 100
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("%q: outside 0-100%%", s)
	}
	return v, nil
}

// parseChurn parses "10%/h" (also "/m", "/s") into a fraction per hour.
func parseChurn(s string) (float64, error) {
	p, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("%q: want PERCENT/UNIT, e.g. 10%%/h", s)
	}
	v, err := parsePercent(p)
	if err != nil {
		return 0, err
	}
	per := map[string]float64{"h": 1, "m": 60, "min": 60, "s": 3600}[strings.TrimSpace(unit)]
	if per == 0 {
		return 0, fmt.Errorf("%q: unit %q: want h, m or s", s, unit)
	}
	if v == 0 {
		return 0, fmt.Errorf("%q: rate must be above 0", s)
	}
	return v * per, nil
}
