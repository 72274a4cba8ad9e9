package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/runtime"
	"github.com/svc-dht/svc-dht/wire"
)

func TestParseRTT(t *testing.T) {
	for _, c := range []struct {
		in     string
		lo, hi time.Duration
		ok     bool
	}{
		{"1ms-3ms", time.Millisecond, 3 * time.Millisecond, true},
		{"20ms - 60ms", 20 * time.Millisecond, 60 * time.Millisecond, true},
		{"2ms", 2 * time.Millisecond, 2 * time.Millisecond, true},
		{"0s", 0, 0, true},
		{"3ms-1ms", 0, 0, false},
		{"1ms-", 0, 0, false},
		{"fast", 0, 0, false},
		{"-1ms", 0, 0, false},
	} {
		lo, hi, err := parseRTT(c.in)
		if (err == nil) != c.ok || (c.ok && (lo != c.lo || hi != c.hi)) {
			t.Errorf("parseRTT(%q) = %v, %v, %v; want %v, %v, ok %v", c.in, lo, hi, err, c.lo, c.hi, c.ok)
		}
	}
}

func TestParsePercent(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0.1%", 0.001, true},
		{"0.5%", 0.005, true},
		{"100%", 1, true},
		{"0", 0, true},
		{"0.02", 0.02, true},
		{"150%", 0, false},
		{"-1%", 0, false},
		{"NaN", 0, false},
		{"%", 0, false},
	} {
		got, err := parsePercent(c.in)
		if (err == nil) != c.ok || (c.ok && math.Abs(got-c.want) > 1e-12) {
			t.Errorf("parsePercent(%q) = %v, %v; want %v ok %v", c.in, got, err, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"10%/h", 0.10, true},
		{"1%/m", 0.60, true},
		{"10%", 0, false},
		{"0%/h", 0, false},
		{"10%/d", 0, false},
	} {
		got, err := parseChurn(c.in)
		if (err == nil) != c.ok || (c.ok && math.Abs(got-c.want) > 1e-12) {
			t.Errorf("parseChurn(%q) = %v, %v; want %v ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseMix(t *testing.T) {
	m, err := parseMix("60/35/5")
	if err != nil || m != [numKinds]int{60, 35, 5} {
		t.Errorf("60/35/5: %v %v", m, err)
	}
	if m, err := parseMix("0/100/0"); err != nil || m != [numKinds]int{0, 100, 0} {
		t.Errorf("0/100/0: %v %v", m, err)
	}
	for _, bad := range []string{"60/35", "60/35/6", "a/b/c", "-5/100/5", "60/35/5/0", ""} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("parseMix(%q): no error", bad)
		}
	}
	// pickKind follows the mix.
	var n [numKinds]int
	for i := range uint64(100000) {
		n[pickKind(m, splitmix(i))]++
	}
	for k, pct := range [numKinds]int{60, 35, 5} {
		if got := float64(n[k]) / 1000; math.Abs(got-float64(pct)) > 1 {
			t.Errorf("kind %d drawn %.2f%%, want %d%%", k, got, pct)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(strings.Fields("--virtual --peers 10000 --churn 10%/h --lookups 100000 --rtt 20ms-60ms --jitter 5ms --loss 0.5%"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !o.virtual || o.peers != 10000 || o.lookups != 100000 || o.churn != 0.1 ||
		o.rttMin != 20*time.Millisecond || o.rttMax != 60*time.Millisecond || o.jitter != 5*time.Millisecond || o.loss != 0.005 {
		t.Errorf("parsed %+v", o)
	}
	o, err = parseFlags([]string{"--target", "quic://127.0.0.1:4433", "--rps", "500"}, io.Discard)
	if err != nil || o.inflight != 64 || o.rps != 500 {
		t.Errorf("target: %+v %v", o, err)
	}
	if o, err := parseFlags(nil, io.Discard); err != nil || o.inflight != 4096 || o.lookups != 20000 || o.mix != [numKinds]int{60, 35, 5} {
		t.Errorf("defaults: %+v %v", o, err)
	}
	for _, bad := range []string{
		"--virtual --target quic://127.0.0.1:1",
		"--churn 10%/h",
		"--peers 0",
		"--peers 100001 --virtual",
		"--alpha 9",
		"--k 8",
		"--loss 100%",
		"--mix 50/50/1",
		"--rtt 5ms-1ms",
		"--target 127.0.0.1:4433",
		"--server-pid 1",
		"--oracle maybe --virtual",
		"--profile tiny",
		"extra",
		"--cold-start 3",
		"--exec ./svc-dht",
		"--cold-start -1 --exec ./svc-dht",
		"--cold-start 3 --exec ./svc-dht --virtual",
		"--cold-start 3 --exec ./svc-dht --target quic://127.0.0.1:1",
		"--cold-start 3 --exec ./svc-dht stray",
		"--fill 10",
		"--fill -1 --target quic://127.0.0.1:1",
		"--fill-conns --target quic://127.0.0.1:1",
		"--net udp",
		"--net quic",                                   // the default link model injects RTT, jitter and loss
		"--net quic --rtt 0s --jitter 0s",              // loss left
		"--net quic --rtt 0s --loss 0%",                // jitter left
		"--net quic --jitter 0s --loss 0% --rtt 0-1ms", // RTT range left
		"--net quic --rtt 0s --jitter 0s --loss 0% --virtual",
		"--net quic --rtt 0s --jitter 0s --loss 0% --target quic://127.0.0.1:1",
	} {
		if _, err := parseFlags(strings.Fields(bad), io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	o, err = parseFlags(strings.Fields("--cold-start 20 --exec ./svc-dht --profile macronode -- --pq.hybrid_kex=false --log.level warn"), io.Discard)
	if err != nil || o.coldStart != 20 || o.exec != "./svc-dht" || o.warmup != 1 || o.profile != "macronode" ||
		strings.Join(o.execArgs, " ") != "--pq.hybrid_kex=false --log.level warn" {
		t.Errorf("cold start: %+v %v", o, err)
	}
	o, err = parseFlags(strings.Fields("--target quic://127.0.0.1:1 --fill 200 --fill-conns"), io.Discard)
	if err != nil || o.fill != 200 || !o.fillConns {
		t.Errorf("fill: %+v %v", o, err)
	}
	if o, err := parseFlags(strings.Fields("--net quic --rtt 0s --jitter 0s --loss 0%"), io.Discard); err != nil || o.netMode != "quic" {
		t.Errorf("--net quic: %+v %v", o, err)
	}
	if o, err := parseFlags(nil, io.Discard); err != nil || o.netMode != "memnet" {
		t.Errorf("--net default: %+v %v", o, err)
	}
	if _, err := parseFlags([]string{"--help"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	rng := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, 20000)
	for i := range xs {
		d := time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond))
		h.record(d)
		xs[i] = float64(d/time.Microsecond) / 1e3
	}
	slices.Sort(xs)
	for _, p := range []float64{0.5, 0.95, 0.99} {
		exact := xs[int(math.Ceil(p*float64(len(xs))))-1]
		if got := h.quantile(p); math.Abs(got-exact) > exact*0.035+0.001 {
			t.Errorf("p%v = %.4f ms, exact %.4f ms: beyond the 3.2%% bucket error", p*100, got, exact)
		}
	}
	if l := h.latency(); l.Max != xs[len(xs)-1] || l.P99 > l.Max {
		t.Errorf("max %v, exact %v (p99 %v)", l.Max, xs[len(xs)-1], l.P99)
	}
	for us := uint64(0); us < 1<<30; us = us*2 + 1 {
		if v := histValue(histIndex(us)); math.Abs(v-float64(us)) > float64(us)/32+1 {
			t.Errorf("%d µs lands in a bucket of midpoint %v", us, v)
		}
	}
	var empty hist
	if empty.quantile(0.5) != 0 || empty.latency() != nil {
		t.Error("empty histogram reports figures")
	}
}

func TestCodeName(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{wire.ErrBusy, "busy"},
		{wire.QuotaHit("peer_rps"), "quota_exceeded"},
		{context.DeadlineExceeded, "timeout"},
		{wire.ErrHopExceeded, "hop_exceeded"},
		{wire.ErrTransportDown, "transport_down"},
		{errors.New("boom"), "other"},
	} {
		if got := codeName(c.err); got != c.want {
			t.Errorf("codeName(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestScanSum(t *testing.T) {
	text := "# HELP x\nqueue_dropped_total{queue=\"work\"} 3\nqueue_dropped_total{queue=\"verify\"} 4\nqueue_dropped_totals 100\ngo_memstats_mallocs_total 1.5e+06\n"
	if v, ok, err := scanSum(strings.NewReader(text), "queue_dropped_total"); err != nil || !ok || v != 7 {
		t.Errorf("labelled sum: %v %v %v", v, ok, err)
	}
	if v, ok, err := scanSum(strings.NewReader(text), "go_memstats_mallocs_total"); err != nil || !ok || v != 1.5e6 {
		t.Errorf("unlabelled: %v %v %v", v, ok, err)
	}
	if _, ok, err := scanSum(strings.NewReader(text), "absent_total"); err != nil || ok {
		t.Errorf("absent: %v %v", ok, err)
	}
}

// runHarness runs the command with args plus --json and returns the saved
// result.
func runHarness(t *testing.T, args ...string) *perfresult.Result {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append(args, "--json", path), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	res, err := perfresult.Load(path)
	if err != nil {
		t.Fatalf("result: %v", err)
	}
	return res
}

func TestVirtualRun(t *testing.T) {
	args := []string{"--virtual", "--peers", "300", "--oracle", "on", "--lookups", "600", "--rps", "200", "--churn", "10%/h", "--seed", "7", "--progress=false"}
	res := runHarness(t, args...)
	if res.Mode != perfresult.ModeVirtual || res.Hops == nil || res.RPCsPerLookup == nil || res.ReplicasPerProvide == nil {
		t.Fatalf("result lacks figures: %+v", res)
	}
	var n uint64
	for _, op := range res.Ops {
		n += op.Count
	}
	if n != 600 || res.Ops["find_node"].Codes["ok"] == 0 {
		t.Errorf("ops %+v: want 600 operations, FIND_NODEs succeeding", res.Ops)
	}
	if res.Hops.P99 > 5 || res.Params.Churn != "10%/h" || res.Params.Peers != 300 {
		t.Errorf("hops %+v params %+v", res.Hops, res.Params)
	}
	// The same seed gives the same run.
	again := runHarness(t, args...)
	if !equalHops(res.Hops, again.Hops) || *res.RPCsPerLookup != *again.RPCsPerLookup {
		t.Errorf("same seed, different runs: %+v / %+v", res.Hops, again.Hops)
	}
}

func equalHops(a, b *perfresult.Hops) bool {
	if a.P50 != b.P50 || a.P95 != b.P95 || a.P99 != b.P99 || len(a.Histogram) != len(b.Histogram) {
		return false
	}
	for k, v := range a.Histogram {
		if b.Histogram[k] != v {
			return false
		}
	}
	return true
}

func TestSwarmRun(t *testing.T) {
	res := runHarness(t, "--peers", "10", "--rps", "20", "--duration", "2s", "--seed", "3", "--progress=false")
	if res.Mode != perfresult.ModeSwarm || res.ReadyS == nil || res.CPU == nil || res.PeakRSSMiB == nil ||
		res.RSSPerPeerMiB == nil || res.AllocsPerRPC == nil || res.RPCsPerLookup == nil || res.ErrorBudget == nil {
		t.Fatalf("result lacks figures: %+v", res)
	}
	var n, ok uint64
	for _, op := range res.Ops {
		n += op.Count
		ok += op.Codes["ok"]
	}
	if n != 40 || ok == 0 {
		t.Errorf("ops %+v: want 40 operations, some ok", res.Ops)
	}
	if res.Params.RTT != "1ms-3ms" || res.Params.Loss != "0.1%" || res.Params.Profile != "micronode" {
		t.Errorf("params %+v", res.Params)
	}
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, "over node/memnet (--net memnet") || !strings.Contains(notes, "memnet in the window") {
		t.Errorf("notes do not name memnet:\n%s", notes)
	}
}

// TestSwarmRunQUIC runs a small swarm whose peers each have their own QUIC
// socket on loopback: the peers join through each other's real addresses,
// the lookups succeed, and the RPC figures come from the nodes' counters.
func TestSwarmRunQUIC(t *testing.T) {
	res := runHarness(t, "--net", "quic", "--rtt", "0s", "--jitter", "0s", "--loss", "0%", "--mix", "0/100/0",
		"--peers", "8", "--rps", "20", "--duration", "1s", "--seed", "5", "--progress=false")
	if res.Mode != perfresult.ModeSwarm || res.ReadyS == nil || res.RPCsPerLookup == nil || res.AllocsPerRPC == nil || res.ErrorBudget == nil {
		t.Fatalf("result lacks figures: %+v", res)
	}
	fn := res.Ops["find_node"]
	if fn.Count != 20 || fn.Codes["ok"] == 0 {
		t.Errorf("find_node %+v: want 20 operations, some ok", fn)
	}
	if *res.RPCsPerLookup <= 0 {
		t.Errorf("rpcs_per_lookup %v: want probes counted over QUIC", *res.RPCsPerLookup)
	}
	notes := strings.Join(res.Notes, "\n")
	for _, want := range []string{"8/8 peers ready", "own QUIC socket on loopback", "tls_handshake_failures_total"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "memnet in the window") {
		t.Errorf("memnet figures in a QUIC run:\n%s", notes)
	}
}

// loneTarget starts a micronode runtime on loopback that is the first node
// of its own network, for the target mode to load; seed varies its
// randomness. It is shut down when the test ends.
func loneTarget(t *testing.T, seed uint64) *runtime.Node {
	t.Helper()
	cfg, err := config.Defaults(config.Micronode)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ListenAddr, cfg.EventLoops = "127.0.0.1:0", 1
	cfg.Bootstrap.UseDefaultSeeds, cfg.Bootstrap.Seeds, cfg.Bootstrap.Required = false, nil, 0
	n, err := runtime.New(cfg, runtime.Options{DisableOps: true, Logger: slog.New(slog.DiscardHandler),
		Rand: rand.New(rand.NewPCG(seed, seed)), Entropy: rand.NewChaCha8([32]byte{byte(seed)})})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
	return n
}

func TestTargetRun(t *testing.T) {
	n := loneTarget(t, 1)
	target := n.ID().String() + "@" + n.Addrs()[0]
	res := runHarness(t, "--target", target, "--rps", "50", "--duration", "1s", "--clients", "2", "--records", "16",
		"--server-pid", strconv.Itoa(os.Getpid()), "--progress=false")
	if res.Mode != perfresult.ModeTarget || res.AchievedRPS == nil || res.CPU == nil || res.Hops != nil {
		t.Fatalf("result %+v", res)
	}
	var n50, ok uint64
	for _, op := range res.Ops {
		n50 += op.Count
		ok += op.Codes["ok"]
	}
	if n50 != 50 || ok == 0 || res.Ops["provide"].Count == 0 {
		t.Errorf("ops %+v: want 50 RPCs, some ok, some PROVIDE", res.Ops)
	}
}
