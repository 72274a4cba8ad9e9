package main

import (
	"math"
	"strconv"
	"time"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
)

// limits are the regression gates (PERFORMANCE.md §5).
type limits struct {
	p95Pct          float64       // max rise of an operation's p95 latency, percent
	rpsPct          float64       // max drop of the achieved throughput, percent
	cpuPct          float64       // max rise of CPU avg and CPU per RPC, percent
	allocPct        float64       // max rise of allocations per RPC, percent
	maxHopP99       int           // max hop p99 of the actual run
	maxBootstrapP95 time.Duration // max time-to-ready p95 of the actual run
}

func defaultLimits() limits {
	return limits{p95Pct: 10, rpsPct: 10, cpuPct: 15, allocPct: 15, maxHopP99: 5, maxBootstrapP95: 300 * time.Second}
}

// gateKind says how a row is checked.
type gateKind uint8

const (
	gateNone gateKind = iota // informational
	gateRise                 // fails when actual rises more than limit percent over baseline
	gateDrop                 // fails when actual drops more than limit percent below baseline
	gateMax                  // fails when actual exceeds limit (absolute; baseline not needed)
)

// verdict is a row's outcome.
type verdict uint8

const (
	verdictInfo     verdict = iota // not a gate
	verdictOK                      // gate passed
	verdictFail                    // gate failed: a regression
	verdictNotGated                // gate skipped: the metric is missing
)

// pctEpsilon absorbs floating-point noise in a percentage change, so that a
// change of exactly the limit passes.
const pctEpsilon = 1e-9

// row is one line of the comparison.
type row struct {
	metric    string
	prec      int      // decimals shown
	base, act *float64 // nil: missing
	gate      gateKind
	limit     float64 // percent for gateRise/gateDrop, absolute for gateMax
	limitText string  // the limit as shown, "-" when there is none
	verdict   verdict
}

// report is the outcome of a comparison.
type report struct {
	rows        []row
	warnings    []string
	regressions int
	notGated    int
}

