package main

import (
	"context"
	"sync"
	"time"
)

// job is one operation the generator schedules.
type job struct {
	kind int
	seq  uint64    // operation number: seeds the operation's random choices
	at   time.Time // when it was due; latency counts from here
}

// generate drives an open-loop load: ops per second of the mix for
// duration, handed to a pool of inflight workers that run do. A job that
// finds every worker busy and the queue (inflight deep) full is skipped and
// counted in rec.skipped rather than delaying the schedule. Latency runs
// from the moment a job was due, so queueing in the harness counts. It
// returns when every started operation has finished (each bounded by its
// own timeout) and how long the schedule ran.
func generate(ctx context.Context, rps int, duration time.Duration, inflight int, mix [numKinds]int, seed uint64,
	rec *recorder, do func(ctx context.Context, j job)) time.Duration {
	jobs := make(chan job, inflight)
	var wg sync.WaitGroup
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				do(ctx, j)
			}
		}()
	}
	start := time.Now()
	end := start.Add(duration)
	interval := time.Second / time.Duration(rps)
	tick := time.NewTicker(min(max(interval, 100*time.Microsecond), time.Millisecond))
	defer tick.Stop()
	var issued uint64
	total := uint64(float64(rps) * duration.Seconds())
loop:
	for issued < total {
		select {
		case <-ctx.Done():
			break loop
		case now := <-tick.C:
			if now.After(end) {
				now = end
			}
			// Operation i is due at start + i×interval.
			due := min(uint64(float64(now.Sub(start))/float64(time.Second)*float64(rps))+1, total)
			for ; issued < due; issued++ {
				j := job{kind: pickKind(mix, splitmix(seed^issued)), seq: issued, at: start.Add(time.Duration(issued) * interval)}
				select {
				case jobs <- j:
				default:
					rec.skipped.Add(1)
				}
			}
		}
	}
	elapsed := time.Since(start)
	close(jobs)
	wg.Wait()
	return min(elapsed, duration)
}

// pickKind maps a random draw onto the mix.
func pickKind(mix [numKinds]int, r uint64) int {
	p := int(r % 100)
	for k, pct := range mix {
		if p < pct {
			return k
		}
		p -= pct
	}
	return numKinds - 1
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
