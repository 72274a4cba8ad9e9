package result

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"time"
)

// Modes of a run, matching svc-dht-perf: "target" is a load generator against
// one running server, "swarm" an in-process network of nodes.
const (
	ModeTarget = "target"
	ModeSwarm  = "swarm"
)

// Latency is a latency summary in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Result is one run's figures. Fields that do not apply to a mode are left
// zero and omitted from the JSON.
type Result struct {
	Impl          string  `json:"impl"`
	ImplVersion   string  `json:"impl_version,omitempty"`
	Mode          string  `json:"mode"`
	RPS           float64 `json:"rps,omitempty"`
	CPUUsPerRPC   float64 `json:"cpu_us_per_rpc,omitempty"`
	AllocsPerRPC  float64 `json:"allocs_per_rpc,omitempty"`
	Latency       Latency `json:"latency_ms"`
	Nodes         int     `json:"nodes,omitempty"`
	RSSMiBPerNode float64 `json:"rss_mib_per_node,omitempty"`
	ReadySeconds  float64 `json:"ready_seconds,omitempty"`
	SettleSeconds float64 `json:"settle_seconds,omitempty"`
	SettleCPUPct  float64 `json:"settle_cpu_pct,omitempty"` // swarm CPU (% of one core) in the last settle sample
	RPCsPerLookup float64 `json:"rpcs_per_lookup,omitempty"`

	// Extra context, not part of the shared schema.
	HeapMiBPerNode float64  `json:"heap_mib_per_node,omitempty"`
	PeakRSSMiB     float64  `json:"peak_rss_mib,omitempty"`
	CPUAvgPct      float64  `json:"cpu_avg_pct,omitempty"`
	RPCs           int64    `json:"rpcs,omitempty"`
	Errors         int64    `json:"errors"`
	WindowSeconds  float64  `json:"window_s,omitempty"`
	Inflight       int      `json:"inflight,omitempty"`
	StreamPerRPC   bool     `json:"stream_per_rpc,omitempty"`
	AnswerNodes    float64  `json:"answer_nodes,omitempty"`
	ServerRTSize   int      `json:"server_rt_size,omitempty"`
	Lookups        int      `json:"lookups,omitempty"`
	MeanRTSize     float64  `json:"mean_rt_size,omitempty"`
	LookupExactPct *float64 `json:"lookup_exact_pct,omitempty"` // share of lookups that found the truly closest node
	BootstrapFails int      `json:"bootstrap_failures,omitempty"`
	LoadAvg        string   `json:"loadavg,omitempty"`
	Command        string   `json:"command,omitempty"`
}

// Summarize sorts d in place and returns its nearest-rank percentiles in
// milliseconds. An empty slice gives a zero summary.
func Summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	return Latency{
		P50: ms(Percentile(d, 0.50)),
		P95: ms(Percentile(d, 0.95)),
		P99: ms(Percentile(d, 0.99)),
		Max: ms(d[len(d)-1]),
	}
}

// Percentile returns the nearest-rank p-quantile (0 < p <= 1) of sorted.
// It returns 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(n))) - 1
	i = max(0, min(i, n-1))
	return sorted[i]
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// Write encodes r as indented JSON to w.
func (r *Result) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	return nil
}

// WriteFile writes r as JSON to path; "-" means standard output.
func (r *Result) WriteFile(path string) error {
	if path == "-" {
		return r.Write(os.Stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create result file: %w", err)
	}
	if err := r.Write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close result file: %w", err)
	}
	return nil
}

// Human prints a short readable summary of r to w.
func (r *Result) Human(w io.Writer) {
	switch r.Mode {
	case ModeTarget:
		fmt.Fprintf(w, "%s target: %.0f RPC/s over %.1fs (%d RPCs, %d errors, %d in flight), server %.1f µs CPU/RPC (%.0f%% of a core), %.1f allocs/RPC, %.1f nodes per answer (server table %d)\n",
			r.Impl, r.RPS, r.WindowSeconds, r.RPCs, r.Errors, r.Inflight, r.CPUUsPerRPC, r.CPUAvgPct, r.AllocsPerRPC, r.AnswerNodes, r.ServerRTSize)
	case ModeSwarm:
		fmt.Fprintf(w, "%s swarm: %d nodes ready in %.2fs (then settle %.1fs, ending at %.0f%% of a core; mean table %.1f), %d lookups (%d errors, %.1f%% found the closest node), %.1f RPCs/lookup, %.2f MiB RSS/node (peak %.0f MiB), %.2f MiB heap/node\n",
			r.Impl, r.Nodes, r.ReadySeconds, r.SettleSeconds, r.SettleCPUPct, r.MeanRTSize, r.Lookups, r.Errors, deref(r.LookupExactPct), r.RPCsPerLookup, r.RSSMiBPerNode, r.PeakRSSMiB, r.HeapMiBPerNode)
	}
	fmt.Fprintf(w, "  latency ms: p50 %.3f  p95 %.3f  p99 %.3f  max %.3f   (loadavg %s)\n",
		r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.LoadAvg)
}

// ModuleVersion returns the version of the module at path that this binary
// was built with, or "unknown".
func ModuleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
