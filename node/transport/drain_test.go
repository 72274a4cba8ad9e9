package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/wire"
)

func TestDrainWaitsForServedStreams(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	var returned atomic.Bool
	// A held request whose answer is large (an echo of 700 KiB: many
	// chunks, flow-controlled): Drain must wait until it is written, not
	// only until the handler returns.
	big := func(ctx context.Context, peer PeerInfo, req, dst []byte) ([]byte, error) {
		started <- struct{}{}
		<-release
		out, err := echo(nil)(ctx, peer, req, dst)
		returned.Store(true)
		return out, err
	}
	env := wire.NewRequest(wire.OpStore, 1, testTS)
	bigReq, err := wire.AppendFrame(nil, &env, &wire.StoreRequest{Value: make([]byte, 700<<10), Sigs: []wire.Signature{}})
	if err != nil {
		t.Fatal(err)
	}
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, big, nil)
	id := b.ID()
	type result struct {
		n   int
		err error
	}
	held := make(chan result, 1)
	go func() {
		resp, _, err := a.Call(testCtx(t), b.addr(), &id, bigReq, nil)
		held <- result{len(resp), err}
	}()
	<-started

	// A context that has ended: Drain reports the stream still served.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Drain(ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain with an ended context and a held request: %v, want context.Canceled", err)
	}

	drained := make(chan error, 1)
	go func() { drained <- b.Drain(testCtx(t)) }()
	// New streams are refused with 1501 while the held one is served.
	if _, _, err := a.Call(testCtx(t), b.addr(), &id, pingFrame(t, 2), nil); !errors.Is(err, wire.ErrBusy) {
		t.Fatalf("call to a draining transport: %v, want 1501 Busy", err)
	}
	waitEvent(t, b.m.stream, StreamBusy)
	// Calls from the draining node still work.
	ping(t, b, a, 3)
	select {
	case err := <-drained:
		t.Fatalf("Drain returned (%v) while a request was held", err)
	default:
	}

	close(release)
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if !returned.Load() || b.streams.Load() != 0 {
		t.Fatalf("Drain returned before the answer was written (handler returned %v, %d streams served)",
			returned.Load(), b.streams.Load())
	}
	if r := <-held; r.err != nil || r.n < 700<<10 {
		t.Fatalf("held request: %d bytes, err %v", r.n, r.err)
	}
	if err := b.Drain(testCtx(t)); err != nil { // nothing left: at once
		t.Fatalf("second Drain: %v", err)
	}
}

func TestDrainIdle(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, echo(nil), nil)
	ping(t, a, b, 1)
	if err := b.Drain(testCtx(t)); err != nil {
		t.Fatalf("Drain of an idle transport: %v", err)
	}
	id := b.ID()
	if _, _, err := a.Call(testCtx(t), b.addr(), &id, pingFrame(t, 2), nil); !errors.Is(err, wire.ErrBusy) {
		t.Fatalf("call after Drain: %v, want 1501 Busy", err)
	}
}

// liveAndSilent starts a node on 127.0.0.1 and binds a UDP socket that
// never answers on the same port of 127.0.0.2.
func liveAndSilent(t *testing.T) (*node, net.PacketConn) {
	t.Helper()
	for range 20 {
		silent, err := net.ListenPacket("udp", "127.0.0.2:0")
		if err != nil {
			t.Skipf("cannot bind 127.0.0.2 on this machine: %v", err)
		}
		port := silent.LocalAddr().(*net.UDPAddr).Port
		b, err := New(testIdentity(t, 2), Config{ListenAddrs: []string{fmt.Sprintf("127.0.0.1:%d", port)}}, echo(nil))
		if err != nil { // port taken on 127.0.0.1: try another
			_ = silent.Close()
			continue
		}
		t.Cleanup(func() { _ = b.Close() })
		return &node{Transport: b, m: newRecMetrics()}, silent
	}
	t.Fatal("no port free on both loopback addresses")
	return nil, nil
}

func TestSetHappyEyeballsDelay(t *testing.T) {
	b, silent := liveAndSilent(t)
	defer func() { _ = silent.Close() }()
	port := b.addr()[strings.LastIndexByte(b.addr(), ':')+1:]
	a := newNode(t, 1, echo(nil), func(c *Config) {
		// The silent address comes first and its handshake never ends
		// before the call's deadline: only the stagger starts the second.
		c.HappyEyeballsDelay = time.Hour
		c.HandshakeTimeout = time.Hour
		c.Resolver = func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")}, nil
		}
	})
	if err := a.SetHappyEyeballsDelay(-time.Second); err == nil {
		t.Fatal("negative delay accepted")
	}
	id := b.ID()
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, _, err := a.Call(short, Scheme+"one.test:"+port, &id, pingFrame(t, 1), nil); err == nil {
		t.Fatal("call succeeded with an hour's stagger before the live address")
	}
	if err := a.SetHappyEyeballsDelay(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Another name: the first dial (shared by the calls to its address)
	// still waits with the old stagger.
	_, peer, err := a.Call(testCtx(t), Scheme+"two.test:"+port, &id, pingFrame(t, 2), nil)
	if err != nil {
		t.Fatalf("call after lowering the stagger: %v", err)
	}
	if got := peer.Addr.Addr().String(); got != "127.0.0.1" {
		t.Fatalf("connected to %v, want 127.0.0.1", peer.Addr)
	}
}
