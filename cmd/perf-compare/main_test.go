package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	baseFile = "testdata/baseline.json"
	actFile  = "testdata/actual.json"
)

func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestTableGolden(t *testing.T) {
	code, out, errOut := runArgs("--baseline", baseFile, "--actual", actFile)
	if code != exitRegression {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitRegression, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
	checkGolden(t, "table.golden", out)

	// Columns are aligned: every table line has its verdict column at the same offset.
	var verdictAt []int
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "  VERDICT"); i >= 0 || strings.HasSuffix(line, "  ok") || strings.HasSuffix(line, "  FAIL") {
			if i < 0 {
				i = strings.LastIndex(line, "  ")
			}
			verdictAt = append(verdictAt, i)
		}
	}
	if len(verdictAt) < 5 {
		t.Fatalf("found %d table lines", len(verdictAt))
	}
	for _, at := range verdictAt {
		if at != verdictAt[0] {
			t.Errorf("verdict column at offsets %v, want one offset", verdictAt)
			break
		}
	}
}

func TestJSONGolden(t *testing.T) {
	code, out, errOut := runArgs("--json", "--baseline", baseFile, "--actual", actFile)
	if code != exitRegression {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitRegression, errOut)
	}
	checkGolden(t, "report.golden.json", out)
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Pass || rep.Regressions != 1 || rep.NotGated != 1 {
		t.Errorf("pass %v, regressions %d, not gated %d; want false, 1, 1", rep.Pass, rep.Regressions, rep.NotGated)
	}
}

func TestLimitFlags(t *testing.T) {
	// find_value p95 rose 16.7%: a 17% limit lets it pass.
	code, out, errOut := runArgs("--fail-p95=17", "--baseline", baseFile, "--actual", actFile)
	if code != exitPass {
		t.Fatalf("exit %d, want %d; stderr %s\n%s", code, exitPass, errOut, out)
	}
	if !strings.Contains(out, "result: PASS") || !strings.Contains(out, "+17%") {
		t.Errorf("output:\n%s", out)
	}
	// CPU per RPC rose 11.5%: a 10% CPU limit fails it.
	if code, out, _ := runArgs("-fail-p95", "17", "-fail-cpu", "10", "-baseline", baseFile, "-actual", actFile); code != exitRegression ||
		!strings.Contains(out, "CPU per RPC (us)") || !strings.Contains(out, "1 regression(s): CPU per RPC (us)") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	// The same file against itself passes.
	if code, out, _ := runArgs("--baseline", baseFile, "--actual", baseFile); code != exitPass {
		t.Errorf("file against itself: exit %d\n%s", code, out)
	}
}

func TestUsageAndInputErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := os.ReadFile(baseFile)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(name, old, new string) string {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q not in %s", old, baseFile)
		}
		return write(name, strings.Replace(string(good), old, new, 1))
	}
	typo := replace("typo.json", `"allocs_per_rpc"`, `"alocs_per_rpc"`)
	schema := replace("schema.json", `"schema_version": 1`, `"schema_version": 2`)
	virtual := replace("virtual.json", `"mode": "swarm"`, `"mode": "virtual"`)
	invalid := replace("invalid.json", `"cpus": 2`, `"cpus": 0`)
	notJSON := write("notjson.json", "schema_version = 1\n")
	missing := filepath.Join(dir, "absent.json")

	cases := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no flags", nil, "both --baseline and --actual are required"},
		{"no actual", []string{"--baseline", baseFile}, "both --baseline and --actual are required"},
		{"extra argument", []string{"--baseline", baseFile, "--actual", actFile, "extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"--baseline", baseFile, "--actual", actFile, "--fail-p99", "5"}, "flag provided but not defined"},
		{"bad number", []string{"--baseline", baseFile, "--actual", actFile, "--fail-p95", "10%"}, "invalid value"},
		{"negative limit", []string{"--baseline", baseFile, "--actual", actFile, "--fail-rps", "-1"}, "--fail-rps -1"},
		{"NaN limit", []string{"--baseline", baseFile, "--actual", actFile, "--fail-alloc", "NaN"}, "--fail-alloc NaN"},
		{"infinite limit", []string{"--baseline", baseFile, "--actual", actFile, "--fail-cpu", "Inf"}, "--fail-cpu +Inf"},
		{"negative hops", []string{"--baseline", baseFile, "--actual", actFile, "--max-hop-p99", "-1"}, "--max-hop-p99 -1"},
		{"zero bootstrap", []string{"--baseline", baseFile, "--actual", actFile, "--max-bootstrap-p95", "0s"}, "--max-bootstrap-p95 0s"},
		{"bad duration", []string{"--baseline", baseFile, "--actual", actFile, "--max-bootstrap-p95", "300"}, "invalid value"},
		{"missing baseline file", []string{"--baseline", missing, "--actual", actFile}, "baseline: perfresult: open " + missing},
		{"missing actual file", []string{"--baseline", baseFile, "--actual", missing}, "actual: perfresult: open " + missing},
		{"unknown key", []string{"--baseline", typo, "--actual", actFile}, `unknown field "alocs_per_rpc"`},
		{"schema mismatch", []string{"--baseline", baseFile, "--actual", schema}, "schema_version 2 not supported"},
		{"invalid result", []string{"--baseline", invalid, "--actual", actFile}, "machine.cpus"},
		{"not JSON", []string{"--baseline", baseFile, "--actual", notJSON}, "actual: " + notJSON},
		{"different modes", []string{"--baseline", baseFile, "--actual", virtual}, "baseline is a swarm run, actual a virtual run"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runArgs(c.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if out != "" {
				t.Errorf("stdout not empty:\n%s", out)
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("stderr %q, want it to mention %q", errOut, c.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	code, out, errOut := runArgs("--help")
	if code != exitPass || out != "" || !strings.Contains(errOut, "usage: perf-compare") || !strings.Contains(errOut, "-max-bootstrap-p95") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// result returns a valid swarm result with every gated figure set.
func result() *perfresult.Result {
	return &perfresult.Result{
		SchemaVersion: perfresult.SchemaVersion,
		Tool:          "svc-dht-perf",
		Mode:          perfresult.ModeSwarm,
		Command:       "svc-dht-perf --peers 20",
		Machine:       perfresult.Machine{GOOS: "linux", GOARCH: "amd64", CPUs: 2, GoVersion: "go1.26.8"},
		StartedAt:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		DurationS:     10,
		Params:        perfresult.Params{Peers: 20, Alpha: 3, Beta: 1, K: 20},
		Ops: map[string]perfresult.OpStats{
			perfresult.OpFindNode:  {Count: 1, LatencyMS: &perfresult.Latency{P50: 5, P95: 20, P99: 40, Max: 50}},
			perfresult.OpFindValue: {Count: 1, LatencyMS: &perfresult.Latency{P50: 5, P95: 20, P99: 40, Max: 50}},
		},
		Hops:         &perfresult.Hops{P50: 2, P95: 3, P99: 4},
		AchievedRPS:  perfresult.Ptr(1000.0),
		CPU:          &perfresult.CPU{AvgPct: 40, USPerRPC: 40},
		AllocsPerRPC: perfresult.Ptr(40.0),
		ReadyS:       &perfresult.Ready{P50: 100, P95: 200},
	}
}

// findRow returns the row named metric.
func findRow(t *testing.T, rep report, metric string) row {
	t.Helper()
	for _, r := range rep.rows {
		if r.metric == metric {
			return r
		}
	}
	t.Fatalf("no row %q", metric)
	return row{}
}

func TestGateBoundaries(t *testing.T) {
	type mod func(r *perfresult.Result)
	setLat := func(op string, p95 float64) mod {
		return func(r *perfresult.Result) {
			l := *r.Ops[op].LatencyMS
			l.P95 = p95
			l.P99, l.Max = max(l.P99, p95), max(l.Max, p95)
			r.Ops[op] = perfresult.OpStats{Count: 1, LatencyMS: &l}
		}
	}
	cases := []struct {
		name   string
		metric string
		at     mod // exactly at the limit: passes
		over   mod // just beyond it: fails
	}{
		{"find_node p95 +10%", "find_node p95 (ms)", setLat("find_node", 22), setLat("find_node", 22.001)},
		{"find_value p95 +10%", "find_value p95 (ms)", setLat("find_value", 22), setLat("find_value", 22.001)},
		{"throughput -10%", "throughput (RPC/s)",
			func(r *perfresult.Result) { r.AchievedRPS = perfresult.Ptr(900.0) },
			func(r *perfresult.Result) { r.AchievedRPS = perfresult.Ptr(899.99) }},
		{"CPU avg +15%", "CPU avg (% of a core)",
			func(r *perfresult.Result) { r.CPU.AvgPct = 46 },
			func(r *perfresult.Result) { r.CPU.AvgPct = 46.01 }},
		{"CPU per RPC +15%", "CPU per RPC (us)",
			func(r *perfresult.Result) { r.CPU.USPerRPC = 46 },
			func(r *perfresult.Result) { r.CPU.USPerRPC = 46.01 }},
		{"allocs +15%", "allocs per RPC",
			func(r *perfresult.Result) { r.AllocsPerRPC = perfresult.Ptr(46.0) },
			func(r *perfresult.Result) { r.AllocsPerRPC = perfresult.Ptr(46.01) }},
		{"hop p99 <= 5", "hop p99",
			func(r *perfresult.Result) { r.Hops.P99 = 5 },
			func(r *perfresult.Result) { r.Hops.P99 = 6 }},
		{"bootstrap p95 <= 300s", "bootstrap p95 (s)",
			func(r *perfresult.Result) { r.ReadyS.P95 = 300 },
			func(r *perfresult.Result) { r.ReadyS.P95 = 300.001 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, step := range []struct {
				name    string
				modify  mod
				verdict verdict
			}{{"at the limit", c.at, verdictOK}, {"beyond the limit", c.over, verdictFail}} {
				act := result()
				step.modify(act)
				if err := act.Validate(); err != nil {
					t.Fatal(err)
				}
				rep := compare(result(), act, defaultLimits())
				if got := findRow(t, rep, c.metric).verdict; got != step.verdict {
					t.Errorf("%s: verdict %s, want %s", step.name, got.text(), step.verdict.text())
				}
				want := 0
				if step.verdict == verdictFail {
					want = 1
				}
				if rep.regressions != want {
					t.Errorf("%s: %d regressions, want %d", step.name, rep.regressions, want)
				}
			}
		})
	}
}

// TestGatesImprovementsPass checks that moving every gated metric the good
// way by far more than any limit fails nothing.
func TestGatesImprovementsPass(t *testing.T) {
	act := result()
	act.Ops[perfresult.OpFindNode].LatencyMS.P95 = 5
	act.AchievedRPS = perfresult.Ptr(5000.0)
	act.CPU = &perfresult.CPU{AvgPct: 1, USPerRPC: 1}
	act.AllocsPerRPC = perfresult.Ptr(0.0)
	act.Hops.P99 = 0
	act.ReadyS.P95 = 100
	rep := compare(result(), act, defaultLimits())
	if rep.regressions != 0 || rep.notGated != 0 {
		t.Errorf("regressions %d, not gated %d", rep.regressions, rep.notGated)
	}
}

func TestCustomLimits(t *testing.T) {
	lim := limits{p95Pct: 0, rpsPct: 0, cpuPct: 0, allocPct: 0, maxHopP99: 3, maxBootstrapP95: 150 * time.Second}
	if rep := compare(result(), result(), lim); rep.regressions != 2 {
		// hop p99 4 > 3 and bootstrap p95 200s > 150s; identical figures pass 0% limits.
		t.Errorf("regressions %d, want 2", rep.regressions)
	}
	act := result()
	act.AchievedRPS = perfresult.Ptr(999.9)
	if rep := compare(result(), act, lim); findRow(t, rep, "throughput (RPC/s)").verdict != verdictFail {
		t.Error("a drop under a 0% limit passed")
	}
}

func TestZeroBaseline(t *testing.T) {
	base, act := result(), result()
	base.AllocsPerRPC = perfresult.Ptr(0.0)
	act.AllocsPerRPC = perfresult.Ptr(0.0)
	if v := findRow(t, compare(base, act, defaultLimits()), "allocs per RPC").verdict; v != verdictOK {
		t.Errorf("0 -> 0: %s", v.text())
	}
	act.AllocsPerRPC = perfresult.Ptr(0.5)
	rep := compare(base, act, defaultLimits())
	r := findRow(t, rep, "allocs per RPC")
	if r.verdict != verdictFail || fmtChange(&r) != "+inf" {
		t.Errorf("0 -> 0.5: %s, change %s", r.verdict.text(), fmtChange(&r))
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, input{"b", base}, input{"a", act}, defaultLimits(), rep); err != nil {
		t.Fatalf("JSON of an infinite change: %v", err)
	}
}

func TestMissingMetrics(t *testing.T) {
	base, act := result(), result()
	// Missing in the actual run: relative gates are not gated.
	act.AchievedRPS = nil
	act.CPU = nil
	// Missing in the baseline: relative gates are not gated ...
	base.AllocsPerRPC = nil
	delete(base.Ops, perfresult.OpFindValue)
	// ... but the absolute ones still check the actual run.
	base.Hops = nil
	act.Hops.P99 = 6
	base.ReadyS = nil

	rep := compare(base, act, defaultLimits())
	for metric, want := range map[string]verdict{
		"find_node p95 (ms)":    verdictOK,
		"find_value p95 (ms)":   verdictNotGated,
		"throughput (RPC/s)":    verdictNotGated,
		"CPU avg (% of a core)": verdictNotGated,
		"CPU per RPC (us)":      verdictNotGated,
		"allocs per RPC":        verdictNotGated,
		"hop p99":               verdictFail,
		"bootstrap p95 (s)":     verdictOK,
	} {
		if got := findRow(t, rep, metric).verdict; got != want {
			t.Errorf("%s: %s, want %s", metric, got.text(), want.text())
		}
	}
	if rep.notGated != 5 || rep.regressions != 1 {
		t.Errorf("not gated %d, regressions %d; want 5, 1", rep.notGated, rep.regressions)
	}
	var buf bytes.Buffer
	if err := writeTable(&buf, input{"b.json", base}, input{"a.json", act}, rep); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"not gated: 5 gated metric(s) missing", "n/a", "result: FAIL, 1 regression(s): hop p99"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	// Absent from both files: the gates are still listed, as not gated;
	// informational figures are left out.
	bare, bare2 := result(), result()
	for _, r := range []*perfresult.Result{bare, bare2} {
		r.Ops, r.Hops, r.AchievedRPS, r.CPU, r.AllocsPerRPC, r.ReadyS = nil, nil, nil, nil, nil, nil
	}
	rep = compare(bare, bare2, defaultLimits())
	var metrics []string
	for _, r := range rep.rows {
		metrics = append(metrics, r.metric)
		if r.verdict != verdictNotGated {
			t.Errorf("%s: %s, want not gated", r.metric, r.verdict.text())
		}
	}
	want := []string{"lookup p95 (ms)", "throughput (RPC/s)", "CPU avg (% of a core)", "CPU per RPC (us)", "allocs per RPC", "hop p99", "bootstrap p95 (s)"}
	if strings.Join(metrics, "|") != strings.Join(want, "|") {
		t.Errorf("rows %q, want %q", metrics, want)
	}
}

// TestColdStartGate compares two cold-start results: the p95 is gated like
// a latency (a rise of exactly --fail-p95 passes), the p50 shown, and no
// "lookup p95" placeholder appears for a mode without lookups.
func TestColdStartGate(t *testing.T) {
	cold := func(p95 float64) *perfresult.Result {
		r := result()
		r.Mode = perfresult.ModeColdStart
		r.Ops, r.Hops, r.AchievedRPS, r.CPU, r.AllocsPerRPC, r.ReadyS = nil, nil, nil, nil, nil, nil
		r.ColdStartMS = &perfresult.ColdStart{Starts: 20, Min: 10, P50: 15, P95: p95, Max: max(p95, 30)}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, c := range []struct {
		p95     float64
		verdict verdict
	}{{22, verdictOK}, {22.001, verdictFail}, {16, verdictOK}} {
		rep := compare(cold(20), cold(c.p95), defaultLimits())
		if got := findRow(t, rep, "cold start p95 (ms)").verdict; got != c.verdict {
			t.Errorf("p95 20 → %v: %s, want %s", c.p95, got.text(), c.verdict.text())
		}
		if r := findRow(t, rep, "cold start p50 (ms)"); r.verdict != verdictInfo || r.base == nil || *r.base != 15 {
			t.Errorf("cold start p50 row %+v", r)
		}
		for _, r := range rep.rows {
			if r.metric == "lookup p95 (ms)" {
				t.Errorf("placeholder row %q in a cold-start comparison", r.metric)
			}
		}
	}
}

func TestDifferences(t *testing.T) {
	base, act := result(), result()
	act.Params.Seed = 99 // other seeds are alike runs
	if d := differences(base, act); len(d) != 0 {
		t.Errorf("differences %q, want none", d)
	}
	act.Params.Peers = 2000
	act.Params.Loss = "0.5%"
	act.Machine.CPUs = 4
	d := differences(base, act)
	want := []string{
		"params.peers differs: baseline 20, actual 2000",
		`params.loss differs: baseline "", actual 0.5%`,
		"machine.cpus differs: baseline 2, actual 4",
	}
	if strings.Join(d, "\n") != strings.Join(want, "\n") {
		t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(d, "\n"), strings.Join(want, "\n"))
	}
}

func TestFmtChange(t *testing.T) {
	p := perfresult.Ptr[float64]
	cases := []struct {
		base, act *float64
		want      string
	}{
		{p(100), p(110), "+10.0%"},
		{p(100), p(90), "-10.0%"},
		{p(100), p(100.001), "0.0%"},
		{p(100), p(99.999), "0.0%"},
		{p(0), p(0), "0.0%"},
		{p(0), p(1), "+inf"},
		{nil, p(1), "n/a"},
		{p(1), nil, "n/a"},
	}
	for _, c := range cases {
		if got := fmtChange(&row{base: c.base, act: c.act}); got != c.want {
			t.Errorf("fmtChange(%v, %v) = %q, want %q", deref(c.base), deref(c.act), got, c.want)
		}
	}
}

func deref(x *float64) any {
	if x == nil {
		return nil
	}
	return *x
}
