package runtime

import (
	"context"
	"encoding/binary"
	"syscall"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/memnet"
)

// BenchmarkMemnetLookup is one FIND_NODE lookup of a random key through a
// 64-node network over node/memnet without delay: the caller's probes
// (goroutine, context, encode, decode), the memnet trips, and each callee's
// intake, event loop, owner and encode. It reports the RPCs per lookup;
// ns/op divided by it is the runtime's cost of one RPC, both ends. The
// probes run on a goroutine each (go), or on a shared GoPool (pool), as in
// the harness's swarm.
func BenchmarkMemnetLookup(b *testing.B) {
	b.Run("go", func(b *testing.B) { benchMemnetLookup(b, memnet.Config{Seed: 1}, nil) })
	b.Run("pool", func(b *testing.B) {
		p := NewGoPool(64)
		defer p.Close()
		benchMemnetLookup(b, memnet.Config{Seed: 1}, p.Go)
	})
	// With the delays of the harness's intra-region swarm: two timer waits
	// per RPC, and every goroutine parks between messages.
	b.Run("pool-rtt1-3ms", func(b *testing.B) {
		p := NewGoPool(64)
		defer p.Close()
		benchMemnetLookup(b, memnet.Config{Seed: 1, RTTMin: time.Millisecond, RTTMax: 3 * time.Millisecond,
			Jitter: time.Millisecond, Loss: 0.001, Retransmit: true}, p.Go)
	})
}

func benchMemnetLookup(b *testing.B, mc memnet.Config, goFn func(func())) {
	net, err := memnet.New(mc)
	if err != nil {
		b.Fatal(err)
	}
	mk := onMemnet(net)
	const size = 64
	nodes := make([]*Node, size)
	for i := range nodes {
		var seedList []string
		if i > 0 {
			seedList = []string{seedOf(nodes[i-1])}
		}
		cfg := testConfig(b, seedList...)
		cfg.EventLoops = 1
		cfg.PQ.DualSign = false
		cfg.Limits.MaxRPS, cfg.Limits.PeerRPS = 1_000_000, 100_000
		opts := testOptions(uint64(i+1), nil)
		opts.DisableOps = true
		opts.NewTransport = mk
		opts.Go = goFn
		nodes[i] = startNode(b, cfg, opts)
		waitReady(b, nodes[i])
	}
	ctx := context.Background()
	var key kbucket.ID
	calls0 := net.Stats().Calls
	cpu0 := cpuTime(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint64(key[:], uint64(i)*0x9e3779b97f4a7c15)
		if _, err := nodes[i%size].FindClosest(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	rpcs := float64(net.Stats().Calls - calls0)
	b.ReportMetric(rpcs/float64(b.N), "rpcs/op")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/rpcs, "cpu-ns/rpc")
	for _, n := range nodes { // before the pool closes
		if err := n.Shutdown(context.Background()); err != nil {
			b.Error(err)
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
