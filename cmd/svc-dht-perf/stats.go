package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
	"github.com/svc-dht/svc-dht/wire"
)

// hist is a concurrent latency histogram over microseconds: exact below
// 64 µs, then 32 log-linear buckets per power of two (≤ 3.2% relative
// error; a quantile reports its bucket's midpoint). Record does not
// allocate or lock.
type hist struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Uint64 // µs
}

const (
	histSub     = 32
	histBuckets = 64 * histSub
)

func histIndex(us uint64) int {
	if us < 2*histSub {
		return int(us)
	}
	shift := bits.Len64(us) - 1 - 5 // keep 6 significant bits: mantissa in [32, 63]
	return min((shift+1)*histSub+int(us>>shift)-histSub, histBuckets-1)
}

// histValue is the midpoint of bucket i in µs.
func histValue(i int) float64 {
	if i < 2*histSub {
		return float64(i)
	}
	shift := i/histSub - 1
	mant := uint64(i%histSub + histSub)
	lo := mant << shift
	return float64(lo) + float64(uint64(1)<<shift)/2
}

func (h *hist) record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[histIndex(us)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// quantile returns the nearest-rank p-quantile in milliseconds (0 when
// empty), never above the exact maximum.
func (h *hist) quantile(p float64) float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := max(uint64(p*float64(n)+0.999999), 1)
	var seen uint64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= rank {
			return min(histValue(i), float64(h.max.Load())) / 1e3
		}
	}
	return float64(h.max.Load()) / 1e3
}

func (h *hist) latency() *perfresult.Latency {
	if h.n.Load() == 0 {
		return nil
	}
	return &perfresult.Latency{P50: h.quantile(0.50), P95: h.quantile(0.95), P99: h.quantile(0.99), Max: float64(h.max.Load()) / 1e3}
}

// opStats collects one operation kind's latencies and result codes.
type opStats struct {
	lat   hist
	mu    sync.Mutex
	codes map[string]uint64
}

// recorder collects the outcome of every operation of a run.
type recorder struct {
	ops      [numKinds]opStats
	all      hist
	done     atomic.Uint64
	skipped  atomic.Uint64 // generator ticks with every worker busy
	hops     [64]atomic.Uint64
	replicas atomic.Uint64
	provides atomic.Uint64 // PROVIDEs that reported replicas

	lookupRPCs atomic.Uint64 // RPCs sent by the successful FIND_VALUE/FIND_NODE lookups themselves
	lookups    atomic.Uint64 // those lookups
}

// lookedUp counts the RPCs one successful FIND_VALUE or FIND_NODE sent.
func (r *recorder) lookedUp(rpcs int) {
	r.lookupRPCs.Add(uint64(rpcs))
	r.lookups.Add(1)
}

func newRecorder() *recorder {
	r := &recorder{}
	for i := range r.ops {
		r.ops[i].codes = make(map[string]uint64)
	}
	return r
}

// record notes one finished operation: its latency, result code name and,
// when it succeeded, its hops (hops < 0: none reported).
func (r *recorder) record(kind int, lat time.Duration, code string, hops int) {
	o := &r.ops[kind]
	o.lat.record(lat)
	r.all.record(lat)
	o.mu.Lock()
	o.codes[code]++
	o.mu.Unlock()
	if hops >= 0 {
		r.hops[min(hops, len(r.hops)-1)].Add(1)
	}
	r.done.Add(1)
}

func (r *recorder) replicated(n int) {
	r.replicas.Add(uint64(n))
	r.provides.Add(1)
}

// codeCount returns how many operations ended with one of codes.
func (r *recorder) codeCount(codes ...string) (n, total uint64) {
	for i := range r.ops {
		o := &r.ops[i]
		o.mu.Lock()
		for c, k := range o.codes {
			total += k
			if slices.Contains(codes, c) {
				n += k
			}
		}
		o.mu.Unlock()
	}
	return n, total
}

// fill puts the recorder's figures into res: per-op stats, hops, replicas.
func (r *recorder) fill(res *perfresult.Result) {
	res.Ops = make(map[string]perfresult.OpStats)
	for i := range r.ops {
		o := &r.ops[i]
		o.mu.Lock()
		codes := maps.Clone(o.codes)
		o.mu.Unlock()
		var n uint64
		for _, c := range codes {
			n += c
		}
		if n == 0 {
			continue
		}
		res.Ops[kindName[i]] = perfresult.OpStats{Count: n, LatencyMS: o.lat.latency(), Codes: codes}
	}
	var hist [64]uint64
	var total uint64
	for i := range r.hops {
		hist[i] = r.hops[i].Load()
		total += hist[i]
	}
	if total > 0 {
		h := &perfresult.Hops{Histogram: make(map[int]uint64)}
		for i, c := range hist {
			if c > 0 {
				h.Histogram[i] = c
			}
		}
		h.P50, h.P95, h.P99 = hopQuantile(hist[:], total, 0.50), hopQuantile(hist[:], total, 0.95), hopQuantile(hist[:], total, 0.99)
		res.Hops = h
	}
	if p := r.provides.Load(); p > 0 {
		res.ReplicasPerProvide = perfresult.Ptr(float64(r.replicas.Load()) / float64(p))
	}
}

func hopQuantile(hist []uint64, total uint64, p float64) int {
	rank := max(uint64(p*float64(total)+0.999999), 1)
	var seen uint64
	for i, c := range hist {
		if seen += c; seen >= rank {
			return i
		}
	}
	return len(hist) - 1
}

// codeName is the result-schema name of an operation's error: the wire
// code's name, a local error kind, or "other".
func codeName(err error) string {
	if err == nil {
		return wire.CodeOK.String()
	}
	if c := wire.CodeOf(err); c.Valid() {
		return c.String()
	}
	var we *wire.Error
	if errors.As(err, &we) && we.Kind != "" {
		switch we.Kind {
		case wire.KindHopExceeded, wire.KindNoBootstrap, wire.KindTransportDown:
			return we.Kind
		}
	}
	return "other"
}

// progress prints a line to w every second until stop is closed: elapsed
// time, operations done, achieved rate and latency quantiles so far.
func progress(w io.Writer, r *recorder, start time.Time, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			el := now.Sub(start).Seconds()
			done := r.done.Load()
			fmt.Fprintf(w, "svc-dht-perf: %5.1fs  ops %d  %.0f/s  p50 %.2fms  p99 %.2fms  skipped %d\n",
				el, done, float64(done)/el, r.all.quantile(0.5), r.all.quantile(0.99), r.skipped.Load())
		}
	}
}
