package runtime

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/metrics"
	"github.com/svc-dht/svc-dht/node/ops"
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

	// hooks are test-only controls (set by this package's tests).
	hooks *testHooks
}

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
}
