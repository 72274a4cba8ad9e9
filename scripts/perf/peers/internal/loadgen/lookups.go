package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// LookupFunc runs one lookup from node origin toward target and returns the
// number of RPCs it sent and whether its result holds the node of the swarm
// (other than origin) that is truly closest to target.
type LookupFunc func(ctx context.Context, origin int, target [32]byte) (rpcs int, exact bool, err error)

// LookupReport sums up a series of lookups.
type LookupReport struct {
	Latencies []time.Duration // of the successful lookups
	RPCs      int64           // sent by the successful lookups
	OK        int
	Exact     int // successful lookups whose result holds the truly closest node
	Errors    int
	FirstErr  error
}

// Plan returns count (origin, target) pairs drawn from seed: the same seed
// gives the same plan.
func Plan(nodes, count int, seed uint64) (origins []int, targets [][32]byte) {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	origins = make([]int, count)
	targets = make([][32]byte, count)
	for i := range count {
		origins[i] = r.IntN(nodes)
		for j := 0; j < 32; j += 8 {
			v := r.Uint64()
			for k := range 8 {
				targets[i][j+k] = byte(v >> (8 * k))
			}
		}
	}
	return origins, targets
}

// RunLookups runs count lookups, concurrency at a time, each bounded by
// timeout, from random origins toward random targets drawn from seed.
func RunLookups(ctx context.Context, nodes, count, concurrency int, seed uint64, timeout time.Duration, fn LookupFunc) (LookupReport, error) {
	if nodes <= 0 || count <= 0 || concurrency <= 0 || timeout <= 0 {
		return LookupReport{}, fmt.Errorf("lookups: nodes (%d), count (%d), concurrency (%d) and timeout (%v) must be positive",
			nodes, count, concurrency, timeout)
	}
	origins, targets := Plan(nodes, count, seed)
	lat := make([]time.Duration, count)
	rpcs := make([]int, count)
	exact := make([]bool, count)
	errs := make([]error, count)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(concurrency, count) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= count || ctx.Err() != nil {
					return
				}
				lctx, cancel := context.WithTimeout(ctx, timeout)
				t0 := time.Now()
				rpcs[i], exact[i], errs[i] = fn(lctx, origins[i], targets[i])
				lat[i] = time.Since(t0)
				cancel()
			}
		})
	}
	wg.Wait()
	var rep LookupReport
	for i := range count {
		switch {
		case errs[i] != nil:
			rep.Errors++
			if rep.FirstErr == nil {
				rep.FirstErr = errs[i]
			}
		case lat[i] > 0:
			rep.OK++
			rep.RPCs += int64(rpcs[i])
			if exact[i] {
				rep.Exact++
			}
			rep.Latencies = append(rep.Latencies, lat[i])
		}
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("lookups: %w", err)
	}
	return rep, nil
}
