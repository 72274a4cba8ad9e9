package perfresult

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/svc-dht/svc-dht/wire"
)

// Validate checks that r is a complete, self-consistent result: the schema
// version, tool, mode, command and machine are set, every figure is finite
// and non-negative, quantiles are ordered, ratios lie in [0, 1], operation
// and result-code names are known and per-code counts add up to the
// operation count. The error lists every problem found, each prefixed with
// its JSON path.
func (r *Result) Validate() error {
	var v validator
	if r.SchemaVersion != SchemaVersion {
		v.addf("schema_version", "%d not supported (want %d)", r.SchemaVersion, SchemaVersion)
	}
	if strings.TrimSpace(r.Tool) == "" {
		v.addf("tool", "missing")
	}
	if !r.Mode.Valid() {
		v.addf("mode", "%q: want %q, %q, %q or %q", r.Mode, ModeVirtual, ModeSwarm, ModeTarget, ModeColdStart)
	}
	if strings.TrimSpace(r.Command) == "" {
		v.addf("command", "missing: record the command line that produced the result")
	}
	m := &r.Machine
	if m.GOOS == "" {
		v.addf("machine.goos", "missing")
	}
	if m.GOARCH == "" {
		v.addf("machine.goarch", "missing")
	}
	if m.CPUs < 1 {
		v.addf("machine.cpus", "%d: want at least 1", m.CPUs)
	}
	if m.GoVersion == "" {
		v.addf("machine.go_version", "missing")
	}
	if r.StartedAt.IsZero() {
		v.addf("started_at", "missing")
	}
	if !(r.DurationS > 0) || math.IsInf(r.DurationS, 0) {
		v.addf("duration_s", "%v: want a positive number of seconds", r.DurationS)
	}
	r.Params.validate(&v)

	for _, name := range slices.Sorted(maps.Keys(r.Ops)) {
		op := r.Ops[name]
		path := "ops." + name
		if !validOp(name) {
			v.addf(path, "unknown operation (want one of %s)", strings.Join(OpNames(), ", "))
		}
		if l := op.LatencyMS; l != nil {
			v.quantiles(path+".latency_ms", []string{"p50", "p95", "p99", "max"}, []float64{l.P50, l.P95, l.P99, l.Max})
		}
		if len(op.Codes) > 0 {
			var sum uint64
			for _, code := range slices.Sorted(maps.Keys(op.Codes)) {
				n := op.Codes[code]
				if !validCode(code) {
					v.addf(path+".codes."+code, "unknown result code name")
				}
				sum += n
			}
			if sum != op.Count {
				v.addf(path+".codes", "counts add up to %d, count is %d", sum, op.Count)
			}
		}
	}
	if h := r.Hops; h != nil {
		v.quantiles("hops", []string{"p50", "p95", "p99"}, []float64{float64(h.P50), float64(h.P95), float64(h.P99)})
		for _, hops := range slices.Sorted(maps.Keys(h.Histogram)) {
			if hops < 0 {
				v.addf("hops.histogram."+strconv.Itoa(hops), "negative hop count")
			}
		}
	}
	v.figure("achieved_rps", r.AchievedRPS)
	if e := r.ErrorBudget; e != nil {
		v.ratio("error_budget.http_5xx_ratio", e.HTTP5xxRatio)
		v.ratio("error_budget.r429_503_ratio", e.R429503Ratio)
		v.ratio("error_budget.queue_drop_ratio", e.QueueDropRatio)
		v.figure("error_budget.tls_failures_per_min", &e.TLSFailuresPerMin)
	}
	if c := r.CPU; c != nil {
		v.figure("cpu.avg_pct", &c.AvgPct)
		v.figure("cpu.us_per_rpc", &c.USPerRPC)
	}
	v.figure("allocs_per_rpc", r.AllocsPerRPC)
	v.figure("peak_rss_mib", r.PeakRSSMiB)
	v.figure("rss_per_peer_mib", r.RSSPerPeerMiB)
	if rd := r.ReadyS; rd != nil {
		v.quantiles("ready_s", []string{"p50", "p95"}, []float64{rd.P50, rd.P95})
	}
	v.figure("rpcs_per_lookup", r.RPCsPerLookup)
	v.figure("replicas_per_provide", r.ReplicasPerProvide)
	if c := r.ColdStartMS; c != nil {
		if c.Starts < 1 {
			v.addf("cold_start_ms.starts", "%d: want at least 1", c.Starts)
		}
		v.quantiles("cold_start_ms", []string{"min", "p50", "p95", "max"}, []float64{c.Min, c.P50, c.P95, c.Max})
	}
	return v.err()
}

