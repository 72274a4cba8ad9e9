package transport

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

func TestRoundTripMutualAuth(t *testing.T) {
	seen := make(chan PeerInfo, 1)
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, echo(seen), nil)

	peer := ping(t, a, b, 7)
	if peer.ID != b.ID() {
		t.Fatalf("caller sees peer %s, want %s", peer.ID.Short(), b.ID().Short())
	}
	if want := netip.MustParseAddrPort(strings.TrimPrefix(b.addr(), Scheme)); peer.Addr != want {
		t.Fatalf("caller sees addr %v, want %v", peer.Addr, want)
	}
	got := <-seen
	if got.ID != a.ID() {
		t.Fatalf("handler sees caller %s, want %s (mutual auth)", got.ID.Short(), a.ID().Short())
	}
	// The caller dials from its listening socket, so the callee observes
	// the caller's listening address.
	if want := netip.MustParseAddrPort(strings.TrimPrefix(a.addr(), Scheme)); got.Addr != want {
		t.Fatalf("handler sees addr %v, want %v", got.Addr, want)
	}
	// A second call reuses the connection.
	ping(t, a, b, 8)
	<-seen
	if n := a.m.ConnsOpened(false); n != 1 {
		t.Fatalf("outbound connections opened = %d, want 1", n)
	}
	if n := b.m.ConnsOpened(true); n != 1 {
		t.Fatalf("inbound connections accepted = %d, want 1", n)
	}
}

func TestCertificate(t *testing.T) {
	id := testIdentity(t, 9)
	c1, err := newCertificate(id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := peerID([]*x509.Certificate{c1.Leaf})
	if err != nil {
		t.Fatal(err)
	}
	if got != id.ID() {
		t.Fatalf("peerID = %s, want %s", got.Short(), id.ID().Short())
	}
	// The certificate depends on the key only (fixed dates, Ed25519 is
	// deterministic).
	c2, err := newCertificate(id)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c1.Certificate[0], c2.Certificate[0]) {
		t.Fatal("certificate is not a function of the key")
	}
	if !c1.Leaf.NotBefore.Before(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)) || c1.Leaf.NotAfter.Year() != 9999 {
		t.Fatalf("validity %v .. %v", c1.Leaf.NotBefore, c1.Leaf.NotAfter)
	}

	// Rejections: two certificates, a non-Ed25519 key, a broken signature.
	if _, err := peerID([]*x509.Certificate{c1.Leaf, c1.Leaf}); !errors.Is(err, errBadCert) {
		t.Fatalf("two certificates: %v", err)
	}
	if _, err := peerID(nil); !errors.Is(err, errBadCert) {
		t.Fatalf("no certificate: %v", err)
	}
	if _, err := peerID([]*x509.Certificate{ecdsaCert(t).Leaf}); !errors.Is(err, errBadCert) {
		t.Fatalf("ecdsa certificate: %v", err)
	}
	bad := *c1.Leaf
	bad.Signature = append([]byte(nil), bad.Signature...)
	bad.Signature[0] ^= 1
	if _, err := peerID([]*x509.Certificate{&bad}); !errors.Is(err, errBadCert) {
		t.Fatalf("bad self-signature: %v", err)
	}
}

// ecdsaCert makes a self-signed ECDSA certificate: valid TLS, wrong key
// type for svc-dht.
func ecdsaCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: certNotBefore, NotAfter: certNotAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestIDMismatch(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, echo(nil), nil)
	wrong := testIdentity(t, 3).ID()

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, _, err := a.Call(ctx, b.addr(), &wrong, pingFrame(t, 1), nil)
	if !errors.Is(err, ErrIDMismatch) {
		t.Fatalf("err = %v, want ErrIDMismatch", err)
	}
	want := fmt.Sprintf("transport: dial %s: peer is %s, expected %s", b.addr(), identity.KeyString(b.ID()), identity.KeyString(wrong))
	if err.Error() != want {
		t.Fatalf("error text:\n got %q\nwant %q", err, want)
	}
	if n := a.m.HandshakeFailures(HandshakeIDMismatch); n != 1 {
		t.Fatalf("id_mismatch count = %d, want 1", n)
	}
	if n := a.NumConns(); n != 0 {
		t.Fatalf("pooled connections after a failed dial = %d, want 0", n)
	}
	// The right expectation works; a wrong one on the now pooled address
	// fails without a new handshake.
	ping(t, a, b, 2)
	_, _, err = a.Call(ctx, b.addr(), &wrong, pingFrame(t, 3), nil)
	if !errors.Is(err, ErrIDMismatch) {
		t.Fatalf("err on pooled address = %v, want ErrIDMismatch", err)
	}
	if n := a.m.HandshakeFailures(HandshakeIDMismatch); n != 1 {
		t.Fatalf("id_mismatch count = %d, want still 1", n)
	}
}

