package runtime

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/memnet"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

// TestGoPool runs functions through a pool: each runs once, concurrently
// with the caller; finished goroutines wait for more up to maxIdle and are
// reused; Close ends them.
func TestGoPool(t *testing.T) {
	p := NewGoPool(2)
	// Four functions that block until released run at once: the pool
	// starts a goroutine for each.
	release := make(chan struct{})
	var started, ran sync.WaitGroup
	var count atomic.Int32
	for range 4 {
		started.Add(1)
		ran.Add(1)
		p.Go(func() {
			started.Done()
			<-release
			count.Add(1)
			ran.Done()
		})
	}
	started.Wait() // all four run concurrently: none waits for another
	close(release)
	ran.Wait()
	if count.Load() != 4 {
		t.Fatalf("ran %d functions, want 4", count.Load())
	}
	waitFor(t, "two idle goroutines", func() bool { return p.Idle() == 2 })
	// The idle goroutines take the next functions.
	done := make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	waitFor(t, "idle goroutine back", func() bool { return p.Idle() == 2 })
	p.Close()
	p.Close()
	if p.Idle() != 0 {
		t.Errorf("idle %d after Close", p.Idle())
	}
	// After Close, Go still runs f.
	after := make(chan struct{})
	p.Go(func() { close(after) })
	<-after
	p.Close()
}

// TestOptionsGo checks that a node's probes go through Options.Go and
// that lookups work through a shared pool.
func TestOptionsGo(t *testing.T) {
	net, err := memnet.New(memnet.Config{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	mk := onMemnet(net)
	pool := NewGoPool(8)
	defer pool.Close() // runs after the explicit shutdowns below
	var probes atomic.Int64
	goFn := func(f func()) {
		probes.Add(1)
		pool.Go(f)
	}
	nodes := make([]*Node, 5)
	for i := range nodes {
		var seedList []string
		if i > 0 {
			seedList = []string{seedOf(nodes[0])}
		}
		cfg := testConfig(t, seedList...)
		cfg.EventLoops = 1
		cfg.PQ.DualSign = false
		opts := testOptions(uint64(i+1), nil)
		opts.DisableOps, opts.NewTransport, opts.Go = true, mk, goFn
		nodes[i] = startNode(t, cfg, opts)
	}
	waitReady(t, nodes...)
	before := probes.Load()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	fc, err := nodes[3].FindClosest(ctx, kbucket.ID{0x77})
	if err != nil || len(fc.Peers) == 0 {
		t.Fatalf("FindClosest: %+v %v", fc, err)
	}
	if probes.Load() == before {
		t.Error("the lookup's probes did not go through Options.Go")
	}
	for _, n := range nodes {
		if err := n.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}
}

// TestBootstrappedLongHousekeeping checks Bootstrapped and that a node
// whose housekeeping tick is far away (Options.HousekeepingInterval) still
// gets ready: the end of its bootstrap and of its later lookups publish
// readiness without waiting for the tick.
func TestBootstrappedLongHousekeeping(t *testing.T) {
	net, err := memnet.New(memnet.Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	mk := onMemnet(net)
	nodes := make([]*Node, 4)
	for i := range nodes {
		var seedList []string
		if i > 0 {
			seedList = []string{seedOf(nodes[i-1])}
		}
		cfg := testConfig(t, seedList...)
		cfg.EventLoops = 1
		opts := testOptions(uint64(i+1), nil)
		opts.DisableOps, opts.NewTransport, opts.HousekeepingInterval = true, mk, time.Hour
		n, err := New(cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n.Bootstrapped() {
			t.Errorf("node %d bootstrapped before Start", i)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
		nodes[i] = n
		if i == 0 && !n.Bootstrapped() {
			t.Error("first node of the network: not bootstrapped at once")
		}
		waitFor(t, "bootstrapped", n.Bootstrapped)
	}
	waitReady(t, nodes...)
	_ = nodes[3].Shutdown(context.Background())
	if nodes[3].Bootstrapped() {
		t.Error("a stopped node reports bootstrapped")
	}
}

// TestBootstrapRetry joins a node through a seed that answers PING but
// refuses FIND_NODE: the bootstrap fails, and is retried by its own timer
// (not the housekeeping tick, an hour away here) after bootRetryFirst.
func TestBootstrapRetry(t *testing.T) {
	net, err := memnet.New(memnet.Config{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var at []time.Time
	seedID, err := identity.Generate(rand.NewChaCha8([32]byte{0x5e}), false)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := net.Listen(seedID, func(_ context.Context, _ transport.PeerInfo, req, dst []byte) ([]byte, error) {
		var in wire.Envelope
		if err := wire.DecodeEnvelope(req, &in); err != nil {
			return dst, err
		}
		if in.Op != wire.OpPing {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			return dst, wire.NewError(wire.CodeBusy, "no lookups here")
		}
		env := wire.NewResponse(&in, wire.CodeOK, in.TS)
		return wire.AppendFrame(dst, &env, &wire.PingResponse{})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer seed.Close()
	cfg := testConfig(t, seedID.ID().String()+"@"+seed.Addrs()[0])
	cfg.EventLoops = 1
	opts := testOptions(7, nil)
	opts.DisableOps, opts.HousekeepingInterval = true, time.Hour
	opts.NewTransport = onMemnet(net)
	n := startNode(t, cfg, opts)
	// The lookup's own tries of the seed come in a burst; the retried
	// bootstrap comes bootRetryFirst later (seen from the seed's side:
	// more than half of it, well beyond the burst).
	retried := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := 1; i < len(at); i++ {
			if at[i].Sub(at[i-1]) >= bootRetryFirst/2 {
				return true
			}
		}
		return false
	}
	waitFor(t, "a second bootstrap", retried)
	if n.Bootstrapped() {
		t.Error("bootstrapped through a seed that refuses lookups")
	}
}
