package transport

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
)

// conn is one pooled QUIC connection. Fields below qc are guarded by
// Transport.mu.
type conn struct {
	qc      *quic.Conn
	peer    PeerInfo
	key     string // dial address key ("host:port") for outbound, "" for inbound
	inbound bool

	prev, next *conn // LRU ring
	linked     bool  // in the pool (maps and ring)
	evicted    bool
	inflight   int

	credit creditLag // stream credit held back to ride on a later answer
}

// dialKey identifies a dial that concurrent callers can share.
type dialKey struct {
	addr      string
	expect    kbucket.ID
	hasExpect bool
}

// dialCall is a dial in progress; done is closed when c or err is set.
type dialCall struct {
	done chan struct{}
	c    *conn
	err  error
}

// getConn returns a pooled connection to the peer, dialing it if needed,
// with its inflight count raised; the caller calls release. fresh says the
// connection was dialed for this call (or a concurrent one).
//
// Lookup order: a connection to the expected NodeID (inbound or outbound),
// then the connection dialed to addr. Concurrent dials to the same address
// and expectation share one handshake.
func (t *Transport) getConn(ctx context.Context, addr string, expect *kbucket.ID) (c *conn, fresh bool, err error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, false, fmt.Errorf("transport: dial %s: %w", addr, ErrClosed)
	}
	if expect != nil {
		if c = t.byID[*expect]; c != nil {
			t.acquireLocked(c)
			t.mu.Unlock()
			return c, false, nil
		}
	}
	t.mu.Unlock()
	if addr == "" {
		return nil, false, fmt.Errorf("transport: no connection to %s and no address to dial", identity.KeyString(*expect))
	}
	host, port, key, perr := parseAddr(addr)
	if perr != nil {
		return nil, false, fmt.Errorf("transport: %w", perr)
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, false, fmt.Errorf("transport: dial %s: %w", addr, ErrClosed)
	}
	if c = t.byAddr[key]; c != nil {
		if expect != nil && c.peer.ID != *expect {
			t.mu.Unlock()
			return nil, false, fmt.Errorf("transport: dial %s: %w", addr, &mismatchError{got: c.peer.ID, want: *expect})
		}
		t.acquireLocked(c)
		t.mu.Unlock()
		return c, false, nil
	}
	dk := dialKey{addr: key}
	if expect != nil {
		dk.expect, dk.hasExpect = *expect, true
	}
	d := t.dials[dk]
	if d == nil {
		d = &dialCall{done: make(chan struct{})}
		t.dials[dk] = d
		t.wg.Add(1)
		go t.dial(d, dk, addr, host, port, expect)
	}
	t.mu.Unlock()

	select {
	case <-d.done:
	case <-ctx.Done():
		return nil, false, fmt.Errorf("transport: dial %s: %w", addr, ctx.Err())
	}
	if d.err != nil {
		return nil, false, d.err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !d.c.linked {
		return nil, false, fmt.Errorf("transport: dial %s: connection closed right after the handshake", addr)
	}
	t.acquireLocked(d.c)
	return d.c, true, nil
}

// acquireLocked marks c as most recently used and counts a call on it.
func (t *Transport) acquireLocked(c *conn) {
	c.inflight++
	t.touchLocked(c)
}

// touchLocked moves c to the front of the LRU ring.
func (t *Transport) touchLocked(c *conn) {
	if !c.linked || t.lru.next == c {
		return
	}
	c.prev.next, c.next.prev = c.next, c.prev
	c.next, c.prev = t.lru.next, &t.lru
	t.lru.next.prev = c
	t.lru.next = c
}

// release ends a call on c.
func (t *Transport) release(c *conn) {
	t.mu.Lock()
	c.inflight--
	t.mu.Unlock()
}

// forget removes a dead connection from the pool at once, so that the
// next call redials instead of finding it again.
func (t *Transport) forget(c *conn) {
	t.mu.Lock()
	t.unlinkLocked(c)
	t.mu.Unlock()
}

// touch marks c as used by an inbound RPC.
func (t *Transport) touch(c *conn) {
	t.mu.Lock()
	t.touchLocked(c)
	t.mu.Unlock()
}

// dial runs one (possibly shared) dial and publishes its result.
func (t *Transport) dial(d *dialCall, dk dialKey, addr, host string, port uint16, expect *kbucket.ID) {
	defer t.wg.Done()
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.HandshakeTimeout)
	qc, err := t.dialHost(ctx, host, port, expect)
	cancel()
	var c *conn
	if err == nil {
		c, err = t.adopt(qc, false, dk.addr)
	} else if t.ctx.Err() == nil {
		t.cfg.Metrics.HandshakeFailed(classify(err))
	}
	if err != nil {
		err = fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	t.mu.Lock()
	d.c, d.err = c, err
	delete(t.dials, dk)
	t.mu.Unlock()
	close(d.done)
}