func TestServerRejectsBadClients(t *testing.T) {
	b := newNode(t, 2, echo(nil), nil)
	addr := strings.TrimPrefix(b.addr(), Scheme)
	good, err := newCertificate(testIdentity(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		certs  []tls.Certificate
		alpn   string
		reason HandshakeFailure
	}{
		{"no client certificate", nil, ALPN, HandshakeBadCert},
		{"ecdsa client certificate", []tls.Certificate{ecdsaCert(t)}, ALPN, HandshakeBadCert},
		{"wrong alpn", []tls.Certificate{good}, "h3", HandshakeALPN},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := b.m.HandshakeFailures(tc.reason)
			conf := &tls.Config{Certificates: tc.certs, NextProtos: []string{tc.alpn}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			ua, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			qc, err := rawEndpoint(t).Dial(ctx, ua, conf, &quic.Config{HandshakeIdleTimeout: waitLimit})
			if err == nil {
				// TLS 1.3: the client may finish before the server has
				// checked its certificate; the server then closes.
				select {
				case <-qc.Context().Done():
				case <-ctx.Done():
					t.Fatal("server kept a connection with a bad client")
				}
				_ = qc.CloseWithError(0, "")
			}
			if n := b.m.HandshakeFailures(tc.reason); n != before+1 {
				t.Fatalf("%v count = %d, want %d", tc.reason, n, before+1)
			}
		})
	}
	if n := b.NumConns(); n != 0 {
		t.Fatalf("server pooled %d bad connections", n)
	}
}

