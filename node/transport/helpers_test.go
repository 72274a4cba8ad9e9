package transport

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"go.uber.org/goleak"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitLimit bounds every wait for an event in these tests. It is only ever
// reached when the code under test is broken; nothing asserts on timing.
const waitLimit = 10 * time.Second

// testTS is the ts of every envelope the tests build.
const testTS = 1_700_000_000

// recMetrics counts like Counters and also reports connection closes and
// stream failures on channels, so tests can wait for them without polling.
type recMetrics struct {
	Counters
	closed chan ConnClose
	stream chan StreamFailure
}

func newRecMetrics() *recMetrics {
	return &recMetrics{closed: make(chan ConnClose, 256), stream: make(chan StreamFailure, 256)}
}

func (m *recMetrics) ConnClosed(r ConnClose) {
	m.Counters.ConnClosed(r)
	select {
	case m.closed <- r:
	default:
	}
}

func (m *recMetrics) StreamFailed(r StreamFailure) {
	m.Counters.StreamFailed(r)
	select {
	case m.stream <- r:
	default:
	}
}

func waitEvent[T comparable](t *testing.T, ch <-chan T, want T) {
	t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
		case <-timer.C:
			t.Fatalf("no %v event within %v", want, waitLimit)
		}
	}
}

// testCtx returns a context that only the wait limit ends, so that calls
// in slow (-race, loaded machine) runs are not cut by the default
// rpc_timeout.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// testIdentity returns a deterministic identity for seed.
func testIdentity(t testing.TB, seed byte) *identity.Identity {
	t.Helper()
	id, err := identity.FromSeeds(bytes.Repeat([]byte{seed}, identity.SeedSize), nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// node is a transport under test with its metrics.
type node struct {
	*Transport
	m *recMetrics
}

// addr returns the node's first listening address.
func (n *node) addr() string { return n.Addrs()[0] }

// newNode starts a transport on IPv4 loopback; mod adjusts its config.
func newNode(t testing.TB, seed byte, h Handler, mod func(*Config)) *node {
	t.Helper()
	m := newRecMetrics()
	cfg := Config{ListenAddrs: []string{"127.0.0.1:0"}, Metrics: m}
	if mod != nil {
		mod(&cfg)
	}
	tr, err := New(testIdentity(t, seed), cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return &node{Transport: tr, m: m}
}

// echo answers every request with an OK response carrying the request's
// body, and reports the caller on seen when it is not nil.
func echo(seen chan<- PeerInfo) Handler {
	return func(_ context.Context, peer PeerInfo, req, dst []byte) ([]byte, error) {
		if seen != nil {
			seen <- peer
		}
		var env wire.Envelope
		if err := wire.DecodeEnvelope(req, &env); err != nil {
			return dst, err
		}
		resp := wire.NewResponse(&env, wire.CodeOK, env.TS)
		resp.Body = env.Body
		return wire.AppendFrame(dst, &resp, nil)
	}
}

// pingFrame builds a PING request frame.
func pingFrame(t testing.TB, corr uint64) []byte {
	t.Helper()
	env := wire.NewRequest(wire.OpPing, corr, testTS)
	f, err := wire.AppendFrame(nil, &env, &wire.PingRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// decode decodes a response envelope.
func decode(t testing.TB, b []byte) wire.Envelope {
	t.Helper()
	var env wire.Envelope
	if err := wire.DecodeEnvelope(b, &env); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return env
}

// ping calls PING on to from from and checks the echo.
func ping(t testing.TB, from *node, to *node, corr uint64) PeerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	id := to.ID()
	resp, peer, err := from.Call(ctx, to.addr(), &id, pingFrame(t, corr), nil)
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	env := decode(t, resp)
	if env.CorrID != corr || env.Code != wire.CodeOK || !env.IsResponse() {
		t.Fatalf("ping response: corr %d code %d flags %d, want corr %d OK", env.CorrID, env.Code, env.Flags, corr)
	}
	return peer
}

// rawStream opens a stream on from's pooled connection to peer, bypassing
// Call, so a test can write anything on it.
func rawStream(t *testing.T, from *node, peer kbucket.ID) *quic.Stream {
	t.Helper()
	from.mu.Lock()
	c := from.byID[peer]
	from.mu.Unlock()
	if c == nil {
		t.Fatal("no pooled connection")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := c.qc.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readAll reads a stream to its end under the wait limit.
func readAll(t *testing.T, s *quic.Stream) ([]byte, error) {
	t.Helper()
	_ = s.SetReadDeadline(time.Now().Add(waitLimit))
	var buf bytes.Buffer
	_, err := buf.ReadFrom(s)
	return buf.Bytes(), err
}

// hasIPv6Loopback reports whether ::1 can be bound.
func hasIPv6Loopback() bool {
	c, err := net.ListenPacket("udp", "[::1]:0")
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// rawEndpoint is a bare quic-go transport on an IPv4 loopback socket, for
// peers that do not follow the rules. Closing it ends all its goroutines
// at once (the single-use transports of quic.ListenAddr and quic.DialAddr
// linger while closed connections drain).
func rawEndpoint(t *testing.T) *quic.Transport {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	t.Cleanup(func() {
		_ = tr.Close()
		_ = udp.Close()
	})
	return tr
}
