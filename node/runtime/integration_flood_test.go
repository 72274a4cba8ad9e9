package runtime

import (
	"context"
	"encoding/binary"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

// paddedPing returns a PING request frame carrying pad bytes in an
// envelope key this version does not know (9), which readers skip: a
// valid request as large as a real PROVIDE, so that a flood of them moves
// real volume through the node.
func paddedPing(t *testing.T, corr uint64, pad int) []byte {
	t.Helper()
	f, err := appendRequestFrame(nil, &core.Request{Op: wire.OpPing}, corr, time.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	if f[4] != 0xa7 || pad < 1<<8 || pad >= 1<<16 { // bytes(pad) has a 2-byte length
		t.Fatalf("unexpected envelope head %#x or pad %d", f[4], pad)
	}
	f[4] = 0xa8                                        // map(8)
	f = append(f, 0x09, 0x59, byte(pad>>8), byte(pad)) // key 9: bytes(pad)
	f = append(f, make([]byte, pad)...)
	binary.BigEndian.PutUint32(f, uint32(len(f)-4))
	return f
}

// callCode sends frame from client to n and returns the answer's code, or
// the wire code of a reset, or 0 with the error.
func callCode(client *transport.Transport, n *Node, frame []byte) (wire.Code, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
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

// heapInuse returns HeapInuse after two collections (the second empties
// the sync.Pools' victim caches).
func heapInuse() uint64 {
	goruntime.GC()
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func TestIntegrationFloodPastQueue(t *testing.T) {
	const (
		queueCap = 8
		clients  = 4
		perPeer  = 150
		flood    = clients * perPeer
		pad      = 24 << 10
	)
	// A running node whose owner the test holds, with one event loop and
	// a small work queue; the quotas are out of the way so that the queue
	// is what refuses.
	gate := make(chan struct{})
	opts := testOptions(60, nil)
	// Uploads slowed down by the flood itself must not hit the read
	// deadline of inbound streams: this test is about the queue.
	opts.hooks = &testHooks{ownerGate: gate, loops: 1, queueCap: queueCap, streamTimeout: waitBound}
	cfg := testConfig(t)
	cfg.Limits.MaxRPS, cfg.Limits.PeerRPS, cfg.Limits.MaxInflight = 1_000_000, 100_000, 65536
	n := startNode(t, cfg, opts)
	released := false
	release := func() {
		if !released {
			released = true
			close(gate)
		}
	}
	t.Cleanup(release)

	var peers [clients]*transport.Transport
	var frames [clients][]byte
	for i := range peers {
		peers[i] = newClient(t, byte(60+i))
		frames[i] = paddedPing(t, uint64(i+1), pad)
	}
	// Connect every peer: one request each, let through the gate one by
	// one.
	for i, p := range peers {
		ch := make(chan wire.Code, 1)
		go func() {
			c, _ := callCode(p, n, frames[i])
			ch <- c
		}()
		select {
		case gate <- struct{}{}:
		case c := <-ch:
			t.Fatalf("peer %d: first request answered %v without reaching the owner", i, c)
		}
		if c := <-ch; c != wire.CodeOK {
			t.Fatalf("peer %d: first request: code %v, want OK", i, c)
		}
	}
	before := heapInuse()

	// Hold one request at the owner; the event loop waits for it, so the
	// queue then takes exactly queueCap requests.
	type result struct {
		code wire.Code
		err  error
	}
	results := make(chan result, flood+1)
	sent, got := 0, 0
	send := func(i int) {
		sent++
		go func() {
			c, err := callCode(peers[i], n, frames[i])
			results <- result{c, err}
		}()
	}
	next := func() result {
		got++
		return <-results
	}
	t.Cleanup(func() { // every request goroutine ends before the test
		release()
		for got < sent {
			next()
		}
	})
	send(0)
	waitFor(t, "the owner to hold a request", func() bool { return held(n, 1) && len(n.inbound) == 0 })

	// The flood: all at once, from every peer.
	start := time.Now()
	for i := range flood {
		send(i % clients)
	}
	for i := range flood - queueCap {
		if r := next(); r.err != nil || r.code != wire.CodeBusy {
			t.Fatalf("flood answer %d: code %v, err %v; want 1501 Busy (only %d fit in the queue)", i, r.code, r.err, queueCap)
		}
	}
	t.Logf("flood answered in %v", time.Since(start).Round(time.Millisecond))
	if d := n.queueDepth(); d != queueCap {
		t.Fatalf("queue depth %d, want %d", d, queueCap)
	}
	text := metricsText(t, n)
	for _, want := range []string{
		fmt.Sprintf(`queue_dropped_total{queue="work"} %d`, flood-queueCap),
		fmt.Sprintf(`busy_rejections_total{endpoint="ping"} %d`, flood-queueCap),
		fmt.Sprintf(`queue_depth{queue="work"} %d`, queueCap),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if ok, missing := n.Ready(); !ok {
		t.Fatalf("node not ready during the flood: %v", missing)
	}

	// Memory: what the flood carried is gone; what stays is the held
	// requests' buffers and the connections' state.
	after := heapInuse()
	carried := uint64(flood) * pad
	grew := int64(after) - int64(before)
	t.Logf("flood of %d requests (%d KiB each, %.1f MiB in all), %d refused 1501: HeapInuse %.1f MiB before, %.1f MiB after (%+.1f MiB)",
		flood, pad>>10, float64(carried)/(1<<20), flood-queueCap,
		float64(before)/(1<<20), float64(after)/(1<<20), float64(grew)/(1<<20))
	if limit := int64(carried / 2); grew > limit {
		t.Fatalf("HeapInuse grew by %.1f MiB over the flood, bound %.1f MiB (half of what it carried)",
			float64(grew)/(1<<20), float64(limit)/(1<<20))
	}

	// Released, the held requests are answered and the node serves on.
	release()
	for i := range queueCap + 1 {
		if r := next(); r.err != nil || r.code != wire.CodeOK {
			t.Errorf("held request %d: code %v, err %v; want OK", i, r.code, r.err)
		}
	}
	if c, err := callCode(peers[1], n, frames[1]); err != nil || c != wire.CodeOK {
		t.Fatalf("after the flood: code %v, err %v", c, err)
	}
	if ok, missing := n.Ready(); !ok {
		t.Fatalf("node not ready after the flood: %v", missing)
	}
}
