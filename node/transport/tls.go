package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
)

// ALPN is the application protocol negotiated on every connection.
const ALPN = "ron/kad-cbor"

// serverName is sent as SNI by every dial so that no host name leaks; peers
// are authenticated by NodeID, never by name.
const serverName = "svc-dht"

// Certificate validity. Peers never check certificate dates (a self-signed
// certificate's dates are whatever its holder wrote, so they prove nothing),
// so fixed dates are used: the certificate is then a pure function of the
// key, and clock skew between peers can never fail a handshake.
var (
	certNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	certNotAfter  = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) // RFC 5280 §4.1.2.5 "no expiry"
)

// errBadCert marks certificate validation failures.
var errBadCert = errors.New("bad peer certificate")

// newCertificate makes the self-signed X.509 certificate that carries the
// node's Ed25519 key.
func newCertificate(id *identity.Identity) (tls.Certificate, error) {
	priv := id.PrivateKey()
	nodeID := id.ID()
	tmpl := &x509.Certificate{
		// Serial: the first 16 bytes of the NodeID with the top bit cleared
		// (positive, at most 16 octets).
		SerialNumber:          new(big.Int).SetBytes(append([]byte{nodeID[0] & 0x7f}, nodeID[1:16]...)),
		Subject:               pkix.Name{CommonName: identity.KeyString(nodeID)},
		NotBefore:             certNotBefore,
		NotAfter:              certNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse own certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// peerID checks the peer's certificate list and returns the NodeID its key
// derives. The list must hold exactly one self-signed Ed25519 certificate.
// The TLS handshake itself has already proven that the peer holds the
// certificate's private key (CertificateVerify), so the NodeID is bound to
// the connection.
func peerID(certs []*x509.Certificate) (kbucket.ID, error) {
	if len(certs) != 1 {
		return kbucket.ID{}, fmt.Errorf("%w: want exactly 1 certificate, got %d", errBadCert, len(certs))
	}
	c := certs[0]
	pk, ok := c.PublicKey.(ed25519.PublicKey)
	if !ok || c.PublicKeyAlgorithm != x509.Ed25519 || len(pk) != ed25519.PublicKeySize {
		return kbucket.ID{}, fmt.Errorf("%w: key is %v, want Ed25519", errBadCert, c.PublicKeyAlgorithm)
	}
	if c.SignatureAlgorithm != x509.PureEd25519 {
		return kbucket.ID{}, fmt.Errorf("%w: signature algorithm is %v, want Ed25519", errBadCert, c.SignatureAlgorithm)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		return kbucket.ID{}, fmt.Errorf("%w: bad self-signature: %w", errBadCert, err)
	}
	return identity.NodeIDFromPublicKey(pk), nil
}

// mismatchError is a dial that reached another node than expected.
type mismatchError struct {
	got, want kbucket.ID
}

func (e *mismatchError) Error() string {
	return "peer is " + identity.KeyString(e.got) + ", expected " + identity.KeyString(e.want)
}

func (e *mismatchError) Is(target error) bool { return target == ErrIDMismatch }

// baseTLS is the part shared by the client and server configurations.
func (t *Transport) baseTLS() *tls.Config { return baseTLS(t.cert, t.cfg.DisableHybridKEX) }

func baseTLS(cert tls.Certificate, disableHybridKEX bool) *tls.Config {
	c := &tls.Config{
		Certificates:           []tls.Certificate{cert},
		NextProtos:             []string{ALPN},
		MinVersion:             tls.VersionTLS13,
		SessionTicketsDisabled: true,
	}
	if disableHybridKEX {
		c.CurvePreferences = []tls.CurveID{tls.X25519}
	}
	return c
}

// serverTLS builds the listener's TLS configuration: a client certificate
// is requested and then required by VerifyConnection, which can count the
// failure (with tls.RequireAnyClientCert a missing certificate would fail
// inside crypto/tls, out of sight of the counters).
func (t *Transport) serverTLS() *tls.Config {
	c := t.baseTLS()
	c.ClientAuth = tls.RequestClientCert
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if _, err := peerID(cs.PeerCertificates); err != nil {
			t.cfg.Metrics.HandshakeFailed(HandshakeBadCert)
			return err
		}
		return nil
	}
	c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if !slices.Contains(hello.SupportedProtos, ALPN) {
			// crypto/tls rejects it with no_application_protocol.
			t.cfg.Metrics.HandshakeFailed(HandshakeALPN)
		}
		return nil, nil
	}
	return c
}

// dialState records what the client-side verification saw during one dial,
// so that a failed dial can be reported with its real reason.
type dialState struct {
	mu      sync.Mutex
	failure error // *mismatchError or errBadCert-wrapping, nil if verification passed
}

// clientTLS builds the TLS configuration of one dial. The server's
// certificate is checked by VerifyConnection instead of the X.509 chain
// logic (which InsecureSkipVerify turns off): the peer must present one
// self-signed Ed25519 certificate and, when expect is set, its key must
// derive that NodeID.
func (t *Transport) clientTLS(expect *kbucket.ID, st *dialState) *tls.Config {
	return clientTLS(t.baseTLS(), expect, st)
}

func clientTLS(c *tls.Config, expect *kbucket.ID, st *dialState) *tls.Config {
	c.ServerName = serverName
	c.InsecureSkipVerify = true
	var want kbucket.ID
	if expect != nil {
		want = *expect
	}
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		id, err := peerID(cs.PeerCertificates)
		if err != nil {
			st.set(err)
			return err
		}
		if expect != nil && id != want {
			err := &mismatchError{got: id, want: want}
			st.set(err)
			return err
		}
		return nil
	}
	return c
}

// ClientTLSConfig returns the TLS configuration of a client with identity
// id that dials svc-dht nodes itself, with quic-go, instead of through a
// Transport: TLS 1.3, ALPN ron/kad-cbor, id's self-signed Ed25519
// certificate for the mutual authentication, and the server's certificate
// checked as a Transport's dial checks it (exactly one self-signed Ed25519
// certificate; when expect is not nil, its key must derive that NodeID,
// else the handshake fails with an error matching ErrIDMismatch). The
// hybrid post-quantum key exchange is left on.
//
// It serves tools and tests that need a stream below the frame layer (to
// send bytes that are not a frame); RPCs belong to Transport.Call. Each
// call returns a new configuration, which may serve many dials.
func ClientTLSConfig(id *identity.Identity, expect *kbucket.ID) (*tls.Config, error) {
	if id == nil {
		return nil, errors.New("transport: client tls: nil identity")
	}
	cert, err := newCertificate(id)
	if err != nil {
		return nil, fmt.Errorf("transport: client tls: %w", err)
	}
	return clientTLS(baseTLS(cert, false), expect, new(dialState)), nil
}