func (p *Params) validate(v *validator) {
	for _, f := range [...]struct {
		name string
		n    int
	}{{"peers", p.Peers}, {"rps", p.RPS}, {"alpha", p.Alpha}, {"beta", p.Beta}, {"k", p.K}} {
		if f.n < 0 {
			v.addf("params."+f.name, "%d: must not be negative", f.n)
		}
	}
	if p.Mix != "" {
		if err := checkMix(p.Mix); err != nil {
			v.addf("params.mix", "%q: %v", p.Mix, err)
		}
	}
}

// checkMix checks a FIND_VALUE/FIND_NODE/PROVIDE percentage mix such as
// "60/35/5".
func checkMix(mix string) error {
	parts := strings.Split(mix, "/")
	if len(parts) != 3 {
		return errors.New("want three percentages FIND_VALUE/FIND_NODE/PROVIDE, e.g. 60/35/5")
	}
	sum := 0
	for _, s := range parts {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a whole percentage", s)
		}
		sum += n
	}
	if sum != 100 {
		return fmt.Errorf("percentages add up to %d, want 100", sum)
	}
	return nil
}

func validOp(name string) bool {
	switch name {
	case OpPing, OpFindNode, OpFindValue, OpProvide, OpStore:
		return true
	}
	return false
}

// validCode reports whether name is a result-code name: a wire code's
// metric label, a local error kind, or "other".
func validCode(name string) bool {
	switch name {
	case wire.KindHopExceeded, wire.KindNoBootstrap, wire.KindTransportDown, "other":
		return true
	}
	codes := [...]wire.Code{
		wire.CodeOK, wire.CodeBadVersion, wire.CodeNotFound, wire.CodeFrameTooLarge,
		wire.CodeMalformed, wire.CodeQuotaExceeded, wire.CodeBadSignature,
		wire.CodeStaleRecord, wire.CodeNotReady, wire.CodeBusy, wire.CodeTimeout,
	}
	for _, c := range codes {
		if c.String() == name {
			return true
		}
	}
	return false
}

// validator collects the problems Validate finds.
type validator struct {
	errs []error
}

func (v *validator) addf(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
}

// figure checks an optional measured figure: finite and non-negative.
func (v *validator) figure(path string, x *float64) {
	if x != nil && !(*x >= 0 && !math.IsInf(*x, 1)) {
		v.addf(path, "%v: want a finite, non-negative number", *x)
	}
}

// ratio checks a fraction in [0, 1].
func (v *validator) ratio(path string, x float64) {
	if !(x >= 0 && x <= 1) {
		v.addf(path, "%v: want a ratio from 0 to 1", x)
	}
}

// quantiles checks finite, non-negative, non-decreasing quantiles.
func (v *validator) quantiles(path string, names []string, xs []float64) {
	for i, x := range xs {
		if !(x >= 0 && !math.IsInf(x, 1)) {
			v.addf(path+"."+names[i], "%v: want a finite, non-negative number", x)
		} else if i > 0 && x < xs[i-1] {
			v.addf(path+"."+names[i], "%v is below %s %v", x, names[i-1], xs[i-1])
		}
	}
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return fmt.Errorf("perfresult: invalid result: %w", errors.Join(v.errs...))
}
