package runtime

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/memnet"
	"github.com/svc-dht/svc-dht/node/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitBound is the failure bound of every wait on a condition: a test that
// reaches it has failed; it never paces a test.
const waitBound = 30 * time.Second

// testConfig returns a micronode configuration on loopback with the given
// seeds, ready as soon as one seed answered and the bootstrap lookup ended.
func testConfig(t testing.TB, seedList ...string) *config.Config {
	t.Helper()
	cfg, err := config.Defaults(config.Micronode)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.OpsAddr = "127.0.0.1:0"
	cfg.EventLoops = 2
	cfg.Bootstrap.UseDefaultSeeds = false
	cfg.Bootstrap.Seeds = seedList
	cfg.Bootstrap.Required = min(1, len(seedList))
	return cfg
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testOptions returns options with deterministic randomness for node i and
// a JSON logger into w (io.Discard when nil).
func testOptions(i uint64, w io.Writer) Options {
	if w == nil {
		w = io.Discard
	}
	return Options{
		Logger:  slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Rand:    rand.New(rand.NewPCG(i, 0x5eed)),
		Entropy: rand.NewChaCha8([32]byte{byte(i), 1, 2, 3}),
	}
}

// startNode builds and starts a node; it is shut down when the test ends.
func startNode(t testing.TB, cfg *config.Config, opts Options) *Node {
	t.Helper()
	n, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return n
}

// seedOf is the pinned seed string of n.
func seedOf(n *Node) string { return n.ID().String() + "@" + n.Addrs()[0] }

// waitFor polls cond until it holds; waitBound is only the failure bound.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitReady waits until every node reports ready.
func waitReady(t testing.TB, nodes ...*Node) {
	t.Helper()
	for _, n := range nodes {
		waitFor(t, "node ready", func() bool {
			ok, _ := n.Ready()
			return ok
		})
	}
}

// newClient returns a dial-only QUIC transport with a fresh identity.
func newClient(t testing.TB, seed byte) *transport.Transport {
	t.Helper()
	id, err := identity.Generate(rand.NewChaCha8([32]byte{seed, 0xc1}), false)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transport.New(id, transport.Config{ListenAddrs: []string{"127.0.0.1:0"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// onMemnet is an Options.NewTransport that attaches each node to net (a
// failed Listen must come back as a nil Transport, not a nil *Endpoint).
func onMemnet(net *memnet.Network) func(*identity.Identity, transport.Handler) (Transport, error) {
	return func(id *identity.Identity, h transport.Handler) (Transport, error) {
		e, err := net.Listen(id, h)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}