func TestClientRejectsBadServer(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	good, err := newCertificate(testIdentity(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		cert   tls.Certificate
		alpn   string
		want   error
		reason HandshakeFailure
	}{
		{"ecdsa server certificate", ecdsaCert(t), ALPN, errBadCert, HandshakeBadCert},
		{"server without ron/kad-cbor", good, "h3", nil, HandshakeALPN},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := rawEndpoint(t).Listen(&tls.Config{
				Certificates: []tls.Certificate{tc.cert},
				NextProtos:   []string{tc.alpn},
				ClientAuth:   tls.RequireAnyClientCert,
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			before := a.m.HandshakeFailures(tc.reason)
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			_, _, err = a.Call(ctx, Scheme+ln.Addr().String(), nil, pingFrame(t, 1), nil)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if n := a.m.HandshakeFailures(tc.reason); n != before+1 {
				t.Fatalf("%v count = %d, want %d (err %v)", tc.reason, n, before+1, err)
			}
		})
	}
}

func TestHandshakeTimeout(t *testing.T) {
	a := newNode(t, 1, echo(nil), func(c *Config) { c.HandshakeTimeout = 200 * time.Millisecond })
	hole, err := net.ListenPacket("udp", "127.0.0.1:0") // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hole.Close() }()
	_, _, err = a.Call(context.Background(), Scheme+hole.LocalAddr().String(), nil, pingFrame(t, 1), nil)
	if err == nil {
		t.Fatal("call to a silent address succeeded")
	}
	if n := a.m.HandshakeFailures(HandshakeTimeout); n != 1 {
		t.Fatalf("timeout count = %d, want 1 (err %v)", n, err)
	}
}

func TestHybridKEX(t *testing.T) {
	cases := []struct {
		name             string
		offClient, offSv bool
		want             tls.CurveID
	}{
		{"default", false, false, tls.X25519MLKEM768},
		{"client classical", true, false, tls.X25519},
		{"server classical", false, true, tls.X25519},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newNode(t, 1, echo(nil), func(c *Config) { c.DisableHybridKEX = tc.offClient })
			b := newNode(t, 2, echo(nil), func(c *Config) { c.DisableHybridKEX = tc.offSv })
			ping(t, a, b, 1)
			for _, n := range []*node{a, b} {
				other := b.ID()
				if n == b {
					other = a.ID()
				}
				n.mu.Lock()
				c := n.byID[other]
				n.mu.Unlock()
				if got := c.qc.ConnectionState().TLS.CurveID; got != tc.want {
					t.Fatalf("negotiated %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestOversizeFrameKeepsConnection(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, echo(nil), nil)
	ping(t, a, b, 1)

	s := rawStream(t, a, b.ID())
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], wire.FrameMax+1)
	if _, err := s.Write(append(hdr[:], make([]byte, 1000)...)); err != nil {
		t.Fatal(err)
	}
	// The write side stays open: the callee must answer without waiting
	// for the (announced) megabyte.
	_ = s.SetReadDeadline(time.Now().Add(waitLimit))
	resp, err := wire.ReadFrame(s, nil, 0)
	if err != nil {
		t.Fatalf("read 1413 response: %v", err)
	}
	env := decode(t, resp)
	if env.Code != wire.CodeFrameTooLarge || !env.IsResponse() {
		t.Fatalf("response code %d flags %d, want 1413 response", env.Code, env.Flags)
	}
	if !errors.Is(env.Err(), wire.ErrFrameTooLarge) {
		t.Fatalf("env.Err() = %v", env.Err())
	}
	waitEvent(t, b.m.stream, StreamOversize)
	s.CancelWrite(0)

	// Same connection, next RPC.
	ping(t, a, b, 2)
	if n := a.m.ConnsOpened(false); n != 1 {
		t.Fatalf("connections opened = %d, want 1 (the connection must survive)", n)
	}
}

func TestTruncatedFrame(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, echo(nil), nil)
	ping(t, a, b, 1)

	s := rawStream(t, a, b.ID())
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 100)
	if _, err := s.Write(append(hdr[:], make([]byte, 10)...)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close() // FIN after 10 of 100 bytes
	waitEvent(t, b.m.stream, StreamTruncated)
	if _, err := readAll(t, s); err == nil {
		t.Fatal("truncated request got a normal answer")
	}
	ping(t, a, b, 2)
	if n := a.m.ConnsOpened(false); n != 1 {
		t.Fatalf("connections opened = %d, want 1", n)
	}
}

func TestStreamNeverCompletes(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, echo(nil), func(c *Config) { c.StreamTimeout = 500 * time.Millisecond })
	ping(t, a, b, 1)

	s := rawStream(t, a, b.ID())
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 100)
	if _, err := s.Write(append(hdr[:], make([]byte, 10)...)); err != nil {
		t.Fatal(err)
	}
	// Never finish: the callee's read deadline must close the stream.
	if _, err := readAll(t, s); err == nil {
		t.Fatal("stalled request got a normal answer")
	}
	waitEvent(t, b.m.stream, StreamReadTimeout)
	s.CancelWrite(0)
	ping(t, a, b, 2)
}

