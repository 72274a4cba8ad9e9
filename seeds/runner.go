package seeds

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// DefaultDialTimeout bounds one dial attempt (handshake and first answer)
// when RunnerConfig.DialTimeout is zero.
const DefaultDialTimeout = 5 * time.Second

// ErrDialTimeout is reported (wrapped) to OnResult when a dial did not finish
// within the dial timeout; the attempt counts as a failure and its context is
// cancelled.
var ErrDialTimeout = errors.New("seed dial timed out")

// Clock is the time source of a Runner. SystemClock is the real one; tests
// inject a fake one so that runs are deterministic.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock returns the Clock backed by package time.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time                 { return time.Now() }
func (systemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

// DialFunc dials one seed: a QUIC handshake (checking s.ID when s.Pinned)
// and a first answer from the peer. It must return soon after ctx is
// cancelled; nil means the seed answered. ctx is cancelled once the attempt
// is over (also after a success), so a connection it opens must not depend
// on ctx beyond the dial.
type DialFunc func(ctx context.Context, s Seed) error

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	Seeds    []Seed     // merged seed list (FromConfig); empty: first node
	Parallel int        // dials at once; 0 means DefaultParallel
	Rand     *rand.Rand // required: dial order and jitter
	Clock    Clock      // required: SystemClock() outside tests
	Dial     DialFunc   // required
	// Start is the process start time that FirstDialAt is measured from;
	// zero means Clock.Now() when NewRunner is called.
	Start time.Time
	// DialTimeout bounds each attempt on Clock; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// OnResult, if set, is called from Run's goroutine after each attempt's
	// outcome is recorded (err nil on success). It must not block for long;
	// it is the place for logs and the dht_bootstrap_seeds_up metric.
	OnResult func(s Seed, err error)
}

// Runner drives a Dialer: it dials the seeds it schedules in goroutines,
// feeds their outcomes back, and sleeps on the injected Clock in between.
// Its query methods are safe to call from any goroutine while Run runs.
type Runner struct {
	cfg   RunnerConfig
	kick  chan struct{} // MarkDown wakes Run
	mu    sync.Mutex    // guards d, first, ran
	d     *Dialer
	first time.Time // time of the first dial attempt; zero before it
	ran   bool

	// idle, if set (tests only), is called by Run just before it waits,
	// with the number of dial goroutines not yet reported back and the
	// time it will wake at (zero: only an event wakes it).
	idle func(outstanding int, wake time.Time)
}

// NewRunner checks cfg and returns a Runner; nothing is dialed before Run.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if cfg.Clock == nil {
		return nil, errors.New("seeds: NewRunner: nil Clock")
	}
	if cfg.Dial == nil {
		return nil, errors.New("seeds: NewRunner: nil Dial")
	}
	if cfg.DialTimeout < 0 {
		return nil, fmt.Errorf("seeds: NewRunner: negative DialTimeout %s", cfg.DialTimeout)
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Start.IsZero() {
		cfg.Start = cfg.Clock.Now()
	}
	d, err := NewDialer(cfg.Seeds, cfg.Parallel, cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("seeds: NewRunner: %w", err)
	}
	return &Runner{cfg: cfg, d: d, kick: make(chan struct{}, 1)}, nil
}

// FirstNode reports whether there are no seeds: this node is the first node
// of its network. Run then returns at once.
func (r *Runner) FirstNode() bool { return r.d.FirstNode() }

// FirstDialAt returns how long after RunnerConfig.Start the first dial
// attempt started (for dht_boot_first_dial_seconds), and false before any.
func (r *Runner) FirstDialAt() (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first.IsZero() {
		return 0, false
	}
	return r.first.Sub(r.cfg.Start), true
}

// Answered returns how many distinct seeds have answered at least once.
func (r *Runner) Answered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.d.Answered()
}

// Satisfied reports whether bootstrap.required = required seeds have
// answered (see Dialer.Satisfied).
func (r *Runner) Satisfied(required int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.d.Satisfied(required)
}

