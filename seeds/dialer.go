package seeds

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// DefaultParallel is the number of seeds dialed at once when none is given.
const DefaultParallel = 4

// backoffSteps are the retry delays after the 1st, 2nd, ... consecutive
// failure of one seed; the last step repeats. Each delay gets ±JitterPct.
var backoffSteps = [...]time.Duration{
	1 * time.Second,
	5 * time.Second,
	15 * time.Second,
	60 * time.Second,
	300 * time.Second,
}

// JitterPct is the jitter applied to every backoff delay, in percent: a
// delay of base d is drawn uniformly from [d-d*JitterPct/100, d+d*JitterPct/100].
const JitterPct = 20

// MinRetryDelay is the shortest time between two dials of one seed: the
// first backoff step minus its jitter. No input makes a seed be dialed more
// often than this.
const MinRetryDelay = time.Second - time.Second*JitterPct/100

// BackoffBase returns the un-jittered delay before the next dial of a seed
// that has failed failures times in a row (failures >= 1): 1 s, 5 s, 15 s,
// 60 s, then 300 s.
func BackoffBase(failures int) time.Duration {
	i := min(max(failures-1, 0), len(backoffSteps)-1)
	return backoffSteps[i]
}

// seedState is the scheduler's view of one seed.
type seedState struct {
	seed     Seed
	rank     int       // position in the randomized dial order
	nextAt   time.Time // earliest next dial (zero: due now)
	fails    int       // consecutive failures (and losses) since the last success
	attempts int       // dials started
	inflight bool
	up       bool
	answered bool     // answered at least once
	jitter   rand.PCG // per-seed stream: jitter does not depend on result order
}

// SeedStatus is a snapshot of one seed's state, for metrics
// (dht_bootstrap_seeds_up{seed}) and logs.
type SeedStatus struct {
	Seed     Seed
	Up       bool // answered and not reported lost since
	Answered bool // answered at least once
	InFlight bool // a dial is in progress
	Attempts int  // dials started so far
	Failures int  // consecutive failures since the last success (a loss counts as one)
	// NextAt is when the next dial is due; meaningful only when the seed
	// is neither Up nor InFlight (zero: due now).
	NextAt time.Time
}

// Dialer is the bootstrap dial scheduler: a pure state machine without I/O,
// goroutines or clock. The caller asks Next(now) which seeds to dial, dials
// them, and reports each outcome with Result. Seeds are dialed in an order
// randomized by the injected source, at most parallel at once; a failing
// seed is retried after BackoffBase(failures) ± JitterPct, a success resets
// its backoff, and a seed that answered is not dialed again unless reported
// lost with MarkDown. A Dialer is not safe for concurrent use.
type Dialer struct {
	seeds    []seedState // in input order
	index    map[string]int
	parallel int
	inflight int
	up       int
	answered int
	due      []int  // scratch for Next
	out      []Seed // returned by Next, reused
}

// NewDialer returns a scheduler for seeds (typically the result of Merge or
// FromConfig; duplicate addresses are an error). parallel is the number of
// dials in flight at once (0 means DefaultParallel). rng randomizes the dial
// order and seeds the per-seed jitter; it is only used here, not retained.
func NewDialer(seeds []Seed, parallel int, rng *rand.Rand) (*Dialer, error) {
	if rng == nil {
		return nil, errors.New("seeds: NewDialer: nil rand source")
	}
	if parallel < 0 {
		return nil, fmt.Errorf("seeds: NewDialer: parallel %d, want >= 0", parallel)
	}
	if parallel == 0 {
		parallel = DefaultParallel
	}
	d := &Dialer{
		seeds:    make([]seedState, len(seeds)),
		index:    make(map[string]int, len(seeds)),
		parallel: parallel,
		due:      make([]int, 0, len(seeds)),
		out:      make([]Seed, 0, min(parallel, len(seeds))),
	}
	perm := rng.Perm(len(seeds))
	for i, s := range seeds {
		if s.Addr == "" {
			return nil, fmt.Errorf("seeds: NewDialer: seed %d has no address", i+1)
		}
		if _, dup := d.index[s.Addr]; dup {
			return nil, fmt.Errorf("seeds: NewDialer: duplicate seed %s (merge the lists first)", s.Addr)
		}
		d.index[s.Addr] = i
		d.seeds[i] = seedState{seed: s, rank: perm[i]}
		d.seeds[i].jitter.Seed(rng.Uint64(), rng.Uint64())
	}
	return d, nil
}

// Len returns the number of seeds.
func (d *Dialer) Len() int { return len(d.seeds) }

// FirstNode reports whether there is no seed at all: the node is the first
// node of its network and has nobody to bootstrap from.
func (d *Dialer) FirstNode() bool { return len(d.seeds) == 0 }

