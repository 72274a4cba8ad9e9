package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/result"
)

func TestUsageErrors(t *testing.T) {
	cases := [][]string{
		nil,
		{"bogus"},
		{"rpc-server"},
		{"rpc-server", "--impl", "foo", "--listen", "127.0.0.1:4001"},
		{"rpc-server", "--impl", "libp2p", "--listen", "8.8.8.8:53"},
		{"rpc-server", "--impl", "libp2p", "--listen", "0.0.0.0:4001"},
		{"rpc-server", "--impl", "anacrolix", "--listen", "localhost:4001"},
		{"rpc-server", "--impl", "anacrolix", "--listen", "127.0.0.1:4001", "--ctl", "10.0.0.1:80"},
		{"rpc-load", "--impl", "libp2p"},
		{"rpc-load", "--impl", "anacrolix", "--target", "router.bittorrent.com:6881"},
		{"rpc-load", "--impl", "anacrolix", "--target", "127.0.0.1:4001", "--inflight", "0"},
		{"swarm", "--impl", "anacrolix", "--nodes", "1"},
		{"swarm", "--impl", "libp2p", "--nodes", "10", "--seeds", "10"},
		{"swarm", "--impl", "anacrolix", "--nodes", "10", "--lookups", "0"},
		{"swarm", "--impl", "anacrolix", "stray"},
		{"swarm", "--no-such-flag"},
	}
	for _, args := range cases {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
	}
}

func TestSameEndpoint(t *testing.T) {
	ap := netip.MustParseAddrPort("127.0.0.1:4001")
	if err := sameEndpoint("/ip4/127.0.0.1/udp/4001/quic-v1/p2p/12D3KooWKTBypvY4qy7iXSgTjpJGFP9SahZyp6GFZonTDishx9FX", ap); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"/ip4/127.0.0.1/udp/4002/quic-v1", "/ip4/127.0.0.2/udp/4001/quic-v1",
		"/ip4/104.131.131.82/udp/4001/quic-v1", "garbage"} {
		if err := sameEndpoint(a, ap); err == nil {
			t.Errorf("%s accepted as %s", a, ap)
		}
	}
}

func readResult(t *testing.T, path string) result.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r result.Result
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return r
}

func TestSwarmCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "swarm.json")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"swarm", "--impl", "anacrolix", "--nodes", "12", "--seeds", "2",
		"--lookups", "8", "--concurrency", "2", "--json", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	r := readResult(t, out)
	if r.Impl != "anacrolix" || r.Mode != result.ModeSwarm || r.Nodes != 12 || r.Lookups != 8 || r.Errors != 0 {
		t.Fatalf("result %+v", r)
	}
	if r.RPCsPerLookup <= 0 || r.RSSMiBPerNode <= 0 || r.Latency.P50 <= 0 || r.Latency.Max < r.Latency.P99 {
		t.Fatalf("missing figures: %+v", r)
	}
	if !strings.Contains(stdout.String(), "anacrolix swarm: 12 nodes") {
		t.Fatalf("human summary: %q", stdout.String())
	}
}

func freePort(t *testing.T) netip.AddrPort {
	t.Helper()
	// A TCP port that is free now, for both the control endpoint (TCP) and
	// the server (UDP, a separate port space).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func TestRPCServerAndLoad(t *testing.T) {
	for _, impl := range []string{"anacrolix", "libp2p"} {
		t.Run(impl, func(t *testing.T) {
			ap := freePort(t).String()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var srvOut, srvErr bytes.Buffer
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"rpc-server", "--impl", impl, "--listen", ap, "--fill", "10"}, &srvOut, &srvErr)
			}()
			other := map[string]string{"anacrolix": "libp2p", "libp2p": "anacrolix"}[impl]
			var discard bytes.Buffer
			wrong := run(context.Background(), []string{"rpc-load", "--impl", other, "--target", ap, "--duration", "1s"}, &discard, &discard)
			out := filepath.Join(t.TempDir(), "rpc.json")
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"rpc-load", "--impl", impl, "--target", ap, "--inflight", "4",
				"--clients", "2", "--warmup", "0s", "--duration", "1m", "--max-rpcs", "400", "--json", out}, &stdout, &stderr)
			cancel()
			if srv := <-done; srv != 0 {
				t.Fatalf("server exit %d: %s", srv, srvErr.String())
			}
			if wrong != 2 {
				t.Fatalf("load with --impl %s against a %s server: exit %d, want 2 (%s)", other, impl, wrong, discard.String())
			}
			if code != 0 {
				t.Fatalf("load exit %d: %s", code, stderr.String())
			}
			r := readResult(t, out)
			if r.Impl != impl || r.Mode != result.ModeTarget || r.Errors != 0 || r.RPCs < 400-4 || r.Inflight != 4 {
				t.Fatalf("result %+v", r)
			}
			if r.RPS <= 0 || r.CPUUsPerRPC <= 0 || r.AllocsPerRPC <= 0 || r.AnswerNodes < 1 || r.ServerRTSize < 8 {
				t.Fatalf("missing figures: %+v", r)
			}
		})
	}
}