// changePct returns the change from base to act in percent; +Inf when base
// is 0 and act is not.
func changePct(base, act float64) float64 {
	if base == 0 {
		if act == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return (act - base) / base * 100
}

// evaluate sets r.verdict.
func (r *row) evaluate() {
	switch {
	case r.gate == gateNone:
		r.verdict = verdictInfo
	case r.act == nil, r.gate != gateMax && r.base == nil:
		r.verdict = verdictNotGated
	case r.gate == gateMax:
		r.verdict = okIf(*r.act <= r.limit)
	case r.gate == gateRise:
		r.verdict = okIf(changePct(*r.base, *r.act) <= r.limit+pctEpsilon)
	default: // gateDrop
		r.verdict = okIf(changePct(*r.base, *r.act) >= -(r.limit + pctEpsilon))
	}
}

func okIf(ok bool) verdict {
	if ok {
		return verdictOK
	}
	return verdictFail
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// compare checks act against base under lim. The gated rows come first and
// are always shown (as n/a when a file lacks the metric); informational rows
// follow for the metrics present in either file.
func compare(base, act *perfresult.Result, lim limits) report {
	var rep report
	p95 := func(l *perfresult.Latency) float64 { return l.P95 }
	p99 := func(l *perfresult.Latency) float64 { return l.P99 }

	// Latency: the p95 of every operation present is gated, its p99 shown.
	var info []row
	for _, op := range perfresult.OpNames() {
		b, a := opLatency(base, op), opLatency(act, op)
		if b == nil && a == nil {
			continue
		}
		rep.rows = append(rep.rows, relative(op+" p95 (ms)", 2, field(b, p95), field(a, p95), gateRise, lim.p95Pct))
		info = append(info, row{metric: op + " p99 (ms)", prec: 2, base: field(b, p99), act: field(a, p99)})
	}
	// Cold start (exec → first seed dial): its p95 is gated like a
	// latency, its p50 shown.
	if base.ColdStartMS != nil || act.ColdStartMS != nil {
		coldP95 := func(c *perfresult.ColdStart) float64 { return c.P95 }
		coldP50 := func(c *perfresult.ColdStart) float64 { return c.P50 }
		rep.rows = append(rep.rows, relative("cold start p95 (ms)", 2, field(base.ColdStartMS, coldP95), field(act.ColdStartMS, coldP95), gateRise, lim.p95Pct))
		info = append(info, row{metric: "cold start p50 (ms)", prec: 2, base: field(base.ColdStartMS, coldP50), act: field(act.ColdStartMS, coldP50)})
	} else if len(info) == 0 {
		rep.rows = append(rep.rows, relative("lookup p95 (ms)", 2, nil, nil, gateRise, lim.p95Pct))
	}

	cpuAvg := func(c *perfresult.CPU) float64 { return c.AvgPct }
	cpuUS := func(c *perfresult.CPU) float64 { return c.USPerRPC }
	hopP99 := func(h *perfresult.Hops) float64 { return float64(h.P99) }
	readyP95 := func(r *perfresult.Ready) float64 { return r.P95 }
	rep.rows = append(rep.rows,
		relative("throughput (RPC/s)", 1, base.AchievedRPS, act.AchievedRPS, gateDrop, lim.rpsPct),
		relative("CPU avg (% of a core)", 1, field(base.CPU, cpuAvg), field(act.CPU, cpuAvg), gateRise, lim.cpuPct),
		relative("CPU per RPC (us)", 2, field(base.CPU, cpuUS), field(act.CPU, cpuUS), gateRise, lim.cpuPct),
		relative("allocs per RPC", 1, base.AllocsPerRPC, act.AllocsPerRPC, gateRise, lim.allocPct),
		row{metric: "hop p99", base: field(base.Hops, hopP99), act: field(act.Hops, hopP99),
			gate: gateMax, limit: float64(lim.maxHopP99), limitText: "<= " + strconv.Itoa(lim.maxHopP99)},
		row{metric: "bootstrap p95 (s)", prec: 1, base: field(base.ReadyS, readyP95), act: field(act.ReadyS, readyP95),
			gate: gateMax, limit: lim.maxBootstrapP95.Seconds(), limitText: "<= " + fmtNum(lim.maxBootstrapP95.Seconds()) + "s"},
	)

	hopP50 := func(h *perfresult.Hops) float64 { return float64(h.P50) }
	hopP95 := func(h *perfresult.Hops) float64 { return float64(h.P95) }
	readyP50 := func(r *perfresult.Ready) float64 { return r.P50 }
	info = append(info,
		row{metric: "hop p50", base: field(base.Hops, hopP50), act: field(act.Hops, hopP50)},
		row{metric: "hop p95", base: field(base.Hops, hopP95), act: field(act.Hops, hopP95)},
		row{metric: "ready p50 (s)", prec: 1, base: field(base.ReadyS, readyP50), act: field(act.ReadyS, readyP50)},
		row{metric: "RPCs per lookup", prec: 1, base: base.RPCsPerLookup, act: act.RPCsPerLookup},
		row{metric: "replicas per PROVIDE", prec: 1, base: base.ReplicasPerProvide, act: act.ReplicasPerProvide},
		row{metric: "peak RSS (MiB)", prec: 1, base: base.PeakRSSMiB, act: act.PeakRSSMiB},
		row{metric: "RSS per peer (MiB)", prec: 2, base: base.RSSPerPeerMiB, act: act.RSSPerPeerMiB},
	)
	for _, e := range [...]struct {
		metric string
		get    func(*perfresult.ErrorBudget) float64
	}{
		{"HTTP 5xx (%)", func(e *perfresult.ErrorBudget) float64 { return 100 * e.HTTP5xxRatio }},
		{"429/503 (%)", func(e *perfresult.ErrorBudget) float64 { return 100 * e.R429503Ratio }},
		{"queue drops (%)", func(e *perfresult.ErrorBudget) float64 { return 100 * e.QueueDropRatio }},
		{"TLS failures (/min)", func(e *perfresult.ErrorBudget) float64 { return e.TLSFailuresPerMin }},
	} {
		info = append(info, row{metric: e.metric, prec: 3, base: field(base.ErrorBudget, e.get), act: field(act.ErrorBudget, e.get)})
	}
	for _, r := range info {
		if r.base != nil || r.act != nil {
			r.limitText = "-"
			rep.rows = append(rep.rows, r)
		}
	}

	for i := range rep.rows {
		r := &rep.rows[i]
		r.evaluate()
		switch r.verdict {
		case verdictFail:
			rep.regressions++
		case verdictNotGated:
			rep.notGated++
		}
	}
	rep.warnings = differences(base, act)
	return rep
}

// relative returns a row gated by a percentage change (gateRise or gateDrop).
func relative(metric string, prec int, base, act *float64, kind gateKind, pct float64) row {
	sign := "+"
	if kind == gateDrop {
		sign = "-"
	}
	return row{metric: metric, prec: prec, base: base, act: act, gate: kind, limit: pct, limitText: sign + fmtNum(pct) + "%"}
}

// field returns get(s) or nil when the section s is missing.
func field[S any](s *S, get func(*S) float64) *float64 {
	if s == nil {
		return nil
	}
	return perfresult.Ptr(get(s))
}

func opLatency(r *perfresult.Result, op string) *perfresult.Latency {
	if s, ok := r.Ops[op]; ok {
		return s.LatencyMS
	}
	return nil
}

// differences lists the workload parameters and machine properties that
// differ between the two runs: the comparison is then of unlike runs. The
// random seed is not one of them: runs with other seeds are alike.
func differences(base, act *perfresult.Result) []string {
	b, a := base.Params, act.Params
	bm, am := base.Machine, act.Machine
	var out []string
	for _, d := range [...]struct{ what, b, a string }{
		{"params.peers", strconv.Itoa(b.Peers), strconv.Itoa(a.Peers)},
		{"params.rps", strconv.Itoa(b.RPS), strconv.Itoa(a.RPS)},
		{"params.alpha", strconv.Itoa(b.Alpha), strconv.Itoa(a.Alpha)},
		{"params.beta", strconv.Itoa(b.Beta), strconv.Itoa(a.Beta)},
		{"params.k", strconv.Itoa(b.K), strconv.Itoa(a.K)},
		{"params.mix", b.Mix, a.Mix},
		{"params.churn", b.Churn, a.Churn},
		{"params.rtt", b.RTT, a.RTT},
		{"params.jitter", b.Jitter, a.Jitter},
		{"params.loss", b.Loss, a.Loss},
		{"params.profile", b.Profile, a.Profile},
		{"machine.goos", bm.GOOS, am.GOOS},
		{"machine.goarch", bm.GOARCH, am.GOARCH},
		{"machine.cpus", strconv.Itoa(bm.CPUs), strconv.Itoa(am.CPUs)},
		{"machine.cpu_model", bm.CPUModel, am.CPUModel},
		{"machine.go_version", bm.GoVersion, am.GoVersion},
	} {
		if d.b != d.a {
			out = append(out, d.what+" differs: baseline "+quoteEmpty(d.b)+", actual "+quoteEmpty(d.a))
		}
	}
	return out
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}