func TestGarbage(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, echo(nil), nil)
	ping(t, a, b, 1)
	rng := mrand.New(mrand.NewPCG(1, 2))

	// Text where a frame should be: "GET " is a 1.2 GB length prefix.
	s := rawStream(t, a, b.ID())
	if _, err := s.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	out, _ := readAll(t, s)
	resp, err := wire.ReadFrame(bytes.NewReader(out), nil, 0)
	if err != nil {
		t.Fatalf("no frame in answer to text: %v", err)
	}
	if env := decode(t, resp); env.Code != wire.CodeFrameTooLarge {
		t.Fatalf("answer to text: code %d, want 1413", env.Code)
	}

	// A well-framed body of random bytes: the handler rejects it and the
	// transport answers with its code.
	body := make([]byte, 200)
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	body[0] = 0xff // a CBOR "break" never starts an item
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
	s = rawStream(t, a, b.ID())
	if _, err := s.Write(append(hdr[:], body...)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	out, err = readAll(t, s)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = wire.ReadFrame(bytes.NewReader(out), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	env := decode(t, resp)
	if env.Code != wire.CodeMalformed || env.CorrID != 0 || env.Reason == "" {
		t.Fatalf("answer to random body: code %d corr %d reason %q, want 1422 with a reason", env.Code, env.CorrID, env.Reason)
	}

	// A valid frame followed by trailing bytes.
	s = rawStream(t, a, b.ID())
	if _, err := s.Write(append(pingFrame(t, 5), 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	waitEvent(t, b.m.stream, StreamTrailingData)
	if _, err := readAll(t, s); err == nil {
		t.Fatal("frame with trailing bytes got a normal answer")
	}

	// Datagrams that are not QUIC, sent to the listening socket.
	udp, err := net.Dial("udp", strings.TrimPrefix(b.addr(), Scheme))
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		dg := make([]byte, 1+rng.IntN(1400))
		for i := range dg {
			dg[i] = byte(rng.Uint32())
		}
		_, _ = udp.Write(dg)
	}
	_ = udp.Close()

	ping(t, a, b, 2)
	if n := a.m.ConnsOpened(false); n != 1 {
		t.Fatalf("connections opened = %d, want 1", n)
	}
}

func TestHandlerErrorKeepsCorrID(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, func(context.Context, PeerInfo, []byte, []byte) ([]byte, error) {
		return nil, wire.ErrBusy
	}, nil)
	id := b.ID()
	resp, _, err := a.Call(testCtx(t), b.addr(), &id, pingFrame(t, 42), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := decode(t, resp)
	if env.Code != wire.CodeBusy || env.CorrID != 42 || env.Op != wire.OpPing {
		t.Fatalf("got code %d corr %d op %v, want 1501 for corr 42 ping", env.Code, env.CorrID, env.Op)
	}
}

func TestMaxConnsLRU(t *testing.T) {
	a := newNode(t, 1, echo(nil), func(c *Config) { c.MaxConns = 2 })
	b := newNode(t, 2, echo(nil), nil)
	c := newNode(t, 3, echo(nil), nil)
	d := newNode(t, 4, echo(nil), nil)

	ping(t, a, b, 1)
	ping(t, a, c, 2)
	ping(t, a, b, 3) // b is now more recent than c
	ping(t, a, d, 4) // evicts c
	waitEvent(t, a.m.closed, ConnEvicted)
	assertPool(t, a, b, d)

	ping(t, a, c, 5) // evicts b, the least recently used now
	waitEvent(t, a.m.closed, ConnEvicted)
	assertPool(t, a, d, c)
	if n := a.m.ConnsOpened(false); n != 4 {
		t.Fatalf("connections opened = %d, want 4", n)
	}
}

func assertPool(t *testing.T, n *node, want ...*node) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nconns != len(want) || len(n.byID) != len(want) {
		t.Fatalf("pool holds %d connections (%d ids), want %d", n.nconns, len(n.byID), len(want))
	}
	for _, w := range want {
		if n.byID[w.ID()] == nil {
			t.Fatalf("pool lacks %s", w.ID().Short())
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	idle := func(c *Config) { c.IdleTimeout = 500 * time.Millisecond }
	a := newNode(t, 1, echo(nil), idle)
	b := newNode(t, 2, echo(nil), idle)
	ping(t, a, b, 1)
	waitEvent(t, a.m.closed, ConnIdle)
	if n := a.NumConns(); n != 0 {
		t.Fatalf("pooled connections after idle timeout = %d", n)
	}
	ping(t, a, b, 2)
	if n := a.m.ConnsOpened(false); n != 2 {
		t.Fatalf("connections opened = %d, want 2 (redial after idle)", n)
	}
}

func TestInboundConnectionReused(t *testing.T) {
	seenA := make(chan PeerInfo, 1)
	a := newNode(t, 1, echo(seenA), nil)
	b := newNode(t, 2, echo(nil), nil)
	ping(t, a, b, 1)
	// b calls a back: the connection a opened carries it.
	ping(t, b, a, 2)
	if got := <-seenA; got.ID != b.ID() {
		t.Fatalf("a's handler saw %s, want b", got.ID.Short())
	}
	if n := b.m.ConnsOpened(false); n != 0 {
		t.Fatalf("b dialed %d connections, want 0 (reuse the inbound one)", n)
	}
	if n := a.m.ConnsOpened(true); n != 0 {
		t.Fatalf("a accepted %d connections, want 0", n)
	}
	// With the NodeID alone, no address is needed.
	id := a.ID()
	if _, _, err := b.Call(testCtx(t), "", &id, pingFrame(t, 3), nil); err != nil {
		t.Fatal(err)
	}
	<-seenA
}

func TestConcurrentCallsShareOneDial(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, echo(nil), nil)
	const workers, calls = 16, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*calls)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := b.ID()
			for i := range calls {
				corr := uint64(w*calls + i + 1)
				resp, _, err := a.Call(testCtx(t), b.addr(), &id, pingFrame(t, corr), nil)
				if err != nil {
					errs <- err
					continue
				}
				var env wire.Envelope
				if err := wire.DecodeEnvelope(resp, &env); err != nil || env.CorrID != corr {
					errs <- fmt.Errorf("corr %d: got %d, %v", corr, env.CorrID, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := a.m.ConnsOpened(false); n != 1 {
		t.Fatalf("connections opened = %d, want 1 (dials coalesced)", n)
	}
}

func TestCancelInFlight(t *testing.T) {
	started := make(chan struct{}, 1)
	stopped := make(chan error, 1)
	block := func(ctx context.Context, _ PeerInfo, _, dst []byte) ([]byte, error) {
		started <- struct{}{}
		<-ctx.Done()
		stopped <- context.Cause(ctx)
		return dst, ctx.Err()
	}
	a := newNode(t, 1, echo(nil), func(c *Config) { c.RPCTimeout = 300 * time.Millisecond })
	b := newNode(t, 2, block, nil)
	id := b.ID()

	// A hedged loser: cancelled while the callee works on it.
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	done := make(chan error, 1)
	go func() {
		_, _, err := a.Call(ctx, b.addr(), &id, pingFrame(t, 1), nil)
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: err = %v, want context.Canceled", err)
	}
	// The callee sees the reset and its handler context ends.
	select {
	case <-stopped:
	case <-time.After(waitLimit):
		t.Fatal("handler context not cancelled by the caller's reset")
	}
	waitEvent(t, b.m.stream, StreamCanceled)

	// No deadline: rpc_timeout applies. (The handler may or may not have
	// started by then; the buffered channels never block it.)
	_, _, err := a.Call(context.Background(), b.addr(), &id, pingFrame(t, 2), nil)
	if !errors.Is(err, context.DeadlineExceeded) || wire.CodeOf(err) != wire.CodeTimeout {
		t.Fatalf("timed out call: err = %v (code %d), want deadline exceeded / 1508", err, wire.CodeOf(err))
	}
	if n := a.m.ConnsOpened(false); n != 1 {
		t.Fatalf("connections opened = %d, want 1", n)
	}
}

func TestLargeBodyRoundTrip(t *testing.T) {
	a := newNode(t, 1, echo(nil), func(c *Config) { c.ChunkSize = wire.MinChunkSize })
	b := newNode(t, 2, echo(nil), nil)
	value := make([]byte, 900<<10)
	rng := mrand.New(mrand.NewPCG(3, 4))
	for i := range value {
		value[i] = byte(rng.Uint32())
	}
	env := wire.NewRequest(wire.OpStore, 9, testTS)
	req, err := wire.AppendFrame(nil, &env, &wire.StoreRequest{Value: value, Sigs: []wire.Signature{}})
	if err != nil {
		t.Fatal(err)
	}
	id := b.ID()
	resp, _, err := a.Call(testCtx(t), b.addr(), &id, req, make([]byte, 0, wire.FrameBufSize))
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, resp)
	var body wire.StoreRequest
	if err := wire.DecodeBody(wire.OpStore, wire.FlagReq, got.Body, &body); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body.Value, value) {
		t.Fatal("900 KiB body changed in transit")
	}
}

func TestDialSkipsUnreachableFamily(t *testing.T) {
	b := newNode(t, 2, echo(nil), nil)
	port := b.addr()[strings.LastIndexByte(b.addr(), ':')+1:]
	a := newNode(t, 1, echo(nil), func(c *Config) {
		// The only socket is IPv4: the IPv6 candidate fails at once and the
		// IPv4 one starts without waiting for the stagger.
		c.HappyEyeballsDelay = time.Hour
		c.Resolver = func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")}, nil
		}
	})
	id := b.ID()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if _, _, err := a.Call(ctx, Scheme+"b.test:"+port, &id, pingFrame(t, 1), nil); err != nil {
		t.Fatal(err)
	}
}

func TestHappyEyeballs(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback (::1) on this machine")
	}
	cases := []struct {
		name     string
		live     string // family of the listening node
		resolved []string
	}{
		{"v6 dead, v4 wins", "127.0.0.1", []string{"::1", "127.0.0.1"}},
		{"v4 dead, v6 wins", "::1", []string{"127.0.0.1", "::1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, dead := liveAndDead(t, tc.live)
			defer func() { _ = dead.Close() }()
			port := b.Addrs()[0][strings.LastIndexByte(b.Addrs()[0], ':')+1:]
			resolver := func(_ context.Context, host string) ([]netip.Addr, error) {
				if host != "dual.test" {
					return nil, fmt.Errorf("unknown host %q", host)
				}
				var out []netip.Addr
				for _, s := range tc.resolved {
					out = append(out, netip.MustParseAddr(s))
				}
				return out, nil
			}
			a := newNode(t, 1, echo(nil), func(c *Config) {
				c.ListenAddrs = []string{"127.0.0.1:0", "[::1]:0"}
				c.Resolver = resolver
				c.HappyEyeballsDelay = 50 * time.Millisecond
			})
			id := b.ID()
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			_, peer, err := a.Call(ctx, Scheme+"dual.test:"+port, &id, pingFrame(t, 1), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := peer.Addr.Addr().String(); got != tc.live {
				t.Fatalf("connected to %v, want %s", peer.Addr, tc.live)
			}
			if n := a.NumConns(); n != 1 {
				t.Fatalf("pooled connections = %d, want 1", n)
			}
		})
	}
}

// liveAndDead starts a node on the live loopback address and binds a silent
// UDP socket on the same port of the other family's loopback.
func liveAndDead(t *testing.T, live string) (*node, net.PacketConn) {
	t.Helper()
	other := "[::1]"
	if live == "::1" {
		other = "127.0.0.1"
	}
	for range 20 {
		dead, err := net.ListenPacket("udp", other+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := dead.LocalAddr().(*net.UDPAddr).Port
		b, err := New(testIdentity(t, 2), Config{ListenAddrs: []string{net.JoinHostPort(live, fmt.Sprint(port))}}, echo(nil))
		if err != nil { // port taken on the live family: try another
			_ = dead.Close()
			continue
		}
		t.Cleanup(func() { _ = b.Close() })
		return &node{Transport: b, m: newRecMetrics()}, dead
	}
	t.Fatal("no port free on both loopback families")
	return nil, nil
}

func TestDialOnlyRefusesStreams(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, nil, nil)
	id := b.ID()
	_, _, err := a.Call(testCtx(t), b.addr(), &id, pingFrame(t, 1), nil)
	if !errors.Is(err, wire.ErrTransportDown) || !errors.Is(err, wire.ErrNotReady) {
		t.Fatalf("err = %v, want transport down with 1450 (stream refused)", err)
	}
	waitEvent(t, b.m.stream, StreamRefused)
}

func TestCloseAndErrors(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, echo(nil), nil)
	ping(t, a, b, 1)

	for _, addr := range []string{"127.0.0.1:1", "quic://", "quic://host", "quic://:5", "quic://h:0", "quic://h:99999"} {
		if _, _, err := a.Call(context.Background(), addr, nil, pingFrame(t, 1), nil); err == nil {
			t.Errorf("Call(%q) succeeded", addr)
		}
	}
	unknown := testIdentity(t, 5).ID()
	if _, _, err := a.Call(context.Background(), "", &unknown, pingFrame(t, 1), nil); err == nil {
		t.Error("Call with neither connection nor address succeeded")
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, a.m.closed, ConnPeerClosed)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	id := b.ID()
	if _, _, err := a.Call(context.Background(), b.addr(), &id, pingFrame(t, 2), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Close: %v, want ErrClosed", err)
	}
}

