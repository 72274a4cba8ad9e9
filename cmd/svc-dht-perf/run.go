package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// run runs the harness with args (without the program name) and returns
// the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "svc-dht-perf: %v\n", err)
		return exitUsage
	}
	if o.cpuProf != "" {
		f, err := os.Create(o.cpuProf)
		if err != nil {
			fmt.Fprintf(stderr, "svc-dht-perf: --cpuprofile: %v\n", err)
			return exitFailure
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			fmt.Fprintf(stderr, "svc-dht-perf: --cpuprofile: %v\n", err)
			return exitFailure
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	res := newResult(o, args)
	switch {
	case o.coldStart > 0:
		err = runColdStart(ctx, o, res, stderr)
	case o.virtual:
		err = runVirtual(ctx, o, res, stderr)
	case o.target != "":
		err = runTarget(ctx, o, res, stderr)
	default:
		err = runSwarm(ctx, o, res, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "svc-dht-perf: %v\n", err)
		return exitFailure
	}
	if o.memProf != "" {
		if err := writeHeapProfile(o.memProf); err != nil {
			fmt.Fprintf(stderr, "svc-dht-perf: --memprofile: %v\n", err)
			return exitFailure
		}
	}
	if err := res.Validate(); err != nil {
		fmt.Fprintf(stderr, "svc-dht-perf: %v\n", err)
		return exitFailure
	}
	summary(stdout, res)
	if o.jsonPath != "" {
		if err := res.Save(o.jsonPath); err != nil {
			fmt.Fprintf(stderr, "svc-dht-perf: %v\n", err)
			return exitFailure
		}
	}
	return exitOK
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// newResult fills what every mode records: tool, build, command, machine,
// parameters.
func newResult(o *options, args []string) *perfresult.Result {
	res := &perfresult.Result{
		SchemaVersion: perfresult.SchemaVersion,
		Tool:          "svc-dht-perf",
		Command:       strings.Join(append([]string{"svc-dht-perf"}, quoteArgs(args)...), " "),
		Machine:       perfresult.LocalMachine(),
		StartedAt:     time.Now().UTC().Truncate(time.Second),
		Params: perfresult.Params{
			Peers: o.peers, RPS: o.rps, Alpha: o.alpha, Beta: o.beta, K: o.k,
			Mix: fmt.Sprintf("%d/%d/%d", o.mix[0], o.mix[1], o.mix[2]), Seed: o.seed,
		},
	}
	res.Version, res.Git = buildInfo()
	switch {
	case o.target != "":
		res.Mode = perfresult.ModeTarget
		res.Params.Peers = 0
	case o.virtual:
		res.Mode = perfresult.ModeVirtual
		res.Params.Churn = o.churnTxt
	default:
		res.Mode = perfresult.ModeSwarm
		res.Params.Profile = o.profile
	}
	if o.target == "" {
		res.Params.RTT, res.Params.Jitter, res.Params.Loss = o.rttText, o.jitter.String(), o.lossText
	}
	return res
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// buildInfo returns the module version and VCS revision of this binary.
func buildInfo() (version, git string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", ""
	}
	version = bi.Main.Version
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			git = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if git != "" && dirty {
		git += "+dirty"
	}
	return version, git
}

// summary prints the result's key figures.
func summary(w io.Writer, r *perfresult.Result) {
	fmt.Fprintf(w, "svc-dht-perf %s: %s\n", r.Mode, r.Command)
	fmt.Fprintf(w, "  duration %.1fs", r.DurationS)
	if r.AchievedRPS != nil {
		fmt.Fprintf(w, "  achieved %.0f/s", *r.AchievedRPS)
	}
	fmt.Fprintln(w)
	for _, name := range perfresult.OpNames() {
		op, ok := r.Ops[name]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "  %-10s n=%d", name, op.Count)
		if l := op.LatencyMS; l != nil {
			fmt.Fprintf(w, "  p50 %.2fms p95 %.2fms p99 %.2fms max %.2fms", l.P50, l.P95, l.P99, l.Max)
		}
		fmt.Fprintf(w, "  codes %v\n", op.Codes)
	}
	if h := r.Hops; h != nil {
		fmt.Fprintf(w, "  hops p50 %d p95 %d p99 %d  histogram %v\n", h.P50, h.P95, h.P99, h.Histogram)
	}
	pf := func(name string, v *float64, unit string) {
		if v != nil {
			fmt.Fprintf(w, "  %s %.2f%s\n", name, *v, unit)
		}
	}
	pf("rpcs/lookup", r.RPCsPerLookup, "")
	pf("replicas/provide", r.ReplicasPerProvide, "")
	if c := r.CPU; c != nil {
		fmt.Fprintf(w, "  cpu avg %.1f%% of one core, %.1f µs/rpc\n", c.AvgPct, c.USPerRPC)
	}
	pf("allocs/rpc", r.AllocsPerRPC, "")
	pf("peak rss", r.PeakRSSMiB, " MiB")
	pf("rss/peer", r.RSSPerPeerMiB, " MiB")
	if rd := r.ReadyS; rd != nil {
		fmt.Fprintf(w, "  time to ready p50 %.2fs p95 %.2fs\n", rd.P50, rd.P95)
	}
	if c := r.ColdStartMS; c != nil {
		fmt.Fprintf(w, "  cold start (exec → first seed dial) over %d starts: min %.2fms p50 %.2fms p95 %.2fms max %.2fms\n", c.Starts, c.Min, c.P50, c.P95, c.Max)
	}
	if e := r.ErrorBudget; e != nil {
		fmt.Fprintf(w, "  error budget: 429|503 %.5f  queue drops %.5f\n", e.R429503Ratio, e.QueueDropRatio)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// mib converts bytes to MiB.
func mib(b int64) float64 { return float64(b) / (1 << 20) }
