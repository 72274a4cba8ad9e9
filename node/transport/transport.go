package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/zeebo/blake3"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

// PeerInfo identifies the other end of an RPC: the NodeID derived from its
// certificate key and the UDP address its packets come from.
type PeerInfo struct {
	ID   kbucket.ID
	Addr netip.AddrPort
}

// Handler serves one inbound RPC. req is the request envelope (the frame
// without its length prefix, as wire.ReadFrame returns it); it is valid
// only until the handler returns. The handler appends the complete response
// frame (as wire.AppendFrame builds it) to dst, an empty pooled buffer, and
// returns it; the transport writes it in chunk_size pieces and closes the
// stream.
//
// The handler may answer at once (for example 1501 Busy when the runtime's
// work queue is full) or block until the work is done; ctx ends when the
// caller cancels the stream or the transport closes. If it returns an error
// instead, the transport answers with an error envelope carrying
// wire.CodeOf(err) (1422 Malformed for errors outside the set) and the
// request's opcode and corr_id when it can decode them.
type Handler func(ctx context.Context, peer PeerInfo, req, dst []byte) ([]byte, error)

// Sentinel errors.
var (
	// ErrClosed is returned by calls on a closed transport.
	ErrClosed = errors.New("transport closed")
	// ErrIDMismatch matches a dial that reached another NodeID than the
	// expected one.
	ErrIDMismatch = errors.New("peer id mismatch")
)

// Stream and connection error codes sent in QUIC RESET_STREAM,
// STOP_SENDING and CONNECTION_CLOSE frames. Stream codes reuse the wire
// code of the failure where one fits.
const (
	codeCanceled      quic.StreamErrorCode = 1 // the caller gave up (hedged loser, timeout)
	codeFrameTooLarge                      = quic.StreamErrorCode(wire.CodeFrameTooLarge)
	codeMalformed                          = quic.StreamErrorCode(wire.CodeMalformed)
	codeNotReady                           = quic.StreamErrorCode(wire.CodeNotReady)
	codeBusy                               = quic.StreamErrorCode(wire.CodeBusy)
	codeTimeout                            = quic.StreamErrorCode(wire.CodeTimeout)

	connShutdown quic.ApplicationErrorCode = 0
	connEvicted  quic.ApplicationErrorCode = 1
)

// Transport is a node's QUIC endpoint: it listens, dials, pools one
// connection per peer and carries RPCs, one bidirectional stream each. It
// is safe for concurrent use.
type Transport struct {
	cfg     Config
	id      kbucket.ID
	handler Handler
	qconf   *quic.Config
	socks   []*socket

	creditLag int             // served streams whose credit a connection holds back (creditLag)
	ctx       context.Context // ends at Close; parent of every dial
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	streams   atomic.Int64 // inbound streams being served

	happyEyeballs atomic.Int64  // happy_eyeballs_delay, ns (SetHappyEyeballsDelay)
	draining      atomic.Bool   // Drain called: new inbound streams are refused
	idle          chan struct{} // closed (by idleOnce) once draining and no stream is served
	idleOnce      func()

	cert tls.Certificate

	mu     sync.Mutex
	closed bool
	byID   map[kbucket.ID]*conn
	byAddr map[string]*conn
	dials  map[dialKey]*dialCall
	lru    conn // sentinel of the LRU ring: lru.next is the most recently used
	nconns int
	// answered holds the connections that carried answers written while
	// draining: Drain lets them reach the peers.
	answered map[*conn]struct{}
}

// socket is one UDP socket with its QUIC transport and listener. It serves
// inbound connections and the outbound ones to the families it can reach.
type socket struct {
	udp    *net.UDPConn
	qt     *quic.Transport
	ln     *quic.Listener
	local  netip.AddrPort
	v4, v6 bool
}