func TestConfigValidation(t *testing.T) {
	id := testIdentity(t, 1)
	bad := []Config{
		{},
		{ListenAddrs: []string{"nope"}},
		{ListenAddrs: []string{"127.0.0.1:0"}, ChunkSize: 1000},
		{ListenAddrs: []string{"127.0.0.1:0"}, FrameMax: wire.FrameMax + 1},
		{ListenAddrs: []string{"127.0.0.1:0"}, MaxConns: -1},
		{ListenAddrs: []string{"127.0.0.1:0"}, RPCTimeout: -time.Second},
	}
	for i, cfg := range bad {
		if tr, err := New(id, cfg, nil); err == nil {
			_ = tr.Close()
			t.Errorf("config %d accepted: %+v", i, cfg)
		}
	}
	if _, err := New(nil, Config{ListenAddrs: []string{"127.0.0.1:0"}}, nil); err == nil {
		t.Error("nil identity accepted")
	}
}

func TestResolveOrder(t *testing.T) {
	r := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{
			netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"),
			netip.MustParseAddr("::ffff:10.0.0.3"), netip.MustParseAddr("2001:db8::1"),
			netip.MustParseAddr("::"),
		}, nil
	}
	got, err := resolve(context.Background(), r, "x", 7)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[2001:db8::1]:7", "10.0.0.1:7", "10.0.0.2:7", "10.0.0.3:7"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if _, err := resolve(context.Background(), func(context.Context, string) ([]netip.Addr, error) { return nil, nil }, "x", 7); err == nil {
		t.Fatal("empty resolution accepted")
	}
}

