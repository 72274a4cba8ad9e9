package transport

import "sync/atomic"

// HandshakeFailure is the reason label of tls_handshake_failures_total.
type HandshakeFailure uint8

// Handshake failure reasons.
const (
	// HandshakeIDMismatch: the peer's certificate key derives another
	// NodeID than the one the dial expected.
	HandshakeIDMismatch HandshakeFailure = iota
	// HandshakeBadCert: no certificate, more than one, not Ed25519, or a
	// bad self-signature.
	HandshakeBadCert
	// HandshakeALPN: the peer does not speak ron/kad-cbor.
	HandshakeALPN
	// HandshakeTimeout: no handshake within Config.HandshakeTimeout.
	HandshakeTimeout
	// HandshakeOther: anything else (unreachable, refused, TLS alert...).
	HandshakeOther
	numHandshakeFailures
)

var handshakeFailureNames = [numHandshakeFailures]string{"id_mismatch", "bad_cert", "alpn", "timeout", "other"}

// String returns the Prometheus label value.
func (r HandshakeFailure) String() string {
	if r < numHandshakeFailures {
		return handshakeFailureNames[r]
	}
	return "unknown"
}

// StreamFailure says why an inbound RPC stream was closed without a normal
// answer.
type StreamFailure uint8

// Stream failure reasons.
const (
	// StreamOversize: the length prefix exceeded frame_max (answered 1413).
	StreamOversize StreamFailure = iota
	// StreamTruncated: the peer closed or reset the stream mid-frame.
	StreamTruncated
	// StreamReadTimeout: the request frame did not complete within
	// Config.StreamTimeout.
	StreamReadTimeout
	// StreamTrailingData: bytes followed the request frame.
	StreamTrailingData
	// StreamWriteFailed: the response could not be written (peer gone,
	// reset, or write timeout).
	StreamWriteFailed
	// StreamRefused: the transport has no handler (dial-only).
	StreamRefused
	// StreamBusy: Config.MaxInboundStreams streams were already being
	// served, or the transport is draining; the stream was reset with
	// code 1501.
	StreamBusy
	// StreamCanceled: the caller cancelled the RPC (a hedged loser, a
	// timeout) before the answer was written.
	StreamCanceled
	numStreamFailures
)

var streamFailureNames = [numStreamFailures]string{"oversize", "truncated", "read_timeout", "trailing_data", "write_failed", "refused", "busy", "canceled"}

// String returns the label value.
func (r StreamFailure) String() string {
	if r < numStreamFailures {
		return streamFailureNames[r]
	}
	return "unknown"
}

// ConnClose says why a pooled connection went away.
type ConnClose uint8

// Connection close reasons.
const (
	// ConnIdle: the idle timeout expired.
	ConnIdle ConnClose = iota
	// ConnEvicted: closed as least recently used to stay within max_conns.
	ConnEvicted
	// ConnPeerClosed: the peer closed it or it failed.
	ConnPeerClosed
	// ConnShutdown: closed by Transport.Close.
	ConnShutdown
	numConnCloses
)

var connCloseNames = [numConnCloses]string{"idle", "evicted", "peer", "shutdown"}

// String returns the label value.
func (r ConnClose) String() string {
	if r < numConnCloses {
		return connCloseNames[r]
	}
	return "unknown"
}

// Metrics receives the transport's events. The runtime binds it to
// Prometheus; methods are called from many goroutines and must be cheap and
// non-blocking.
type Metrics interface {
	// HandshakeFailed counts tls_handshake_failures_total{reason}. Dials
	// abandoned because the caller's context ended are not counted.
	HandshakeFailed(reason HandshakeFailure)
	// StreamFailed counts an inbound stream closed abnormally.
	StreamFailed(reason StreamFailure)
	// ConnOpened counts an established connection.
	ConnOpened(inbound bool)
	// ConnClosed counts a connection leaving the pool.
	ConnClosed(reason ConnClose)
}

type nopMetrics struct{}

func (nopMetrics) HandshakeFailed(HandshakeFailure) {}
func (nopMetrics) StreamFailed(StreamFailure)       {}
func (nopMetrics) ConnOpened(bool)                  {}
func (nopMetrics) ConnClosed(ConnClose)             {}

// Counters is a lock-free Metrics implementation that keeps totals in
// memory; a runtime may read it when it renders /metrics.
type Counters struct {
	handshake [numHandshakeFailures]atomic.Uint64
	stream    [numStreamFailures]atomic.Uint64
	opened    [2]atomic.Uint64 // outbound, inbound
	closed    [numConnCloses]atomic.Uint64
}

// HandshakeFailed implements Metrics.
func (c *Counters) HandshakeFailed(r HandshakeFailure) {
	if r < numHandshakeFailures {
		c.handshake[r].Add(1)
	}
}

// StreamFailed implements Metrics.
func (c *Counters) StreamFailed(r StreamFailure) {
	if r < numStreamFailures {
		c.stream[r].Add(1)
	}
}

// ConnOpened implements Metrics.
func (c *Counters) ConnOpened(inbound bool) {
	if inbound {
		c.opened[1].Add(1)
	} else {
		c.opened[0].Add(1)
	}
}

// ConnClosed implements Metrics.
func (c *Counters) ConnClosed(r ConnClose) {
	if r < numConnCloses {
		c.closed[r].Add(1)
	}
}

// HandshakeFailures returns the count for one reason.
func (c *Counters) HandshakeFailures(r HandshakeFailure) uint64 {
	if r >= numHandshakeFailures {
		return 0
	}
	return c.handshake[r].Load()
}

// StreamFailures returns the count for one reason.
func (c *Counters) StreamFailures(r StreamFailure) uint64 {
	if r >= numStreamFailures {
		return 0
	}
	return c.stream[r].Load()
}

// ConnsOpened returns how many inbound or outbound connections were
// established.
func (c *Counters) ConnsOpened(inbound bool) uint64 {
	if inbound {
		return c.opened[1].Load()
	}
	return c.opened[0].Load()
}

// ConnsClosed returns the count for one close reason.
func (c *Counters) ConnsClosed(r ConnClose) uint64 {
	if r >= numConnCloses {
		return 0
	}
	return c.closed[r].Load()
}
