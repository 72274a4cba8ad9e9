package runtime

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

// rawPing sends one PING from client to n and returns the answer's code,
// or the wire code of the error (a stream reset carries one).
func rawPing(ctx context.Context, client *transport.Transport, n *Node) (wire.Code, error) {
	frame, err := appendRequestFrame(nil, &core.Request{Op: wire.OpPing}, 42, time.Now().Unix())
	if err != nil {
		return 0, err
	}
	raw, _, err := client.Call(ctx, n.Addrs()[0], nil, frame, nil)
	if err != nil {
		if c := wire.CodeOf(err); c != 0 {
			return c, nil
		}
		return 0, err
	}
	var env wire.Envelope
	if err := wire.DecodeEnvelope(raw, &env); err != nil {
		return 0, err
	}
	return env.Code, nil
}

// asyncPing starts rawPing in a goroutine; the code arrives on the channel.
func asyncPing(client *transport.Transport, n *Node) <-chan wire.Code {
	ch := make(chan wire.Code, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		c, err := rawPing(ctx, client, n)
		if err != nil {
			c = 0
		}
		ch <- c
	}()
	return ch
}

// metricsText renders n's metrics.
func metricsText(t *testing.T, n *Node) string {
	t.Helper()
	var b bytes.Buffer
	if err := n.Metrics().WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// gatedNode starts a first node whose owner blocks on the returned gate
// before serving each inbound request, with one event loop whose queue
// holds queueCap requests.
func gatedNode(t *testing.T, queueCap int) (*Node, chan struct{}) {
	t.Helper()
	gate := make(chan struct{})
	opts := testOptions(20, nil)
	opts.hooks = &testHooks{ownerGate: gate, loops: 1, queueCap: queueCap}
	cfg := testConfig(t)
	cfg.Limits.MaxRPS, cfg.Limits.PeerRPS = 1_000_000, 100_000
	n := startNode(t, cfg, opts)
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})
	return n, gate
}

// held reports whether exactly k requests are inside n, none of them
// waiting in a work queue.
func held(n *Node, k int) bool {
	return n.inflight.Load() == int64(k) && n.queueDepth() == 0
}

func TestQueueFloodAnswersBusy(t *testing.T) {
	const queueCap, flood = 2, 10
	n, gate := gatedNode(t, queueCap)
	client := newClient(t, 1)

	// Fill the pipeline: the event loop hands request 1 to the owner
	// (stalled) and waits for it; then the loop's queue fills.
	var pending []<-chan wire.Code
	pending = append(pending, asyncPing(client, n))
	waitFor(t, "the owner to hold request 1", func() bool { return held(n, 1) && len(n.inbound) == 0 })
	for range queueCap {
		pending = append(pending, asyncPing(client, n))
	}
	waitFor(t, "a full work queue", func() bool { return n.queueDepth() == queueCap })

	// Everything beyond is refused at once with 1501, never queued.
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	for i := range flood {
		code, err := rawPing(ctx, client, n)
		if err != nil || code != wire.CodeBusy {
			t.Fatalf("flood request %d: code %v, err %v; want 1501 Busy", i, code, err)
		}
	}
	text := metricsText(t, n)
	for _, want := range []string{
		fmt.Sprintf(`queue_dropped_total{queue="work"} %d`, flood),
		fmt.Sprintf(`busy_rejections_total{endpoint="ping"} %d`, flood),
		fmt.Sprintf(`queue_depth{queue="work"} %d`, queueCap),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Released, the held requests are answered and the node keeps serving.
	close(gate)
	for i, ch := range pending {
		if c := <-ch; c != wire.CodeOK {
			t.Errorf("held request %d: code %v, want OK", i+1, c)
		}
	}
	if code, err := rawPing(ctx, client, n); err != nil || code != wire.CodeOK {
		t.Fatalf("after the flood: code %v, err %v", code, err)
	}
	if ok, missing := n.Ready(); !ok {
		t.Fatalf("node not ready after the flood: %v", missing)
	}
}

func TestInflightCap(t *testing.T) {
	gate := make(chan struct{})
	opts := testOptions(21, nil)
	opts.hooks = &testHooks{ownerGate: gate}
	cfg := testConfig(t)
	cfg.Limits.MaxInflight = 1
	n := startNode(t, cfg, opts)
	client := newClient(t, 2)
	first := asyncPing(client, n)
	waitFor(t, "the owner to hold request 1", func() bool { return held(n, 1) && len(n.inbound) == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if code, err := rawPing(ctx, client, n); err != nil || code != wire.CodeQuotaExceeded {
		t.Fatalf("second request over max_inflight 1: code %v, err %v; want 1429", code, err)
	}
	close(gate)
	if c := <-first; c != wire.CodeOK {
		t.Fatalf("held request: %v", c)
	}
	if !strings.Contains(metricsText(t, n), `rejected_total{reason="max_inflight"} 1`) {
		t.Error(`metrics lack rejected_total{reason="max_inflight"} 1`)
	}
}

func TestRateLimits(t *testing.T) {
	// A frozen clock: no allowance ever comes back, so the counts are
	// exact.
	t0 := time.Unix(1_750_000_000, 0)
	opts := testOptions(22, nil)
	opts.Now = func() time.Time { return t0 }
	cfg := testConfig(t)
	cfg.Limits.PeerRPS = 2 // bursts of 2 per peer
	cfg.Limits.MaxRPS = 10 // bursts of 10 in all
	n := startNode(t, cfg, opts)
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()

	a := newClient(t, 3)
	for i, want := range []wire.Code{wire.CodeOK, wire.CodeOK, wire.CodeQuotaExceeded, wire.CodeQuotaExceeded} {
		if code, err := rawPing(ctx, a, n); err != nil || code != want {
			t.Fatalf("peer a, request %d: code %v, err %v; want %v", i+1, code, err, want)
		}
	}
	// Other peers have their own allowance, until the global one is spent:
	// a took 2 of 10.
	for i := range 8 {
		c := newClient(t, byte(10+i))
		if code, err := rawPing(ctx, c, n); err != nil || code != wire.CodeOK {
			t.Fatalf("peer %d: code %v, err %v; want OK", i, code, err)
		}
	}
	late := newClient(t, 30)
	if code, err := rawPing(ctx, late, n); err != nil || code != wire.CodeQuotaExceeded {
		t.Fatalf("request 11 over max_rps 10: code %v, err %v; want 1429", code, err)
	}
	text := metricsText(t, n)
	for _, want := range []string{`rejected_total{reason="peer_rps"} 2`, `rejected_total{reason="max_rps"} 1`} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestGracefulShutdownDrains(t *testing.T) {
	base := goleak.IgnoreCurrent()
	gate := make(chan struct{})
	opts := testOptions(23, nil)
	opts.hooks = &testHooks{ownerGate: gate}
	n, err := New(testConfig(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	client := newClient(t, 4)
	inflight := asyncPing(client, n)
	waitFor(t, "the owner to hold a request", func() bool { return held(n, 1) && len(n.inbound) == 0 })

	stopped := make(chan error, 1)
	go func() { stopped <- n.Shutdown(context.Background()) }()
	waitFor(t, "draining", func() bool { return n.ReadyStatus().Degraded == "draining" })
	code, body := get(t, n, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"degraded":"draining"`) {
		t.Fatalf("readyz while draining: %d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if c, err := rawPing(ctx, client, n); err != nil || c != wire.CodeBusy {
		t.Fatalf("new request while draining: code %v, err %v; want 1501", c, err)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	close(gate)
	if c := <-inflight; c != wire.CodeOK {
		t.Fatalf("in-flight request cut off: code %v", c)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, base)
}