func TestReasonText(t *testing.T) {
	long := strings.Repeat("é", wire.MaxReasonLen) // 2 bytes per rune
	got := reasonText(errors.New(long))
	if len(got) > wire.MaxReasonLen || !strings.HasPrefix(long, got) || len(got) < wire.MaxReasonLen-1 {
		t.Fatalf("reason cut to %d bytes", len(got))
	}
	if got := reasonText(wire.NewError(wire.CodeBusy, "queue full")); got != "queue full" {
		t.Fatalf("reason = %q", got)
	}
}

func TestOversizeRequestFromCaller(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, echo(nil), func(c *Config) { c.FrameMax = 64 << 10 })
	env := wire.NewRequest(wire.OpStore, 9, testTS)
	req, err := wire.AppendFrame(nil, &env, &wire.StoreRequest{Value: make([]byte, 512<<10), Sigs: []wire.Signature{}})
	if err != nil {
		t.Fatal(err)
	}
	id := b.ID()
	resp, _, err := a.Call(testCtx(t), b.addr(), &id, req, nil)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if got := decode(t, resp); got.Code != wire.CodeFrameTooLarge {
		t.Fatalf("code %d, want 1413", got.Code)
	}
	waitEvent(t, b.m.stream, StreamOversize)
	ping(t, a, b, 2)
	if n := a.m.ConnsOpened(false); n != 1 {
		t.Fatalf("connections opened = %d, want 1", n)
	}
}