// Status appends a snapshot of every seed to dst (see Dialer.Status).
func (r *Runner) Status(dst []SeedStatus) []SeedStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.d.Status(dst)
}

// MarkDown reports that the connection to an up seed was lost; Run dials it
// again after the backoff delay.
func (r *Runner) MarkDown(s Seed) error {
	r.mu.Lock()
	err := r.d.MarkDown(s, r.cfg.Clock.Now())
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
	return err
}

// dialResult is one finished dial goroutine.
type dialResult struct {
	i   int    // seed index
	gen uint64 // attempt number; stale if it no longer matches
	err error
}

// attempt is a dial in flight.
type attempt struct {
	gen      uint64
	cancel   context.CancelFunc // nil: no attempt in flight
	deadline time.Time
}

// Run dials the seeds until ctx is done, then cancels the dials in flight,
// waits for their goroutines and returns nil. With no seeds (FirstNode) it
// returns nil at once. Run may be called only once.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	ran := r.ran
	r.ran = true
	r.mu.Unlock()
	if ran {
		return errors.New("seeds: Runner.Run called twice")
	}
	if r.d.FirstNode() {
		return nil
	}
	clock := r.cfg.Clock
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
	}()
	results := make(chan dialResult)
	live := make([]attempt, r.d.Len())
	var gen uint64
	outstanding := 0 // dial goroutines whose result has not been received
	var reports []outcome
	for {
		now := clock.Now()
		reports = reports[:0]
		r.mu.Lock()
		for i := range live {
			if a := &live[i]; a.cancel != nil && !now.Before(a.deadline) {
				a.cancel()
				a.cancel = nil
				r.d.result(i, false, now)
				s := r.d.seeds[i].seed
				reports = append(reports, outcome{s, fmt.Errorf("seed %s: %w after %s", s.Addr, ErrDialTimeout, r.cfg.DialTimeout)})
			}
		}
		toDial, wake := r.d.Next(now)
		if len(toDial) > 0 && r.first.IsZero() {
			r.first = now
		}
		for _, s := range toDial {
			i := r.d.index[s.Addr]
			gen++
			actx, cancel := context.WithCancel(ctx)
			live[i] = attempt{gen: gen, cancel: cancel, deadline: now.Add(r.cfg.DialTimeout)}
			outstanding++
			wg.Add(1)
			go func(i int, g uint64, s Seed) {
				defer wg.Done()
				err := r.cfg.Dial(actx, s)
				select {
				case results <- dialResult{i: i, gen: g, err: err}:
				case <-ctx.Done():
				}
			}(i, gen, s)
		}
		r.mu.Unlock()
		r.report(reports)
		for i := range live {
			if a := &live[i]; a.cancel != nil && (wake.IsZero() || a.deadline.Before(wake)) {
				wake = a.deadline
			}
		}
		var timer Timer
		var fire <-chan time.Time
		if !wake.IsZero() {
			timer = clock.NewTimer(wake.Sub(now))
			fire = timer.C()
		}
		if r.idle != nil {
			r.idle(outstanding, wake)
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			for i := range live {
				if live[i].cancel != nil {
					live[i].cancel()
				}
			}
			return nil
		case res := <-results:
			outstanding--
			if a := &live[res.i]; a.cancel != nil && a.gen == res.gen {
				a.cancel()
				a.cancel = nil
				r.mu.Lock()
				r.d.result(res.i, res.err == nil, clock.Now())
				s := r.d.seeds[res.i].seed
				r.mu.Unlock()
				r.report([]outcome{{s, res.err}})
			}
		case <-fire:
		case <-r.kick:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// outcome is one attempt's result waiting to be passed to OnResult.
type outcome struct {
	s   Seed
	err error
}

// report calls OnResult for each outcome; r.mu must not be held, so that
// OnResult may call the Runner's query methods.
func (r *Runner) report(outs []outcome) {
	if r.cfg.OnResult == nil {
		return
	}
	for _, o := range outs {
		r.cfg.OnResult(o.s, o.err)
	}
}
