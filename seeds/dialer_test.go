package seeds

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testSeeds(n int) []Seed {
	out := make([]Seed, n)
	for i := range out {
		s, err := Parse(fmt.Sprintf("quic://10.0.%d.%d:4433", i/250, 1+i%250))
		if err != nil {
			panic(err)
		}
		out[i] = s
	}
	return out
}

func newTestDialer(t testing.TB, n, parallel int, seed uint64) *Dialer {
	t.Helper()
	d, err := NewDialer(testSeeds(n), parallel, rand.New(rand.NewPCG(seed, 7)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// simulate runs d in virtual time from t0 to end, answering every dial at
// once with ok(seed, attempt number of that seed), and returns the times of
// each seed's attempts. It fails if Next is called more than maxSteps times.
func simulate(t testing.TB, d *Dialer, end time.Time, ok func(s Seed, attempt int) bool) map[string][]time.Time {
	t.Helper()
	at := map[string][]time.Time{}
	now := t0
	for steps := 0; now.Before(end); steps++ {
		if steps > 1_000_000 {
			t.Fatalf("runaway: %d scheduler steps by %s", steps, now.Sub(t0))
		}
		toDial, wake := d.Next(now)
		if len(toDial) == 0 {
			if wake.IsZero() {
				break
			}
			if !wake.After(now) {
				t.Fatalf("wakeAt %s is not after now %s", wake, now)
			}
			now = wake
			continue
		}
		for _, s := range slices.Clone(toDial) {
			at[s.Addr] = append(at[s.Addr], now)
			if err := d.Result(s, ok(s, len(at[s.Addr])), now); err != nil {
				t.Fatal(err)
			}
		}
	}
	return at
}

func addrs(ss []Seed) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Addr
	}
	return out
}

func TestDialerOrderIsRandomPermutation(t *testing.T) {
	const n = 30
	in := addrs(testSeeds(n))
	order := func(seed uint64) []string {
		d := newTestDialer(t, n, n, seed)
		got, _ := d.Next(t0)
		return addrs(got)
	}
	first := order(1)
	if len(first) != n {
		t.Fatalf("Next returned %d seeds, want all %d", len(first), n)
	}
	sorted := slices.Clone(first)
	slices.Sort(sorted)
	want := slices.Clone(in)
	slices.Sort(want)
	if !slices.Equal(sorted, want) {
		t.Fatalf("order %v is not a permutation of %v", first, in)
	}
	if slices.Equal(first, in) {
		t.Fatal("order equals the input order: not randomized")
	}
	if again := order(1); !slices.Equal(again, first) {
		t.Fatal("same rand seed gave a different order")
	}
	distinct := map[string]bool{}
	for seed := uint64(1); seed <= 20; seed++ {
		distinct[fmt.Sprint(order(seed))] = true
	}
	if len(distinct) < 20 {
		t.Fatalf("20 rand seeds gave only %d distinct orders", len(distinct))
	}
}

func TestDialerParallelLimit(t *testing.T) {
	d := newTestDialer(t, 10, 3, 1)
	first, wake := d.Next(t0)
	if len(first) != 3 || d.InFlight() != 3 || !wake.IsZero() {
		t.Fatalf("first Next: %d seeds, %d in flight, wake %v; want 3, 3, zero", len(first), d.InFlight(), wake)
	}
	first = slices.Clone(first)
	if more, _ := d.Next(t0.Add(time.Hour)); len(more) != 0 {
		t.Fatalf("Next with 3 in flight returned %d more", len(more))
	}
	if err := d.Result(first[0], false, t0); err != nil {
		t.Fatal(err)
	}
	more, wake := d.Next(t0)
	if len(more) != 1 || d.InFlight() != 3 {
		t.Fatalf("after one result: %d new seeds, %d in flight; want 1, 3", len(more), d.InFlight())
	}
	if slices.Contains(first, more[0]) {
		t.Fatalf("redialed %s at once instead of a fresh seed", more[0].Addr)
	}
	if wake.Before(t0.Add(MinRetryDelay)) {
		t.Fatalf("wake %s: failed seed due too soon", wake.Sub(t0))
	}
	// Parallel 0 means the default.
	if d := newTestDialer(t, 10, 0, 1); len(must(d.Next(t0))) != DefaultParallel {
		t.Fatalf("parallel 0 did not use DefaultParallel")
	}
}

func must(s []Seed, _ time.Time) []Seed { return s }

// TestBackoffSequence: a seed that always fails is retried after 1, 5, 15,
// 60, 300, 300, 300 s, each within ±20%, and the jitter really spreads.
func TestBackoffSequence(t *testing.T) {
	base := []time.Duration{1, 5, 15, 60, 300, 300, 300}
	for i := range base {
		base[i] *= time.Second
	}
	const n = 50
	d := newTestDialer(t, n, n, 3)
	var sum time.Duration
	for _, b := range base {
		sum += b
	}
	end := t0.Add(sum*12/10 + time.Nanosecond) // room for every delay at +20%
	at := simulate(t, d, end, func(Seed, int) bool { return false })
	lo := make([]time.Duration, len(base))
	hi := make([]time.Duration, len(base))
	for addr, times := range at {
		if len(times) < len(base)+1 {
			t.Fatalf("%s: %d attempts, want at least %d: %v", addr, len(times), len(base)+1, times)
		}
		if !times[0].Equal(t0) {
			t.Fatalf("%s: first dial at +%s, want immediately", addr, times[0].Sub(t0))
		}
		for k, b := range base {
			gap := times[k+1].Sub(times[k])
			if gap < b*8/10 || gap > b*12/10 {
				t.Errorf("%s: delay %d is %s, want %s ±20%%", addr, k+1, gap, b)
			}
			if lo[k] == 0 || gap < lo[k] {
				lo[k] = gap
			}
			hi[k] = max(hi[k], gap)
		}
	}
	for k, b := range base {
		if lo[k] > b*95/100 || hi[k] < b*105/100 {
			t.Errorf("delay %d over %d seeds spans only [%s, %s]: jitter missing around %s", k+1, n, lo[k], hi[k], b)
		}
	}
}

// TestSuccessResets: after a success the seed is up and not redialed; lost
// with MarkDown it is redialed after 1 s ±20%, then 5 s, as from scratch.
func TestSuccessResets(t *testing.T) {
	d := newTestDialer(t, 1, 1, 4)
	s := testSeeds(1)[0]
	now := t0
	for k := range 4 { // fail, fail, fail, succeed
		got, wake := d.Next(now)
		for len(got) == 0 {
			now = wake
			got, wake = d.Next(now)
		}
		if err := d.Result(s, k == 3, now); err != nil {
			t.Fatal(err)
		}
	}
	if d.Up() != 1 || d.Answered() != 1 {
		t.Fatalf("after success: up %d answered %d", d.Up(), d.Answered())
	}
	if got, wake := d.Next(now.Add(24 * time.Hour)); len(got) != 0 || !wake.IsZero() {
		t.Fatalf("up seed scheduled again: %v %v", got, wake)
	}
	down := now.Add(time.Minute)
	if err := d.MarkDown(s, down); err != nil {
		t.Fatal(err)
	}
	if d.Up() != 0 || d.Answered() != 1 {
		t.Fatalf("after MarkDown: up %d answered %d", d.Up(), d.Answered())
	}
	_, wake := d.Next(down)
	if gap := wake.Sub(down); gap < 800*time.Millisecond || gap > 1200*time.Millisecond {
		t.Fatalf("redial %s after loss, want 1 s ±20%% (backoff reset)", gap)
	}
	got, _ := d.Next(wake)
	if len(got) != 1 {
		t.Fatal("seed not redialed when due")
	}
	if err := d.Result(s, false, wake); err != nil {
		t.Fatal(err)
	}
	_, wake2 := d.Next(wake)
	if gap := wake2.Sub(wake); gap < 4*time.Second || gap > 6*time.Second {
		t.Fatalf("after loss and one failure: delay %s, want 5 s ±20%%", gap)
	}
	st := d.Status(nil)[0]
	if st.Up || !st.Answered || st.Attempts != 5 || st.Failures != 2 || !st.NextAt.Equal(wake2) {
		t.Fatalf("status %+v", st)
	}
	if err := d.MarkDown(s, wake); err != nil || d.Up() != 0 {
		t.Fatalf("MarkDown of a down seed: %v, up %d", err, d.Up())
	}
}

// TestNoTightLoopAllFail: over a virtual day with every dial failing, each
// seed is dialed about once per 300 s and never twice within MinRetryDelay.
func TestNoTightLoopAllFail(t *testing.T) {
	const n = 8
	day := 24 * time.Hour
	d := newTestDialer(t, n, 2, 5)
	at := simulate(t, d, t0.Add(day), func(Seed, int) bool { return false })
	if len(at) != n {
		t.Fatalf("%d seeds dialed, want %d", len(at), n)
	}
	// 5 attempts in the first 81 s of backoff, then one per 240-360 s.
	maxPer := 5 + int(day/(240*time.Second)) + 1
	minPer := int((day - 81*time.Second*12/10) / (360 * time.Second))
	total := 0
	for addr, times := range at {
		total += len(times)
		if len(times) > maxPer || len(times) < minPer {
			t.Errorf("%s: %d attempts in a day, want %d-%d", addr, len(times), minPer, maxPer)
		}
		for k := 1; k < len(times); k++ {
			if gap := times[k].Sub(times[k-1]); gap < MinRetryDelay {
				t.Fatalf("%s: attempts %s apart", addr, gap)
			}
		}
	}
	t.Logf("%d attempts by %d seeds in a virtual day (bound %d per seed)", total, n, maxPer)
}

func TestDialerFirstNodeAndSatisfied(t *testing.T) {
	d := newTestDialer(t, 0, 0, 1)
	if !d.FirstNode() || !d.Satisfied(3) {
		t.Fatal("no seeds: want FirstNode and Satisfied")
	}
	if got, wake := d.Next(t0); len(got) != 0 || !wake.IsZero() {
		t.Fatalf("no seeds: Next = %v, %v", got, wake)
	}
	d = newTestDialer(t, 3, 3, 1)
	if d.FirstNode() || d.Satisfied(1) {
		t.Fatal("3 seeds, none answered: want neither FirstNode nor Satisfied")
	}
	got := slices.Clone(must(d.Next(t0)))
	steps := []struct {
		ok        bool
		req2      bool
		reqCapped bool
	}{{true, false, false}, {false, false, false}, {true, true, false}}
	for i, s := range got {
		if err := d.Result(s, steps[i].ok, t0); err != nil {
			t.Fatal(err)
		}
		if d.Satisfied(2) != steps[i].req2 || d.Satisfied(5) != steps[i].reqCapped {
			t.Fatalf("after result %d: Satisfied(2)=%v Satisfied(5)=%v", i, d.Satisfied(2), d.Satisfied(5))
		}
	}
	third, _ := d.Next(t0.Add(2 * time.Second))
	if err := d.Result(third[0], true, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if !d.Satisfied(5) || d.Answered() != 3 {
		t.Fatalf("all 3 answered: Satisfied(5)=%v answered %d", d.Satisfied(5), d.Answered())
	}
}

func TestDialerErrors(t *testing.T) {
	ss := testSeeds(2)
	rng := rand.New(rand.NewPCG(1, 1))
	if _, err := NewDialer(ss, 1, nil); err == nil {
		t.Error("nil rand accepted")
	}
	if _, err := NewDialer(ss, -1, rng); err == nil {
		t.Error("negative parallel accepted")
	}
	if _, err := NewDialer([]Seed{ss[0], ss[0]}, 1, rng); err == nil {
		t.Error("duplicate seed accepted")
	}
	if _, err := NewDialer([]Seed{{}}, 1, rng); err == nil {
		t.Error("empty seed accepted")
	}
	d, err := NewDialer(ss, 1, rng)
	if err != nil {
		t.Fatal(err)
	}
	other := testSeeds(3)[2]
	if d.Result(other, true, t0) == nil || d.MarkDown(other, t0) == nil {
		t.Error("unknown seed accepted")
	}
	if d.Result(ss[0], true, t0) == nil {
		t.Error("Result without a dial in flight accepted")
	}
}

// TestDialerProperties drives a Dialer with random events and checks after
// every step: the parallel limit, no dial of an up or in-flight seed, no dial
// before it is due, a due seed is dialed whenever a slot is free, wakeAt is
// in the future, and no seed is dialed twice within MinRetryDelay.
func TestDialerProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 12).Draw(t, "n")
		par := rapid.IntRange(1, 5).Draw(t, "parallel")
		d, err := NewDialer(testSeeds(n), par, rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 0)))
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		var inflight []Seed
		last := map[string]time.Time{}
		for range rapid.IntRange(1, 120).Draw(t, "steps") {
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0: // time passes
				now = now.Add(time.Duration(rapid.Int64Range(0, int64(400*time.Second)).Draw(t, "dt")))
			case 1: // a dial finishes
				if len(inflight) > 0 {
					i := rapid.IntRange(0, len(inflight)-1).Draw(t, "which")
					if err := d.Result(inflight[i], rapid.Bool().Draw(t, "ok"), now); err != nil {
						t.Fatal(err)
					}
					inflight = slices.Delete(inflight, i, i+1)
				}
			case 2: // an up seed is lost
				st := d.Status(nil)
				if err := d.MarkDown(st[rapid.IntRange(0, n-1).Draw(t, "lost")].Seed, now); err != nil {
					t.Fatal(err)
				}
			}
			before := d.Status(nil)
			got, wake := d.Next(now)
			if !wake.IsZero() && !wake.After(now) {
				t.Fatalf("wakeAt %s not after now", wake.Sub(now))
			}
			for _, s := range got {
				st := before[slices.IndexFunc(before, func(x SeedStatus) bool { return x.Seed == s })]
				if st.Up || st.InFlight || st.NextAt.After(now) {
					t.Fatalf("dialed %s with status %+v at %s", s.Addr, st, now)
				}
				if p, ok := last[s.Addr]; ok && now.Sub(p) < MinRetryDelay {
					t.Fatalf("%s dialed %s after its previous dial", s.Addr, now.Sub(p))
				}
				last[s.Addr] = now
				inflight = append(inflight, s)
			}
			if d.InFlight() != len(inflight) || len(inflight) > par {
				t.Fatalf("in flight %d (tracked %d), parallel %d", d.InFlight(), len(inflight), par)
			}
			if len(inflight) < par {
				for _, st := range d.Status(nil) {
					if !st.Up && !st.InFlight && !st.NextAt.After(now) {
						t.Fatalf("%s due and a slot free, but not dialed", st.Seed.Addr)
					}
				}
			}
		}
	})
}
