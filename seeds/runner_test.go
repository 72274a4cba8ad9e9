package seeds

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manual clock: time moves only by Set, which fires the
// timers that are due.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk *fakeClock
	at  time.Time
	c   chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	return t
}

// Set moves the clock to now (never backwards) and fires due timers.
func (c *fakeClock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Before(c.now) {
		panic("fakeClock: time going backwards")
	}
	c.now = now
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if t.at.After(now) {
			return false
		}
		t.c <- now
		return true
	})
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	n := len(t.clk.timers)
	t.clk.timers = slices.DeleteFunc(t.clk.timers, func(x *fakeTimer) bool { return x == t })
	return len(t.clk.timers) < n
}

// idleEvent is what Run reports just before it waits.
type idleEvent struct {
	outstanding int
	wake        time.Time
}

// harness runs a Runner on a fake clock. Run reports on idle each time it is
// about to wait; when outstanding is 0 nothing but the clock (or MarkDown)
// can wake it, so the test may move the clock without racing the loop.
type harness struct {
	clk  *fakeClock
	r    *Runner
	idle chan idleEvent
	stop func()
}

func startRunner(t *testing.T, clk *fakeClock, cfg RunnerConfig) *harness {
	t.Helper()
	cfg.Clock = clk
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(11, 12))
	}
	r, err := NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{clk: clk, r: r, idle: make(chan idleEvent)}
	quit := make(chan struct{})
	r.idle = func(n int, wake time.Time) {
		select {
		case h.idle <- idleEvent{n, wake}:
		case <-quit:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			close(quit)
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

// settle waits until Run is idle with no dial outstanding.
func (h *harness) settle(t *testing.T) idleEvent {
	t.Helper()
	for {
		ev := <-h.idle
		if ev.outstanding == 0 {
			return ev
		}
	}
}

// TestRunBackoffAndFirstDial: with one always-failing seed on a fake clock,
// Run dials at once, records the first dial relative to process start, and
// retries after 1, 5, 15, 60, 300, 300 s ±20%.
func TestRunBackoffAndFirstDial(t *testing.T) {
	var mu sync.Mutex
	var dials []time.Time
	clk := &fakeClock{now: t0}
	var results []error
	start := t0.Add(-370 * time.Millisecond)
	h := startRunner(t, clk, RunnerConfig{
		Seeds: testSeeds(1),
		Start: start,
		Dial: func(ctx context.Context, s Seed) error {
			mu.Lock()
			defer mu.Unlock()
			dials = append(dials, clk.Now())
			return errors.New("connection refused")
		},
		OnResult: func(s Seed, err error) { results = append(results, err) },
	})
	base := []time.Duration{1, 5, 15, 60, 300, 300}
	for range base {
		ev := h.settle(t)
		if ev.wake.IsZero() {
			t.Fatal("failing seed: Run waits with no wake time")
		}
		h.clk.Set(ev.wake)
	}
	h.settle(t)
	if got, ok := h.r.FirstDialAt(); !ok || got != 370*time.Millisecond {
		t.Fatalf("FirstDialAt = %s, %v; want 370ms", got, ok)
	}
	h.stop()
	if len(dials) != len(base)+1 || !dials[0].Equal(t0) {
		t.Fatalf("dials at %v", dials)
	}
	for k, b := range base {
		b *= time.Second
		if gap := dials[k+1].Sub(dials[k]); gap < b*8/10 || gap > b*12/10 {
			t.Errorf("delay %d: %s, want %s ±20%%", k+1, gap, b)
		}
	}
	if len(results) != len(dials) || results[0] == nil {
		t.Fatalf("OnResult got %v for %d dials", results, len(dials))
	}
	st := h.r.Status(nil)[0]
	if st.Attempts != len(dials) || st.Failures != len(dials) || st.Up || h.r.Answered() != 0 {
		t.Fatalf("status %+v, answered %d", st, h.r.Answered())
	}
}

// TestRunParallelLimit: dials that hang until the test answers them never
// exceed the limit, every seed is dialed once, and all count as answered.
func TestRunParallelLimit(t *testing.T) {
	const n, par = 10, 3
	type call struct {
		s     Seed
		reply chan error
	}
	calls := make(chan call)
	var answered []int
	var r *Runner
	h := startRunner(t, &fakeClock{now: t0}, RunnerConfig{
		Seeds:    testSeeds(n),
		Parallel: par,
		Dial: func(ctx context.Context, s Seed) error {
			c := call{s, make(chan error)}
			calls <- c
			select {
			case err := <-c.reply:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		// Calls back into the Runner: OnResult runs without its lock.
		OnResult: func(s Seed, err error) { answered = append(answered, r.Answered()) },
	})
	r = h.r
	var pending []call
	dialed := map[string]int{}
	peak := 0
	for {
		ev := <-h.idle
		for len(pending) < ev.outstanding {
			c := <-calls
			dialed[c.s.Addr]++
			pending = append(pending, c)
		}
		if len(pending) != ev.outstanding {
			t.Fatalf("%d dials pending, Run reports %d", len(pending), ev.outstanding)
		}
		peak = max(peak, len(pending))
		if len(pending) > par {
			t.Fatalf("%d dials at once, limit %d", len(pending), par)
		}
		if len(pending) == 0 {
			break
		}
		pending[0].reply <- nil
		pending = pending[1:]
	}
	h.stop()
	if peak != par {
		t.Errorf("peak concurrency %d, want the limit %d", peak, par)
	}
	if len(dialed) != n {
		t.Errorf("%d seeds dialed, want %d", len(dialed), n)
	}
	for a, k := range dialed {
		if k != 1 {
			t.Errorf("%s dialed %d times", a, k)
		}
	}
	if !slices.Equal(answered, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("Answered() seen from OnResult: %v", answered)
	}
	if !h.r.Satisfied(n) || h.r.Answered() != n {
		t.Errorf("Satisfied(%d) false after all answered", n)
	}
}

// TestRunDialTimeout: a dial that hangs is cancelled at DialTimeout on the
// injected clock, counted as a failure, and retried after the backoff.
func TestRunDialTimeout(t *testing.T) {
	entered := make(chan time.Time)
	cancelled := make(chan error, 4)
	var results []error
	clk := &fakeClock{now: t0}
	h := startRunner(t, clk, RunnerConfig{
		Seeds:       testSeeds(1),
		DialTimeout: 2 * time.Second,
		Dial: func(ctx context.Context, s Seed) error {
			entered <- clk.Now()
			<-ctx.Done()
			cancelled <- ctx.Err()
			return ctx.Err()
		},
		OnResult: func(s Seed, err error) { results = append(results, err) },
	})
	ev := <-h.idle
	if at := <-entered; !at.Equal(t0) || ev.outstanding != 1 || !ev.wake.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("first dial at %s, idle %+v; want a dial at t0 and a wake at the 2 s timeout", at, ev)
	}
	h.clk.Set(ev.wake)
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("hung dial's ctx: %v", err)
	}
	ev = h.settle(t)
	if len(results) != 1 || !errors.Is(results[0], ErrDialTimeout) {
		t.Fatalf("OnResult after timeout: %v", results)
	}
	if gap := ev.wake.Sub(t0.Add(2 * time.Second)); gap < 800*time.Millisecond || gap > 1200*time.Millisecond {
		t.Fatalf("retry %s after the timeout, want 1 s ±20%%", gap)
	}
	h.clk.Set(ev.wake)
	if at := <-entered; !at.Equal(ev.wake) {
		t.Fatalf("retry at %s, want %s", at, ev.wake)
	}
	if st := h.r.Status(nil)[0]; st.Attempts != 2 || !st.InFlight || st.Failures != 1 {
		t.Fatalf("status %+v", st)
	}
	h.stop() // cancels the second hung dial
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("dial in flight at shutdown: %v", err)
	}
	if len(results) != 1 {
		t.Fatalf("a cancelled-at-shutdown or stale dial was reported: %v", results)
	}
}

// TestRunMarkDown: a lost seed is redialed after 1 s ±20% of virtual time.
func TestRunMarkDown(t *testing.T) {
	var dials []time.Time
	clk := &fakeClock{now: t0}
	h := startRunner(t, clk, RunnerConfig{
		Seeds: testSeeds(1),
		Dial: func(ctx context.Context, s Seed) error {
			dials = append(dials, clk.Now())
			return nil
		},
	})
	if ev := h.settle(t); !ev.wake.IsZero() || !h.r.Satisfied(1) || h.r.Status(nil)[0].Up != true {
		t.Fatalf("after success: idle %+v, satisfied %v", ev, h.r.Satisfied(1))
	}
	lost := t0.Add(time.Hour)
	h.clk.Set(lost)
	if err := h.r.MarkDown(testSeeds(1)[0]); err != nil {
		t.Fatal(err)
	}
	ev := h.settle(t)
	if gap := ev.wake.Sub(lost); gap < 800*time.Millisecond || gap > 1200*time.Millisecond {
		t.Fatalf("redial %s after loss, want 1 s ±20%%", gap)
	}
	h.clk.Set(ev.wake)
	h.settle(t)
	h.stop()
	if len(dials) != 2 || !dials[1].Equal(ev.wake) || h.r.Answered() != 1 {
		t.Fatalf("dials at %v, answered %d", dials, h.r.Answered())
	}
	if err := h.r.MarkDown(testSeeds(2)[1]); err == nil {
		t.Fatal("MarkDown of an unknown seed accepted")
	}
}

func TestRunFirstNode(t *testing.T) {
	r, err := NewRunner(RunnerConfig{
		Rand:  rand.New(rand.NewPCG(1, 1)),
		Clock: &fakeClock{now: t0},
		Dial:  func(context.Context, Seed) error { t.Fatal("dialed with no seeds"); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatalf("Run with no seeds: %v", err)
	}
	if !r.FirstNode() || !r.Satisfied(2) {
		t.Fatal("no seeds: want FirstNode and Satisfied")
	}
	if _, ok := r.FirstDialAt(); ok {
		t.Fatal("FirstDialAt set with no dial")
	}
	if err := r.Run(context.Background()); err == nil {
		t.Fatal("second Run accepted")
	}
}

func TestNewRunnerErrors(t *testing.T) {
	ok := RunnerConfig{
		Seeds: testSeeds(1),
		Rand:  rand.New(rand.NewPCG(1, 1)),
		Clock: &fakeClock{now: t0},
		Dial:  func(context.Context, Seed) error { return nil },
	}
	for name, mod := range map[string]func(*RunnerConfig){
		"nil clock":        func(c *RunnerConfig) { c.Clock = nil },
		"nil dial":         func(c *RunnerConfig) { c.Dial = nil },
		"nil rand":         func(c *RunnerConfig) { c.Rand = nil },
		"negative timeout": func(c *RunnerConfig) { c.DialTimeout = -time.Second },
		"negative par":     func(c *RunnerConfig) { c.Parallel = -2 },
		"duplicate seeds":  func(c *RunnerConfig) { c.Seeds = append(testSeeds(1), testSeeds(1)...) },
	} {
		cfg := ok
		mod(&cfg)
		if _, err := NewRunner(cfg); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	r, err := NewRunner(ok)
	if err != nil {
		t.Fatal(err)
	}
	if r.cfg.DialTimeout != DefaultDialTimeout || !r.cfg.Start.Equal(t0) {
		t.Fatalf("defaults: timeout %s start %s", r.cfg.DialTimeout, r.cfg.Start)
	}
}

// TestRunSystemClock runs the real clock adapter once: one seed answers,
// then Run is cancelled and leaves no goroutine behind (TestMain checks).
func TestRunSystemClock(t *testing.T) {
	answered := make(chan error, 1)
	r, err := NewRunner(RunnerConfig{
		Seeds:    testSeeds(1),
		Rand:     rand.New(rand.NewPCG(1, 1)),
		Clock:    SystemClock(),
		Dial:     func(context.Context, Seed) error { return nil },
		OnResult: func(_ Seed, err error) { answered <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d, ok := r.FirstDialAt(); !ok || d < 0 {
		t.Fatalf("FirstDialAt = %s, %v", d, ok)
	}
	if !r.Satisfied(1) {
		t.Fatal("seed answered but not Satisfied")
	}
}
