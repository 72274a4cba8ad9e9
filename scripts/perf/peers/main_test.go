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