func TestTable(t *testing.T) {
	dir := t.TempDir()
	a := result.Result{Impl: "libp2p", Mode: result.ModeTarget, RPS: 8123.4, CPUUsPerRPC: 171.96, AllocsPerRPC: 160.4,
		Inflight: 64, Latency: result.Latency{P50: 7.5, P95: 20, P99: 40.126, Max: 90}, LoadAvg: "1.00 2.00 3.00"}
	exact := 0.0
	b := result.Result{Impl: "anacrolix", Mode: result.ModeSwarm, Nodes: 200, ReadySeconds: 0.5, RPCsPerLookup: 12.26,
		RSSMiBPerNode: 1.5, Latency: result.Latency{P50: 1, P95: 2, P99: 3, Max: 4}, SettleSeconds: 2, SettleCPUPct: 3.2,
		LookupExactPct: &exact}
	var files []string
	for i, r := range []result.Result{a, b} {
		p := filepath.Join(dir, []string{"a.json", "b.json"}[i])
		if err := r.WriteFile(p); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), append([]string{"table"}, files...), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("table:\n%s", out.String())
	}
	wantA := "| libp2p | target | 64 in flight | 8123 | 172.0 | 160 | 7.50 | 20.00 | 40.13 | 90.00 | – | – | – | – | – | – | 0 | 1.00/2.00/3.00 |"
	wantB := "| anacrolix | swarm | 200 nodes | – | – | – | 1.00 | 2.00 | 3.00 | 4.00 | 0.50 | 2 (3) | 12.3 | 0.0 | 1.50 | – | 0 |  |"
	if lines[2] != wantA || lines[3] != wantB {
		t.Fatalf("rows:\n%s\n%s\nwant:\n%s\n%s", lines[2], lines[3], wantA, wantB)
	}
	if code := run(context.Background(), []string{"table"}, &out, &errb); code != 2 {
		t.Fatalf("table without files: exit %d", code)
	}
}

