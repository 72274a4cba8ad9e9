package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/svc-dht/svc-dht/wire"
)

// Defaults of the transport knobs (SPEC §2, seed/PERFORMANCE.md §3).
const (
	DefaultMaxConns           = 1024
	DefaultIdleTimeout        = 60 * time.Second
	DefaultRPCTimeout         = 1500 * time.Millisecond
	DefaultStreamTimeout      = 2 * time.Second
	DefaultHandshakeTimeout   = 3 * time.Second
	DefaultHappyEyeballsDelay = 75 * time.Millisecond
	DefaultMaxStreamsPerConn  = 100
	DefaultMaxInboundStreams  = 1024
)

// Resolver maps a host name to its IP addresses. It has the signature of
// (*net.Resolver).LookupNetIP with the network fixed to "ip"; tests inject a
// fake one.
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// Config holds the transport knobs. The zero value of every field but
// ListenAddrs means "use the default".
type Config struct {
	// ListenAddrs are the UDP addresses (host:port) the node listens on and
	// dials from; at least one is required. "0.0.0.0:4433" or "[::]:4433"
	// opens one dual-stack socket; "127.0.0.1:0" an IPv4 loopback socket
	// on a free port. An outbound dial uses the first socket that can reach
	// the destination's address family.
	ListenAddrs []string

	// FrameMax caps a frame body (frame_max). Only wire.FrameMax (1 MiB) or
	// less is accepted.
	FrameMax int
	// ChunkSize is the write size of large frames (chunk_size, 32-128 KiB,
	// default wire.DefaultChunkSize, 64 KiB).
	ChunkSize int
	// MaxConns caps the pooled connections, inbound and outbound together
	// (max_conns); the least recently used connection is closed first.
	MaxConns int
	// IdleTimeout closes a connection that carried no packet for this long
	// (conn_idle_timeout). No keep-alives are sent.
	IdleTimeout time.Duration
	// RPCTimeout bounds a Call whose context has no deadline (rpc_timeout).
	RPCTimeout time.Duration
	// StreamTimeout bounds how long an inbound stream may take to deliver
	// its request frame, and then how long writing the response may take.
	// A stream that exceeds it is reset and counted.
	StreamTimeout time.Duration
	// HandshakeTimeout bounds one QUIC+TLS handshake.
	HandshakeTimeout time.Duration
	// HappyEyeballsDelay is the stagger between dial attempts to the
	// addresses of a dual-stack host (IPv6 first, then IPv4, alternating).
	HappyEyeballsDelay time.Duration
	// MaxStreamsPerConn caps the concurrent RPC streams a peer may open on
	// one connection.
	MaxStreamsPerConn int
	// MaxInboundStreams caps the inbound RPC streams served at once over
	// all connections; beyond it a new stream is reset at once with code
	// 1501 Busy. It bounds the goroutines and frame buffers a flood can
	// pin (each stream holds at most one frame, frame_max bytes).
	MaxInboundStreams int
	// DisableHybridKEX turns the post-quantum hybrid key exchange off
	// (pq.hybrid_kex = false): TLS then offers X25519 only. By default Go's
	// curve preferences apply, which negotiate X25519MLKEM768 with peers
	// that support it.
	DisableHybridKEX bool

	// Resolver resolves host names; nil uses net.DefaultResolver.
	Resolver Resolver
	// Metrics receives the transport's counters; nil discards them.
	Metrics Metrics
	// Pools supplies frame buffers; nil gives the transport its own. The
	// runtime shares its pools so that buffers move between the two.
	Pools *wire.Pools
	// Now returns the wall-clock time for the ts field of the error
	// envelopes the transport writes itself (1413, handler errors); nil
	// means time.Now.
	Now func() time.Time
}

// withDefaults returns c with defaults filled in, or an error naming the
// first invalid field.
func (c Config) withDefaults() (Config, error) {
	if len(c.ListenAddrs) == 0 {
		return c, errors.New("transport config: listen_addr: at least one address is required")
	}
	for _, a := range c.ListenAddrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return c, fmt.Errorf("transport config: listen_addr %q: %w", a, err)
		}
	}
	setDefault(&c.FrameMax, wire.FrameMax)
	setDefault(&c.ChunkSize, wire.DefaultChunkSize)
	setDefault(&c.MaxConns, DefaultMaxConns)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.RPCTimeout, DefaultRPCTimeout)
	setDefault(&c.StreamTimeout, DefaultStreamTimeout)
	setDefault(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&c.HappyEyeballsDelay, DefaultHappyEyeballsDelay)
	setDefault(&c.MaxStreamsPerConn, DefaultMaxStreamsPerConn)
	setDefault(&c.MaxInboundStreams, DefaultMaxInboundStreams)
	if err := wire.CheckFrameCap(c.FrameMax); err != nil {
		return c, fmt.Errorf("transport config: %w", err)
	}
	if err := wire.CheckChunkSize(c.ChunkSize); err != nil {
		return c, fmt.Errorf("transport config: %w", err)
	}
	switch {
	case c.MaxConns < 0:
		return c, fmt.Errorf("transport config: max_conns %d: must be positive", c.MaxConns)
	case c.IdleTimeout < 0, c.RPCTimeout < 0, c.StreamTimeout < 0, c.HandshakeTimeout < 0, c.HappyEyeballsDelay < 0:
		return c, errors.New("transport config: durations must not be negative")
	case c.MaxStreamsPerConn < 0:
		return c, fmt.Errorf("transport config: max streams per connection %d: must be positive", c.MaxStreamsPerConn)
	case c.MaxInboundStreams < 0:
		return c, fmt.Errorf("transport config: max inbound streams %d: must be positive", c.MaxInboundStreams)
	}
	if c.Resolver == nil {
		c.Resolver = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	if c.Pools == nil {
		c.Pools = new(wire.Pools)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}
