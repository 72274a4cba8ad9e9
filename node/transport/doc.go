// Package transport moves svc-dht frames over QUIC (SPEC §2). It knows
// nothing of lookups: it authenticates peers, pools connections and carries
// RPCs, one bidirectional stream each.
//
// # Authentication
//
// Every node presents a self-signed X.509 certificate carrying its Ed25519
// identity key; TLS 1.3 only, ALPN "ron/kad-cbor", mutual authentication
// (the listener requests a client certificate and refuses a handshake
// without one). Each side accepts exactly one self-signed Ed25519
// certificate and derives the peer's NodeID = BLAKE3-256(public key) from
// it; the TLS CertificateVerify proves the peer holds the key, so a peer
// cannot claim an ID it does not own. A dial to an expected NodeID fails
// with an error like
//
//	transport: dial quic://127.0.0.1:4433: peer is b3:ab…, expected b3:12…
//
// Certificate dates are fixed (2000-01-01 to 9999-12-31) and never checked:
// the holder of a self-signed certificate writes whatever dates it likes, so
// they prove nothing, and clock skew between peers can never break a
// handshake. Failures are counted as tls_handshake_failures_total{reason}
// through the Metrics hook (reasons id_mismatch, bad_cert, alpn, timeout,
// other).
//
// ClientTLSConfig gives tools and tests that dial nodes with quic-go
// directly (to write bytes below the frame layer) the same client side:
// a certificate for an identity and the same checks of the server's.
//
// Key exchange: by default Go's TLS curve preferences apply, which
// negotiate the hybrid post-quantum X25519MLKEM768 with peers that offer it
// (about 40% more handshake CPU than X25519 alone). Config.DisableHybridKEX
// (pq.hybrid_kex = false) restricts the exchange to X25519.
//
// # RPCs
//
// One RPC is one bidirectional stream: the caller writes one frame (4-byte
// big-endian length + CBOR envelope, see package wire) and closes its side;
// the callee reads the frame under a read deadline (Config.StreamTimeout),
// hands the envelope to the Handler, writes the one response frame in
// chunk_size pieces and closes. The frame cap (frame_max, 1 MiB) is checked
// on the length prefix before any buffer is committed: an oversize frame is
// answered with a 1413 error envelope on that stream, reading is stopped
// (STOP_SENDING) and only that stream ends; the connection stays usable.
// A stream that ends or is reset mid-frame, carries bytes after its frame,
// or does not deliver its frame in time is reset and counted
// (Metrics.StreamFailed). Buffers come from wire.Pools.
//
// At most Config.MaxInboundStreams inbound streams are served at once;
// beyond that a stream is reset with code 1501 (Busy) before any goroutine
// or buffer is spent on it. Stream resets carry wire codes (1413, 1422,
// 1450, 1501, 1508), and Call reports a peer's reset as that code's error.
//
// Call cancels its stream (RESET_STREAM and STOP_SENDING) as soon as its
// context ends, so a hedged loser stops at once; a context without deadline
// gets Config.RPCTimeout (rpc_timeout).
//
// # Connections
//
// One UDP socket per listen address serves inbound connections and dials
// outbound ones, so peers see the node's listening port. Connections are
// pooled, keyed by NodeID (inbound and outbound alike, so an inbound
// connection carries calls back to the same peer) and by dialed address;
// concurrent dials of one address share a handshake. A connection with no
// traffic for Config.IdleTimeout is closed (no keep-alives), and beyond
// max_conns the least recently used connection — preferably one without
// calls in flight — is closed. Addresses are "quic://host:port"; host names
// are resolved through Config.Resolver and their addresses raced IPv6
// first, IPv4 Config.HappyEyeballsDelay (75 ms) later, alternating (RFC
// 8305); the first handshake to finish wins and the others are cancelled.
//
// The QUIC stateless reset key is derived from the identity key, so a peer
// that restarts with the same identity resets the connections others still
// hold to its previous run; Call then redials once, transparently (all
// RPCs of the protocol are idempotent).
//
// Drain starts a graceful stop: new inbound streams are reset with 1501
// and Drain returns once the streams being served have written their
// answers. Close then closes every connection and socket and waits for all
// goroutines, running handlers included, to return. QUIC has no graceful
// close of its own: an answer still unsent, or unread by the peer, when
// CONNECTION_CLOSE goes out is lost (see Transport.Drain).
//
// happy_eyeballs_delay can change at run time (SetHappyEyeballsDelay); the
// other knobs are fixed at New.
package transport
