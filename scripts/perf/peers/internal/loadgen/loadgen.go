package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Caller makes one blocking request. A Caller is used by one worker only.
type Caller interface {
	Call() (answerNodes int, err error)
}

// Config describes one run.
type Config struct {
	Warmup   time.Duration // calls before the window are not measured
	Duration time.Duration // length of the measurement window
	MaxCalls int64         // hard bound on calls in the whole run (warm-up included)
	// MaxConsecutiveErrors stops a worker after that many failures in a row (0: 100).
	MaxConsecutiveErrors int
	// OnWindowStart and OnWindowEnd run at the window's edges (e.g. to read the
	// server's counters); an error aborts the run.
	OnWindowStart, OnWindowEnd func(context.Context) error
	// SampleCap bounds the latency samples kept per worker (0: 1<<20).
	SampleCap int
}

// Report is what happened inside the measurement window.
type Report struct {
	Window      time.Duration
	Calls       int64 // successful calls completed in the window
	Errors      int64 // failed calls completed in the window
	AnswerNodes int64 // sum of answer sizes of the successful calls
	Latencies   []time.Duration
	Truncated   bool // the window ended early on MaxCalls or on failing workers
}

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// ErrNoWorkers is returned when Run gets no callers.
var ErrNoWorkers = errors.New("loadgen: no workers")

// Run drives callers until the window ends, MaxCalls is reached, every worker
// has given up, or ctx ends.
func Run(ctx context.Context, cfg Config, callers []Caller) (Report, error) {
	if len(callers) == 0 {
		return Report{}, ErrNoWorkers
	}
	if cfg.Duration <= 0 || cfg.MaxCalls <= 0 {
		return Report{}, fmt.Errorf("loadgen: duration (%v) and max calls (%d) must be positive", cfg.Duration, cfg.MaxCalls)
	}
	maxErr := cfg.MaxConsecutiveErrors
	if maxErr <= 0 {
		maxErr = 100
	}
	sampleCap := cfg.SampleCap
	if sampleCap <= 0 {
		sampleCap = 1 << 20
	}

	var (
		phase     atomic.Int32
		total     atomic.Int64
		exhausted = make(chan struct{})
		exhaust   sync.Once
		wg        sync.WaitGroup
	)
	type workerOut struct {
		calls, errs, nodes int64
		lat                []time.Duration
	}
	outs := make([]workerOut, len(callers))
	var (
		rep   Report
		start time.Time
	)
	// Without a warm-up the window opens before the first call.
	if cfg.Warmup <= 0 {
		if cfg.OnWindowStart != nil {
			if err := cfg.OnWindowStart(ctx); err != nil {
				return rep, fmt.Errorf("loadgen: window start: %w", err)
			}
		}
		start = time.Now()
		phase.Store(phaseMeasure)
	}
	for i, c := range callers {
		wg.Go(func() {
			o := &outs[i]
			o.lat = make([]time.Duration, 0, min(sampleCap, 4096))
			consecutive := 0
			for phase.Load() != phaseStop {
				if total.Add(1) > cfg.MaxCalls {
					exhaust.Do(func() { close(exhausted) })
					return
				}
				t0 := time.Now()
				n, err := c.Call()
				d := time.Since(t0)
				if phase.Load() == phaseMeasure {
					if err != nil {
						o.errs++
					} else {
						o.calls++
						o.nodes += int64(n)
						if len(o.lat) < sampleCap {
							o.lat = append(o.lat, d)
						}
					}
				}
				if err != nil {
					consecutive++
					if consecutive >= maxErr {
						return
					}
				} else {
					consecutive = 0
				}
			}
		})
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()

	stop := func() { phase.Store(phaseStop); <-allDone }
	wait := func(d time.Duration) (early bool) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-exhausted:
		case <-allDone:
		case <-ctx.Done():
		}
		return true
	}

	if cfg.Warmup > 0 {
		if wait(cfg.Warmup) {
			stop()
			return rep, fmt.Errorf("loadgen: run ended during warm-up (max calls %d, workers failing, or cancelled)", cfg.MaxCalls)
		}
		if cfg.OnWindowStart != nil {
			if err := cfg.OnWindowStart(ctx); err != nil {
				stop()
				return rep, fmt.Errorf("loadgen: window start: %w", err)
			}
		}
		start = time.Now()
		phase.Store(phaseMeasure)
	}
	rep.Truncated = wait(cfg.Duration)
	rep.Window = time.Since(start)
	var endErr error
	if cfg.OnWindowEnd != nil {
		endErr = cfg.OnWindowEnd(ctx)
	}
	stop()
	for i := range outs {
		rep.Calls += outs[i].calls
		rep.Errors += outs[i].errs
		rep.AnswerNodes += outs[i].nodes
		rep.Latencies = append(rep.Latencies, outs[i].lat...)
	}
	if endErr != nil {
		return rep, fmt.Errorf("loadgen: window end: %w", endErr)
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("loadgen: %w", err)
	}
	return rep, nil
}