func TestWaitQuiet(t *testing.T) {
	// No process uses 64 cores: quiet at the first one-second sample.
	d, ok, share, err := waitQuiet(context.Background(), 64, 10*time.Second)
	if err != nil || !ok || d >= 10*time.Second || share < 0 || share >= 64 {
		t.Fatalf("waitQuiet(64 cores) = %v, %v, %v, %v", d, ok, share, err)
	}
	// CPU time never goes down: a zero share is never reached, the limit ends the wait.
	if _, ok, _, err := waitQuiet(context.Background(), 0, 1500*time.Millisecond); err != nil || ok {
		t.Fatalf("waitQuiet(0) = %v, %v", ok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := waitQuiet(ctx, 0, time.Minute); err == nil {
		t.Fatal("cancelled context not reported")
	}
}

// svcTarget and svcSwarm are results as svc-dht-perf writes them (schema 1
// of the main module's cmd/internal/perfresult), trimmed of nothing the
// table ignores: unknown keys must not matter.
const svcTarget = `{
  "schema_version": 1, "tool": "svc-dht-perf", "version": "(devel)", "git": "0123456789abcdef0123+dirty", "mode": "target",
  "command": "svc-dht-perf --target quic://127.0.0.1:47140 --mix 0/100/0 --inflight 64 --clients 8 --rps 50000 --duration 20s --server-pid 5984 --server-metrics http://127.0.0.1:47141/metrics --json x.json",
  "machine": {"goos": "linux", "goarch": "amd64", "cpus": 2, "cpu_model": "AMD EPYC", "go_version": "go1.26.8"},
  "started_at": "2026-11-28T10:06:35Z", "duration_s": 20,
  "params": {"peers": 0, "rps": 50000, "alpha": 3, "beta": 1, "k": 20, "mix": "0/100/0", "seed": 1},
  "ops": {"find_node": {"count": 271000, "latency_ms": {"p50": 9.344, "p95": 20.224, "p99": 27.392, "max": 45.955}, "codes": {"ok": 270990, "busy": 10}}},
  "achieved_rps": 13561.03,
  "error_budget": {"http_5xx_ratio": 0, "r429_503_ratio": 0, "queue_drop_ratio": 0, "tls_failures_per_min": 0},
  "cpu": {"avg_pct": 52.5, "us_per_rpc": 38.75},
  "allocs_per_rpc": 31.25, "peak_rss_mib": 26.6,
  "notes": ["an operation is one RPC"]
}`

const svcSwarm = `{
  "schema_version": 1, "tool": "svc-dht-perf", "version": "(devel)", "git": "0123456789abcdef0123+dirty", "mode": "swarm",
  "command": "svc-dht-perf --peers 200 --rtt 0s --jitter 0s --loss 0% --mix 0/100/0 --rps 25 --duration 20000ms --json y.json",
  "machine": {"goos": "linux", "goarch": "amd64", "cpus": 2, "go_version": "go1.26.8"},
  "started_at": "2026-11-28T10:07:46Z", "duration_s": 19.96,
  "params": {"peers": 200, "rps": 25, "alpha": 3, "beta": 1, "k": 20, "mix": "0/100/0", "seed": 1, "rtt": "0s", "jitter": "0s", "loss": "0%", "profile": "micronode"},
  "ops": {"find_node": {"count": 500, "latency_ms": {"p50": 2.144, "p95": 9.6, "p99": 20.736, "max": 55.285}, "codes": {"ok": 500}}},
  "hops": {"histogram": {"1": 219, "2": 262, "3": 19}, "p50": 2, "p95": 2, "p99": 3},
  "achieved_rps": 25, "cpu": {"avg_pct": 7.6, "us_per_rpc": 147.4}, "allocs_per_rpc": 58.12,
  "peak_rss_mib": 208.81, "rss_per_peer_mib": 1.044, "ready_s": {"p50": 2.74, "p95": 3.22}, "rpcs_per_lookup": 20.48,
  "notes": ["whole swarm ready in 3.36s (first start to last peer ready); 200/200 peers ready"]
}`

func TestTableWithSvcDHT(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lib := result.Result{Impl: "libp2p", ImplVersion: "go-libp2p-kad-dht v0.42.2", Mode: result.ModeTarget, RPS: 13041.4,
		CPUUsPerRPC: 85.34, AllocsPerRPC: 160.7, Inflight: 64, Latency: result.Latency{P50: 3.925, P95: 12.124, P99: 18.43, Max: 61.097},
		WindowSeconds: 20, ServerRTSize: 32, AnswerNodes: 20, LoadAvg: "1.98 1.79 3.79",
		Command: "peers rpc-load --impl libp2p --target 127.0.0.1:47101 --inflight 64 --warmup 3s --duration 20s"}
	libPath := filepath.Join(dir, "rpc-libp2p.json")
	if err := lib.WriteFile(libPath); err != nil {
		t.Fatal(err)
	}
	target := write("rpc-svc-dht-macronode.json", svcTarget)
	swarm := write("swarm-svc-dht-200.json", svcSwarm)
	machine := write("machine.txt", "date: 2026-11-28T09:35:19Z\ncpus: 2\n\nloadavg at end: 1.60 1.89 3.39\n")

	var out, errb bytes.Buffer
	args := []string{"table", "--machine", machine, "--notes", libPath, "svc-dht macronode=" + target, swarm}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := map[int]string{
		0: "Run: date: 2026-11-28T09:35:19Z; cpus: 2; loadavg at end: 1.60 1.89 3.39.",
		2: "Versions: go-libp2p-kad-dht v0.42.2; svc-dht (devel) (git 0123456789ab+dirty).",
		4: tableHead + " method |",
		6: "| libp2p | target | 64 in flight | 13041 | 85.3 | 161 | 3.92 | 12.12 | 18.43 | 61.10 | – | – | – | – | – | – | 0 | 1.98/1.79/3.79 | [1] |",
		7: "| svc-dht macronode | target | 64 in flight, stream/RPC | 13561 | 38.8 | 31 | 9.34 | 20.22 | 27.39 | 45.95 | – | – | – | – | – | – | 10 | – | [2] |",
		8: "| svc-dht | swarm | 200 nodes | – | – | – | 2.14 | 9.60 | 20.74 | 55.28 | 3.36 | – | 20.5 | – | 1.04 | – | 0 | – | [3] |",
	}
	if len(lines) != 15 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d:\n%s\nwant:\n%s", i, lines[i], w)
		}
	}
	for i, w := range []string{
		"1. peers rpc-load: closed loop, 64 workers with one FIND_NODE in flight each, over 8 QUIC connections",
		"2. svc-dht-perf --target: the daemon in its own process over QUIC (TLS 1.3), open loop at 50000 RPC/s offered (above capacity",
		"3. svc-dht-perf swarm: 200 node runtimes (micronode profile, one event loop each) in one process over node/memnet",
	} {
		if l := lines[12+i]; !strings.HasPrefix(l, w) {
			t.Errorf("note %d: %q\nwant prefix %q", i+1, l, w)
		}
	}
	for _, w := range []string{"64-deep queue", "go_memstats_mallocs_total", "per node p50 2.74 s, p95 3.22 s", `as svc-dht-perf notes it: "whole swarm ready in 3.36s (first start to last peer ready); 200/200 peers ready"`, "RTT 0s, jitter 0s, loss 0%", "k 20, alpha 3"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("notes lack %q", w)
		}
	}

	// A run that reached its offered rate did not measure capacity: the note says so.
	unsat := write("unsat.json", strings.Replace(svcTarget, `"achieved_rps": 13561.03`, `"achieved_rps": 49990`, 1))
	out.Reset()
	if code := run(context.Background(), []string{"table", "--notes", unsat}, &out, &errb); code != 0 || !strings.Contains(out.String(), "NOT saturated") {
		t.Fatalf("exit %d, unsaturated run not flagged:\n%s", code, out.String())
	}
	// Without allocations (the default build), the note says they were not measured.
	noAllocs := write("micro.json", strings.Replace(svcTarget, `"allocs_per_rpc": 31.25, `, "", 1))
	out.Reset()
	if code := run(context.Background(), []string{"table", "--notes", noAllocs}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "| 38.8 | – |") || !strings.Contains(out.String(), "allocations not measured") {
		t.Fatalf("exit %d, row without allocations:\n%s", code, out.String())
	}

	bad := map[string]string{
		"mixed workload": strings.Replace(svcTarget, `"codes": {"ok": 270990, "busy": 10}}}`,
			`"codes": {"ok": 270990, "busy": 10}}, "provide": {"count": 5, "codes": {"ok": 5}}}`, 1),
		"no find_node": strings.Replace(svcTarget, `"find_node"`, `"find_value"`, 1),
		"schema 2":     strings.Replace(svcTarget, `"schema_version": 1`, `"schema_version": 2`, 1),
		"virtual":      strings.Replace(svcSwarm, `"mode": "swarm"`, `"mode": "virtual"`, 1),
		"not json":     `{"tool": "svc-dht-perf",`,
	}
	for name, body := range bad {
		p := write("bad.json", body)
		if code := run(context.Background(), []string{"table", p}, &out, &errb); code != 1 {
			t.Errorf("%s: exit %d, want 1", name, code)
		}
	}
	for _, args := range [][]string{{"table", "=" + target}, {"table", "label="}, {"table", "--notes"}, {"table", "--bogus", target}} {
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if code := run(context.Background(), []string{"table", "--machine", filepath.Join(dir, "missing.txt"), target}, &out, &errb); code != 1 {
		t.Errorf("missing machine file: exit %d, want 1", code)
	}
}
