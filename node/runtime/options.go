package runtime

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/metrics"
	"github.com/svc-dht/svc-dht/node/ops"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/seeds"
)

// DefaultSnapshotInterval is how often a node without amnesia saves its
// routing table and provider store, besides at shutdown.
const DefaultSnapshotInterval = 5 * time.Minute

// Options carries what a Node takes from its embedder rather than from the
// configuration: the process start time, injectable clock, randomness and
// logger (tests), and whether to serve the ops plane. The zero value is
// valid: real clock, randomness from crypto/rand, a logx logger on stderr,
// the ops plane on ops_addr.
type Options struct {
	// Logger receives the node's logs; nil builds a logx logger on stderr
	// with log.format and log.level (the level follows reloads).
	Logger *slog.Logger
	// Metrics is the node's metrics plane; nil makes a fresh one.
	Metrics *metrics.Metrics
	// Now is the clock of every decision (quotas, timers, record
	// freshness); nil means time.Now.
	Now func() time.Time
	// Rand seeds the core's and the seed dialer's randomness; nil draws a
	// seed from Entropy.
	Rand *rand.Rand
	// Entropy is the randomness a new identity is generated from; nil
	// means crypto/rand.Reader.
	Entropy io.Reader
	// Identity, when set, is used instead of the key store's (devnet,
	// tests). Nothing is written for it.
	Identity *identity.Identity
	// ProcessStart is when the process started: dht_boot_first_dial_seconds
	// and the first_dial_ms log field are measured from it. Zero means the
	// time New was called.
	ProcessStart time.Time
	// SeedClock is the clock of the seed dialer's backoff; nil means the
	// system clock.
	SeedClock seeds.Clock
	// DisableOps turns the ops plane (and the local API on it) off: for
	// embedders that serve it themselves, such as devnet nodes beyond the
	// first.
	DisableOps bool
	// Version is the /version body; zero builds one with
	// ops.NewVersionInfo and the node's features.
	Version ops.VersionInfo
	// SnapshotInterval is the period of snapshot saves without amnesia;
	// zero means DefaultSnapshotInterval.
	SnapshotInterval time.Duration
	// HousekeepingInterval is the period of the owner's housekeeping: the
	// readiness inputs and the routing-table snapshot that metrics and
	// readiness checks read are republished, and a failed bootstrap is
	// retried, this often (they are also republished when the bootstrap
	// ends). Zero means DefaultHousekeepingInterval, the daemon's. An
	// embedder running thousands of nodes in one process (the performance
	// harness's swarm) sets it longer, since each tick costs every node a
	// table snapshot and a network-size estimate.
	HousekeepingInterval time.Duration
	// Go, when set, runs each outbound probe (one RPC of a lookup, from
	// encode to the answer's decode) instead of a new goroutine per probe.
	// It must run f concurrently with its caller, and promptly. An
	// embedder running many nodes in one process (the performance
	// harness's swarm) passes a pool of goroutines shared by its nodes,
	// whose stacks have already grown to what a probe needs. Nil starts a
	// goroutine per probe, the daemon's behaviour.
	Go func(f func())
	// NewTransport, when set, builds the node's transport instead of the
	// QUIC one on listen_addr (the in-memory network of the performance
	// harness, node/memnet): it gets the node's identity and the handler
	// that serves inbound RPCs. The transport's Addrs are what the node
	// advertises.
	NewTransport func(id *identity.Identity, h transport.Handler) (Transport, error)

	// hooks are test-only controls (set by this package's tests).
	hooks *testHooks
}

// Transport is what a node needs from its transport: the QUIC transport
// (*transport.Transport) by default, or another one given through
// Options.NewTransport. Call has the contract of transport.Transport.Call:
// req is a complete frame (wire.AppendFrame), the answer is the response
// envelope without its length prefix appended to dst[:0], and the returned
// PeerInfo is who answered; expect, when not nil, is the NodeID the peer
// must have. Close stops the transport and waits for its handlers. A
// transport that also has Drain(context.Context) error is drained before
// it is closed at shutdown.
type Transport interface {
	Call(ctx context.Context, addr string, expect *kbucket.ID, req, dst []byte) ([]byte, transport.PeerInfo, error)
	Addrs() []string
	Close() error
}

var _ Transport = (*transport.Transport)(nil)

// testHooks let the package's tests reach states that real traffic
// reaches only under load.
type testHooks struct {
	// ownerGate, when set, is received from by the owner loop before it
	// serves each inbound request: a test holds the owner still until it
	// closes the channel.
	ownerGate chan struct{}
	// queueCap and loops override queue_cap.work and event_loops (the
	// configuration's ranges are for production).
	queueCap int
	loops    int
	// streamTimeout overrides the transport's read deadline of an inbound
	// stream (transport.Config.StreamTimeout), which has no configuration
	// key; zero keeps the transport's default.
	streamTimeout time.Duration
}
