package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
)

// Exit statuses.
const (
	exitPass       = 0 // no regression
	exitRegression = 1 // at least one gate failed
	exitUsage      = 2 // bad command line or unusable input
)

const usageText = `usage: perf-compare --baseline FILE --actual FILE [flags]

Compares a svc-dht-perf JSON result (--actual) against a baseline and exits 1
when a regression gate fails (PERFORMANCE.md §5), 2 on bad usage or input.

flags:
`

// run runs perf-compare with args (without the program name) and returns
// the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("perf-compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	lim := defaultLimits()
	basePath := fs.String("baseline", "", "baseline result `FILE`")
	actPath := fs.String("actual", "", "result `FILE` to check")
	fs.Float64Var(&lim.p95Pct, "fail-p95", lim.p95Pct, "fail when an operation's p95 latency rises more than this `percent`")
	fs.Float64Var(&lim.rpsPct, "fail-rps", lim.rpsPct, "fail when the achieved throughput drops more than this `percent`")
	fs.Float64Var(&lim.cpuPct, "fail-cpu", lim.cpuPct, "fail when CPU avg or CPU per RPC rises more than this `percent`")
	fs.Float64Var(&lim.allocPct, "fail-alloc", lim.allocPct, "fail when allocations per RPC rise more than this `percent`")
	fs.IntVar(&lim.maxHopP99, "max-hop-p99", lim.maxHopP99, "fail when the actual hop p99 exceeds this `count`")
	fs.DurationVar(&lim.maxBootstrapP95, "max-bootstrap-p95", lim.maxBootstrapP95, "fail when the actual time-to-ready p95 exceeds this `duration`")
	asJSON := fs.Bool("json", false, "print the comparison as JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitPass
		}
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "perf-compare: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run 'perf-compare --help' for usage")
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *basePath == "" || *actPath == "" {
		return usageErr("both --baseline and --actual are required")
	}
	if err := lim.check(); err != nil {
		return usageErr("%v", err)
	}

	base, err := perfresult.Load(*basePath)
	if err != nil {
		fmt.Fprintf(stderr, "perf-compare: baseline: %v\n", err)
		return exitUsage
	}
	act, err := perfresult.Load(*actPath)
	if err != nil {
		fmt.Fprintf(stderr, "perf-compare: actual: %v\n", err)
		return exitUsage
	}
	if base.Mode != act.Mode {
		fmt.Fprintf(stderr, "perf-compare: baseline is a %s run, actual a %s run: results of different modes cannot be compared\n", base.Mode, act.Mode)
		return exitUsage
	}

	rep := compare(base, act, lim)
	b, a := input{*basePath, base}, input{*actPath, act}
	if *asJSON {
		err = writeJSON(stdout, b, a, lim, rep)
	} else {
		err = writeTable(stdout, b, a, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "perf-compare: write: %v\n", err)
		return exitUsage
	}
	if rep.regressions > 0 {
		return exitRegression
	}
	return exitPass
}

// check rejects limits that cannot be meant.
func (l *limits) check() error {
	for _, p := range [...]struct {
		flag string
		v    float64
	}{{"--fail-p95", l.p95Pct}, {"--fail-rps", l.rpsPct}, {"--fail-cpu", l.cpuPct}, {"--fail-alloc", l.allocPct}} {
		if !(p.v >= 0) || math.IsInf(p.v, 0) {
			return fmt.Errorf("%s %v: want a non-negative percentage", p.flag, p.v)
		}
	}
	if l.maxHopP99 < 0 {
		return fmt.Errorf("--max-hop-p99 %d: must not be negative", l.maxHopP99)
	}
	if l.maxBootstrapP95 <= 0 {
		return fmt.Errorf("--max-bootstrap-p95 %v: want a positive duration", l.maxBootstrapP95)
	}
	return nil
}