// classify maps a failed dial to its handshake failure reason.
func classify(err error) HandshakeFailure {
	var (
		hto *quic.HandshakeTimeoutError
		ito *quic.IdleTimeoutError
		te  *quic.TransportError
	)
	switch {
	case errors.Is(err, ErrIDMismatch):
		return HandshakeIDMismatch
	case errors.Is(err, errBadCert):
		return HandshakeBadCert
	case errors.As(err, &hto), errors.As(err, &ito), errors.Is(err, context.DeadlineExceeded):
		return HandshakeTimeout
	case errors.As(err, &te) && te.ErrorCode == quic.TransportErrorCode(0x100+120): // TLS alert no_application_protocol
		return HandshakeALPN
	}
	return HandshakeOther
}

// dialHost resolves host and races its addresses (happy eyeballs, RFC 8305):
// the attempts start HappyEyeballsDelay apart, or at once when the previous
// one failed, in the IPv6/IPv4 alternating order of resolve; the first
// handshake to complete wins and the others are cancelled.
func (t *Transport) dialHost(ctx context.Context, host string, port uint16, expect *kbucket.ID) (*quic.Conn, error) {
	addrs, err := resolve(ctx, t.cfg.Resolver, host, port)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 1 {
		return t.dialAddr(ctx, addrs[0], expect)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		qc  *quic.Conn
		err error
	}
	results := make(chan result, len(addrs))
	next, pending := 0, 0
	start := func() {
		a := addrs[next]
		next++
		pending++
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			qc, err := t.dialAddr(ctx, a, expect)
			results <- result{qc, err}
		}()
	}
	delay := time.Duration(t.happyEyeballs.Load())
	timer := time.NewTimer(delay)
	defer timer.Stop()
	start()
	var firstErr error
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				cancel()
				if pending > 0 {
					// Close the losers that still manage to connect.
					t.wg.Add(1)
					go func(n int) {
						defer t.wg.Done()
						for ; n > 0; n-- {
							if r := <-results; r.qc != nil {
								_ = r.qc.CloseWithError(connShutdown, "happy eyeballs loser")
							}
						}
					}(pending)
				}
				return r.qc, nil
			}
			if firstErr == nil || errors.Is(firstErr, context.Canceled) {
				firstErr = r.err
			}
			if next < len(addrs) {
				start()
				timer.Reset(delay)
			}
		case <-timer.C:
			if next < len(addrs) {
				start()
				timer.Reset(delay)
			}
		}
	}
	return nil, firstErr
}

// dialAddr performs one QUIC+TLS handshake from the socket that can reach
// ap.
func (t *Transport) dialAddr(ctx context.Context, ap netip.AddrPort, expect *kbucket.ID) (*quic.Conn, error) {
	s := t.socketFor(ap.Addr())
	if s == nil {
		fam := "IPv4"
		if ap.Addr().Is6() {
			fam = "IPv6"
		}
		return nil, fmt.Errorf("%s: no %s listening socket to dial from", ap, fam)
	}
	st := &dialState{}
	qc, err := s.qt.Dial(ctx, net.UDPAddrFromAddrPort(ap), t.clientTLS(expect, st), t.qconf)
	if err != nil {
		if f := st.get(); f != nil {
			return nil, f
		}
		return nil, fmt.Errorf("%s: %w", ap, err)
	}
	return qc, nil
}

// socketFor returns the first socket that can send to ip, preferring a
// socket bound to the same kind of address (loopback to loopback).
func (t *Transport) socketFor(ip netip.Addr) *socket {
	var fallback *socket
	for _, s := range t.socks {
		if (ip.Is4() && !s.v4) || (ip.Is6() && !s.v6) {
			continue
		}
		if s.local.Addr().IsLoopback() == ip.IsLoopback() || s.local.Addr().IsUnspecified() {
			return s
		}
		if fallback == nil {
			fallback = s
		}
	}
	return fallback
}