// New opens the listening sockets and starts accepting connections. h
// serves inbound RPCs, on accepted connections and on dialed ones alike (a
// peer may call back over the connection this node opened); nil makes a
// dial-only transport that refuses inbound streams.
func New(id *identity.Identity, cfg Config, h Handler) (*Transport, error) {
	if id == nil {
		return nil, errors.New("transport: nil identity")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	cert, err := newCertificate(id)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	t := &Transport{
		cfg:     cfg,
		id:      id.ID(),
		cert:    cert,
		handler: h,
		byID:    make(map[kbucket.ID]*conn),
		byAddr:  make(map[string]*conn),
		dials:   make(map[dialKey]*dialCall),
	}
	t.lru.next, t.lru.prev = &t.lru, &t.lru
	t.happyEyeballs.Store(int64(cfg.HappyEyeballsDelay))
	t.idle = make(chan struct{})
	t.idleOnce = sync.OnceFunc(func() { close(t.idle) })
	t.creditLag = lagFor(cfg.MaxStreamsPerConn)
	t.qconf = &quic.Config{
		HandshakeIdleTimeout:  cfg.HandshakeTimeout,
		MaxIdleTimeout:        cfg.IdleTimeout,
		MaxIncomingStreams:    int64(cfg.MaxStreamsPerConn),
		MaxIncomingUniStreams: -1,
		// Stream credit is returned by serveStream (see creditLag), so
		// that the MAX_STREAMS frame rides on an answer instead of
		// costing a packet of its own.
		RequireStreamCreditRelease: true,
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	serverTLS := t.serverTLS()
	// The stateless reset key is derived from the identity, so a node that
	// restarts with the same key resets the connections its peers still
	// hold to its previous run, and they redial at once instead of waiting
	// for the idle timeout.
	var resetKey quic.StatelessResetKey
	blake3.DeriveKey("svc-dht 2025 quic stateless reset key", id.PrivateKey().Seed(), resetKey[:])
	for _, a := range cfg.ListenAddrs {
		s, err := listen(a, serverTLS, t.qconf, &resetKey)
		if err != nil {
			t.closeSockets()
			t.cancel()
			return nil, fmt.Errorf("transport: %w", err)
		}
		t.socks = append(t.socks, s)
	}
	for _, s := range t.socks {
		t.wg.Add(1)
		go t.acceptLoop(s)
	}
	return t, nil
}

func listen(addr string, tlsConf *tls.Config, qconf *quic.Config, resetKey *quic.StatelessResetKey) (*socket, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	local := udp.LocalAddr().(*net.UDPAddr)
	s := &socket{udp: udp, local: local.AddrPort()}
	switch ip, _ := netip.AddrFromSlice(local.IP); {
	case len(local.IP) == net.IPv6len && ip.IsUnspecified():
		s.v4, s.v6 = true, true // dual-stack wildcard socket
	case ip.Unmap().Is4():
		s.v4 = true
	default:
		s.v6 = true
	}
	s.qt = &quic.Transport{Conn: udp, StatelessResetKey: resetKey}
	s.ln, err = s.qt.Listen(tlsConf, qconf)
	if err != nil {
		_ = s.qt.Close()
		_ = udp.Close()
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return s, nil
}

func (t *Transport) closeSockets() {
	for _, s := range t.socks {
		_ = s.ln.Close()
		_ = s.qt.Close()
		_ = s.udp.Close()
	}
}

// ID returns the local NodeID.
func (t *Transport) ID() kbucket.ID { return t.id }

// Addrs returns the bound listening addresses as quic://ip:port strings
// (with the actual port when ":0" was configured).
func (t *Transport) Addrs() []string {
	out := make([]string, len(t.socks))
	for i, s := range t.socks {
		out[i] = Scheme + s.local.String()
	}
	return out
}

// NumConns returns the number of pooled connections.
func (t *Transport) NumConns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nconns
}

// SetHappyEyeballsDelay changes the stagger between the dial attempts to
// the addresses of a dual-stack host (happy_eyeballs_delay, reloadable)
// for the dials that start afterwards; 0 restores the default. A negative
// delay is refused.
func (t *Transport) SetHappyEyeballsDelay(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("transport: happy eyeballs delay %v: must not be negative", d)
	}
	if d == 0 {
		d = DefaultHappyEyeballsDelay
	}
	t.happyEyeballs.Store(int64(d))
	return nil
}

// Drain prepares a graceful Close: from now on every new inbound stream is
// reset at once with code 1501 (Busy), and Drain waits until each stream
// already being served has had its handler return and its answer written
// and closed (FIN queued), or until ctx ends (an error wrapping ctx.Err()).
// Calls from this node keep working. Drain may be called more than once
// and concurrently; the transport stays draining until Close.
//
// A written answer is not delivered yet: a connection's CONNECTION_CLOSE
// goes out at once, and quic-go discards the stream data not sent, or not
// yet read by the peer's application, when a connection closes; neither
// QUIC nor quic-go tells a server when its peer has read an answer. So
// when answers were written during the drain, Drain then waits two probe
// timeouts of the slowest connection that carried them (RFC 9002 §6.2.1:
// smoothed RTT + max(4 × RTT variation, 1 ms) + the peer's max_ack_delay,
// 25 ms by default) — the time QUIC itself allows the peer to acknowledge,
// with one retransmission — or until ctx ends. An idle transport drains at
// once.
func (t *Transport) Drain(ctx context.Context) error {
	t.draining.Store(true)
	if t.streams.Load() == 0 {
		t.idleOnce()
	}
	select {
	case <-t.idle:
	case <-ctx.Done():
		return fmt.Errorf("transport: drain: %d inbound streams still served: %w", t.streams.Load(), ctx.Err())
	}
	t.mu.Lock()
	linger := time.Duration(0)
	for c := range t.answered {
		st := c.qc.ConnectionStats()
		pto := st.SmoothedRTT + max(4*st.MeanDeviation, time.Millisecond) + peerMaxAckDelay
		linger = max(linger, 2*pto)
	}
	clear(t.answered)
	t.mu.Unlock()
	if linger > 0 {
		timer := time.NewTimer(linger)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done(): // the answers are written: cut the wait short
		}
	}
	return nil
}

// peerMaxAckDelay is the max_ack_delay transport parameter of svc-dht
// peers (quic-go's default), the part of a probe timeout spent waiting
// for the peer's delayed acknowledgement.
const peerMaxAckDelay = 25 * time.Millisecond

// noteAnswered (while draining) records that c carried an answer.
func (t *Transport) noteAnswered(c *conn) {
	t.mu.Lock()
	if t.answered == nil {
		t.answered = make(map[*conn]struct{})
	}
	t.answered[c] = struct{}{}
	t.mu.Unlock()
}

// endStream releases an inbound stream's slot and, when draining, reports
// the last one.
func (t *Transport) endStream() {
	if t.streams.Add(-1) == 0 && t.draining.Load() {
		t.idleOnce()
	}
}

// Close stops accepting, closes every connection and socket, and waits for
// all of the transport's goroutines, including running handlers, to exit.
// Calls in flight fail. Close is idempotent. Drain first to let the
// streams being served finish.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	var conns []*conn
	for c := t.lru.next; c != &t.lru; c = c.next {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	t.cancel()
	for _, c := range conns {
		_ = c.qc.CloseWithError(connShutdown, "shutdown")
	}
	t.closeSockets()
	t.wg.Wait()
	return nil
}

// acceptLoop adopts the inbound connections of one socket until Close.
func (t *Transport) acceptLoop(s *socket) {
	defer t.wg.Done()
	for {
		qc, err := s.ln.Accept(t.ctx)
		if err != nil {
			return
		}
		_, _ = t.adopt(qc, true, "")
	}
}