func TestInboundStreamCap(t *testing.T) {
	started := make(chan struct{}, 4)
	release := make(chan struct{})
	hold := func(_ context.Context, peer PeerInfo, req, dst []byte) ([]byte, error) {
		started <- struct{}{}
		<-release
		return echo(nil)(context.Background(), peer, req, dst)
	}
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, hold, func(c *Config) { c.MaxInboundStreams = 2 })
	id := b.ID()
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, _, err := a.Call(testCtx(t), b.addr(), &id, pingFrame(t, uint64(i+1)), nil)
			errs <- err
		}()
	}
	<-started
	<-started
	_, _, err := a.Call(testCtx(t), b.addr(), &id, pingFrame(t, 3), nil)
	if !errors.Is(err, wire.ErrBusy) {
		t.Fatalf("third concurrent call: %v, want 1501 Busy", err)
	}
	waitEvent(t, b.m.stream, StreamBusy)
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ping(t, a, b, 4) // the cap frees up
	<-started
}

func TestPeerRestartResetsStaleConnection(t *testing.T) {
	a := newNode(t, 1, echo(nil), nil)
	b := newNode(t, 2, echo(nil), nil)
	ping(t, a, b, 1)

	// b crashes: its socket goes away without a CONNECTION_CLOSE, so a's
	// pooled connection is stale.
	bAddr := strings.TrimPrefix(b.addr(), Scheme)
	for _, s := range b.socks {
		_ = s.udp.Close()
	}
	_ = b.Close()

	// b restarts with the same key on the same port. Its stateless reset
	// closes a's stale connection; the call retries on a new one.
	b2 := newNode(t, 2, echo(nil), func(c *Config) { c.ListenAddrs = []string{bAddr} })
	ping(t, a, b2, 2)
	if n := a.m.ConnsOpened(false); n != 2 {
		t.Fatalf("connections opened = %d, want 2 (redial after the reset)", n)
	}
}
