package sim

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/svc-dht/svc-dht/wire"
)

// Dist summarises a sample: size, mean and nearest-rank percentiles.
type Dist struct {
	N                             int
	Mean, P50, P90, P95, P99, Max float64
}

// NewDist summarises xs (which it does not modify).
func NewDist(xs []float64) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	q := func(p float64) float64 { return s[max(int(math.Ceil(p*float64(len(s))))-1, 0)] }
	return Dist{N: len(s), Mean: sum / float64(len(s)), P50: q(0.50), P90: q(0.90), P95: q(0.95), P99: q(0.99), Max: s[len(s)-1]}
}

// String renders the distribution on one line.
func (d Dist) String() string {
	return fmt.Sprintf("n=%d mean=%.2f p50=%.2f p90=%.2f p95=%.2f p99=%.2f max=%.2f", d.N, d.Mean, d.P50, d.P90, d.P95, d.P99, d.Max)
}

// Report summarises finished operations.
type Report struct {
	Ops     int     // operations summarised
	Done    int     // finished
	OK      int     // finished without error
	Success float64 // OK / Ops
	// Latency (virtual milliseconds), hops, and RPCs per operation, over
	// the successful operations.
	LatencyMs Dist
	Hops      Dist
	RPCs      Dist
	// HopsHist[h] counts successful operations with h hops.
	HopsHist []int
	// Replicas per PROVIDE (successful or not).
	Replicas Dist
}

// Summarize reports on ops.
func Summarize(ops []*Op) Report {
	r := Report{Ops: len(ops)}
	var lat, hops, rpcs, reps []float64
	for _, op := range ops {
		if !op.Done {
			continue
		}
		r.Done++
		if op.Kind == wire.OpProvide && op.Result != nil {
			reps = append(reps, float64(op.Result.Replicas))
		}
		if op.Err != nil || op.Result == nil {
			continue
		}
		r.OK++
		lat = append(lat, float64(op.Latency())/float64(time.Millisecond))
		hops = append(hops, float64(op.Result.Hops))
		rpcs = append(rpcs, float64(op.Result.RPCs))
		for len(r.HopsHist) <= op.Result.Hops {
			r.HopsHist = append(r.HopsHist, 0)
		}
		r.HopsHist[op.Result.Hops]++
	}
	if r.Ops > 0 {
		r.Success = float64(r.OK) / float64(r.Ops)
	}
	r.LatencyMs, r.Hops, r.RPCs, r.Replicas = NewDist(lat), NewDist(hops), NewDist(rpcs), NewDist(reps)
	return r
}

// String renders the report over a few lines.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ops=%d done=%d ok=%d success=%.4f\n", r.Ops, r.Done, r.OK, r.Success)
	fmt.Fprintf(&b, "latency_ms %v\nhops       %v\nrpcs       %v\n", r.LatencyMs, r.Hops, r.RPCs)
	fmt.Fprintf(&b, "hops_hist  %v\n", r.HopsHist)
	if r.Replicas.N > 0 {
		fmt.Fprintf(&b, "replicas   %v\n", r.Replicas)
	}
	return b.String()
}