// Answered returns how many distinct seeds have answered at least once.
func (d *Dialer) Answered() int { return d.answered }

// Up returns how many seeds are up now (answered and not lost since).
func (d *Dialer) Up() int { return d.up }

// InFlight returns the number of dials in progress.
func (d *Dialer) InFlight() int { return d.inflight }

// Satisfied reports whether the seed part of readiness holds for
// bootstrap.required = required: the node is the first node, or at least
// min(required, Len()) seeds have answered. (Capping at Len() keeps a node
// with fewer seeds than required from never becoming ready.)
func (d *Dialer) Satisfied(required int) bool {
	return d.FirstNode() || d.answered >= min(required, len(d.seeds))
}

// Next returns the seeds to dial now, marking them in flight, and the time
// the next not-yet-due seed becomes due (zero if none; a Result or MarkDown
// may also make more seeds dialable, so call Next again after each). Due
// seeds are taken oldest-due first, ties in the randomized order, up to the
// parallel limit. The returned slice is reused by the next call.
func (d *Dialer) Next(now time.Time) (toDial []Seed, wakeAt time.Time) {
	d.due = d.due[:0]
	for i := range d.seeds {
		st := &d.seeds[i]
		if st.inflight || st.up {
			continue
		}
		if st.nextAt.After(now) {
			if wakeAt.IsZero() || st.nextAt.Before(wakeAt) {
				wakeAt = st.nextAt
			}
			continue
		}
		d.due = append(d.due, i)
	}
	d.out = d.out[:0]
	free := d.parallel - d.inflight
	if free <= 0 || len(d.due) == 0 {
		return d.out, wakeAt
	}
	slices.SortFunc(d.due, func(a, b int) int {
		sa, sb := &d.seeds[a], &d.seeds[b]
		if c := sa.nextAt.Compare(sb.nextAt); c != 0 {
			return c
		}
		return sa.rank - sb.rank
	})
	for _, i := range d.due[:min(free, len(d.due))] {
		st := &d.seeds[i]
		st.inflight = true
		st.attempts++
		d.inflight++
		d.out = append(d.out, st.seed)
	}
	return d.out, wakeAt
}

// Result records the outcome of a dial of s started by Next. On success the
// seed is up and its backoff is reset; on failure its next dial is scheduled
// after the backoff delay from now.
func (d *Dialer) Result(s Seed, ok bool, now time.Time) error {
	i, err := d.lookup(s)
	if err != nil {
		return fmt.Errorf("seeds: Result: %w", err)
	}
	if !d.seeds[i].inflight {
		return fmt.Errorf("seeds: Result: %s has no dial in flight", s.Addr)
	}
	d.result(i, ok, now)
	return nil
}

func (d *Dialer) result(i int, ok bool, now time.Time) {
	st := &d.seeds[i]
	st.inflight = false
	d.inflight--
	if ok {
		st.fails = 0
		st.nextAt = time.Time{}
		st.up = true
		d.up++
		if !st.answered {
			st.answered = true
			d.answered++
		}
		return
	}
	d.backoff(st, now)
}

// MarkDown reports that an up seed was lost (its connection closed). It is
// dialed again after the backoff delay, which restarts at 1 s after a
// success, so a seed that accepts and then drops is still dialed at most
// about once a second. MarkDown of a seed that is not up does nothing.
func (d *Dialer) MarkDown(s Seed, now time.Time) error {
	i, err := d.lookup(s)
	if err != nil {
		return fmt.Errorf("seeds: MarkDown: %w", err)
	}
	st := &d.seeds[i]
	if !st.up {
		return nil
	}
	st.up = false
	d.up--
	d.backoff(st, now)
	return nil
}

func (d *Dialer) backoff(st *seedState, now time.Time) {
	st.fails++
	base := BackoffBase(st.fails)
	j := base * JitterPct / 100
	off := time.Duration(st.jitter.Uint64()%uint64(2*j+1)) - j
	st.nextAt = now.Add(base + off)
}

func (d *Dialer) lookup(s Seed) (int, error) {
	i, ok := d.index[s.Addr]
	if !ok {
		return 0, fmt.Errorf("unknown seed %s", s.Addr)
	}
	return i, nil
}

// Status appends a snapshot of every seed, in the order given to NewDialer,
// to dst and returns it.
func (d *Dialer) Status(dst []SeedStatus) []SeedStatus {
	for i := range d.seeds {
		st := &d.seeds[i]
		dst = append(dst, SeedStatus{
			Seed:     st.seed,
			Up:       st.up,
			Answered: st.answered,
			InFlight: st.inflight,
			Attempts: st.attempts,
			Failures: st.fails,
			NextAt:   st.nextAt,
		})
	}
	return dst
}