// adopt puts an established connection into the pool, evicting the least
// recently used connections beyond max_conns, and starts serving the
// streams the peer opens on it.
func (t *Transport) adopt(qc *quic.Conn, inbound bool, key string) (*conn, error) {
	// The handshake's VerifyConnection has checked the certificate; only
	// the NodeID is derived here.
	certs := qc.ConnectionState().TLS.PeerCertificates
	pk, ok := ed25519.PublicKey(nil), len(certs) == 1
	if ok {
		pk, ok = certs[0].PublicKey.(ed25519.PublicKey)
	}
	if !ok { // cannot happen
		_ = qc.CloseWithError(connShutdown, "bad certificate")
		return nil, errBadCert
	}
	id := identity.NodeIDFromPublicKey(pk)
	c := &conn{qc: qc, peer: PeerInfo{ID: id, Addr: addrPort(qc.RemoteAddr())}, key: key, inbound: inbound}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		_ = qc.CloseWithError(connShutdown, "shutdown")
		return nil, ErrClosed
	}
	c.linked = true
	c.next, c.prev = t.lru.next, &t.lru
	t.lru.next.prev = c
	t.lru.next = c
	t.nconns++
	// One connection per peer for lookups: the first one to a NodeID keeps
	// the slot; a second one (both sides dialing at once) still serves its
	// streams until it idles out.
	if _, ok := t.byID[id]; !ok {
		t.byID[id] = c
	}
	if key != "" {
		t.byAddr[key] = c
	}
	var victims []*conn
	for t.nconns > t.cfg.MaxConns {
		v := t.victimLocked(c)
		if v == nil {
			break
		}
		v.evicted = true
		t.unlinkLocked(v)
		victims = append(victims, v)
	}
	t.wg.Add(1)
	t.mu.Unlock()
	t.cfg.Metrics.ConnOpened(inbound) // before any stream on c is served
	go t.serveConn(c)
	for _, v := range victims {
		_ = v.qc.CloseWithError(connEvicted, "evicted (max_conns)")
	}
	return c, nil
}

// victimLocked picks the connection to evict: the least recently used one
// without calls in flight, else the least recently used one; never keep.
func (t *Transport) victimLocked(keep *conn) *conn {
	var lru *conn
	for c := t.lru.prev; c != &t.lru; c = c.prev {
		if c == keep {
			continue
		}
		if c.inflight == 0 {
			return c
		}
		if lru == nil {
			lru = c
		}
	}
	return lru
}

// unlinkLocked removes c from the maps and the LRU ring.
func (t *Transport) unlinkLocked(c *conn) {
	if !c.linked {
		return
	}
	c.linked = false
	c.prev.next, c.next.prev = c.next, c.prev
	c.next, c.prev = nil, nil
	t.nconns--
	if t.byID[c.peer.ID] == c {
		delete(t.byID, c.peer.ID)
		// Promote another connection to the same peer, if any.
		for o := t.lru.next; o != &t.lru; o = o.next {
			if o.peer.ID == c.peer.ID {
				t.byID[o.peer.ID] = o
				break
			}
		}
	}
	if c.key != "" && t.byAddr[c.key] == c {
		delete(t.byAddr, c.key)
	}
}

// serveConn accepts the streams of one connection until it closes, then
// removes it from the pool.
func (t *Transport) serveConn(c *conn) {
	defer t.wg.Done()
	for {
		s, err := c.qc.AcceptStream(context.Background())
		if err != nil {
			t.drop(c, err)
			return
		}
		// Count the stream before looking at draining, so that Drain
		// either sees it or it sees Drain.
		if t.streams.Add(1) > int64(t.cfg.MaxInboundStreams) || t.draining.Load() {
			t.endStream()
			t.cfg.Metrics.StreamFailed(StreamBusy)
			s.CancelRead(codeBusy)
			s.CancelWrite(codeBusy)
			s.ReleaseStreamCredit()
			continue
		}
		t.wg.Add(1)
		go t.serveStream(c, s)
	}
}

// drop removes a closed connection from the pool and counts why it closed.
func (t *Transport) drop(c *conn, err error) {
	t.mu.Lock()
	t.unlinkLocked(c)
	closed, evicted := t.closed, c.evicted
	t.mu.Unlock()
	var ito *quic.IdleTimeoutError
	reason := ConnPeerClosed
	switch {
	case evicted:
		reason = ConnEvicted
	case closed:
		reason = ConnShutdown
	case errors.As(err, &ito):
		reason = ConnIdle
	}
	t.cfg.Metrics.ConnClosed(reason)
	_ = c.qc.CloseWithError(connShutdown, "")
}

// addrPort converts a UDP address to an unmapped netip.AddrPort.
func addrPort(a net.Addr) netip.AddrPort {
	if ua, ok := a.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(strings.TrimPrefix(a.String(), Scheme))
	return ap
}

// get returns the verification failure recorded during the handshake.
func (s *dialState) get() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure
}

func (s *dialState) set(err error) {
	s.mu.Lock()
	s.failure = err
	s.mu.Unlock()
}
