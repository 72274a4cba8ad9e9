package transport

import (
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/quic-go/quic-go"

	"github.com/svc-dht/svc-dht/wire"
)

// rawDial dials n with conf from a bare quic-go endpoint.
func rawDial(t *testing.T, n *node, conf *tls.Config) (*quic.Conn, error) {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", strings.TrimPrefix(n.addr(), Scheme))
	if err != nil {
		t.Fatal(err)
	}
	return rawEndpoint(t).Dial(testCtx(t), ua, conf, &quic.Config{HandshakeIdleTimeout: waitLimit})
}

func TestClientTLSConfig(t *testing.T) {
	seen := make(chan PeerInfo, 1)
	b := newNode(t, 2, echo(seen), nil)
	id := testIdentity(t, 9)
	want := b.ID()
	conf, err := ClientTLSConfig(id, &want)
	if err != nil {
		t.Fatal(err)
	}
	if conf.MinVersion != tls.VersionTLS13 || len(conf.NextProtos) != 1 || conf.NextProtos[0] != ALPN {
		t.Fatalf("config: min version %#x, ALPN %v", conf.MinVersion, conf.NextProtos)
	}

	// A raw stream carries a frame the test writes itself, and the server
	// derives the client's NodeID from the certificate.
	qc, err := rawDial(t, b, conf)
	if err != nil {
		t.Fatalf("dial with ClientTLSConfig: %v", err)
	}
	defer func() { _ = qc.CloseWithError(0, "") }()
	s, err := qc.OpenStreamSync(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(pingFrame(t, 77)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	out, err := readAll(t, s)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := wire.ReadFrame(strings.NewReader(string(out)), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if env := decode(t, resp); env.CorrID != 77 || env.Code != wire.CodeOK {
		t.Fatalf("answer: corr %d code %d, want 77 OK", env.CorrID, env.Code)
	}
	if p := <-seen; p.ID != id.ID() {
		t.Fatalf("server saw %s, want the client identity %s", p.ID.Short(), id.ID().Short())
	}

	// Expecting another NodeID fails the handshake with ErrIDMismatch; the
	// server is not charged with a bad certificate.
	other := testIdentity(t, 3).ID()
	conf, err = ClientTLSConfig(id, &other)
	if err != nil {
		t.Fatal(err)
	}
	qc2, err := rawDial(t, b, conf)
	if err == nil {
		_ = qc2.CloseWithError(0, "")
		t.Fatal("dial expecting another NodeID succeeded")
	}
	if !errors.Is(err, ErrIDMismatch) {
		t.Fatalf("dial expecting another NodeID: %v, want ErrIDMismatch", err)
	}
	if n := b.m.HandshakeFailures(HandshakeBadCert); n != 0 {
		t.Fatalf("server counted %d bad client certificates", n)
	}

	if _, err := ClientTLSConfig(nil, nil); err == nil || !strings.Contains(err.Error(), "nil identity") {
		t.Fatalf("nil identity: %v", err)
	}
}
