package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
)

// input is one compared file.
type input struct {
	path string
	res  *perfresult.Result
}

const na = "n/a"

func (v verdict) text() string {
	switch v {
	case verdictOK:
		return "ok"
	case verdictFail:
		return "FAIL"
	case verdictNotGated:
		return "not gated"
	}
	return "-"
}

func (v verdict) jsonName() string {
	switch v {
	case verdictOK:
		return "ok"
	case verdictFail:
		return "fail"
	case verdictNotGated:
		return "not_gated"
	}
	return "info"
}

func fmtValue(x *float64, prec int) string {
	if x == nil {
		return na
	}
	return strconv.FormatFloat(*x, 'f', prec, 64)
}

func fmtChange(r *row) string {
	if r.base == nil || r.act == nil {
		return na
	}
	c := changePct(*r.base, *r.act)
	if math.IsInf(c, 1) {
		return "+inf"
	}
	s := strconv.FormatFloat(c, 'f', 1, 64)
	switch {
	case s == "0.0" || s == "-0.0":
		return "0.0%"
	case c > 0:
		return "+" + s + "%"
	}
	return s + "%"
}

// writeTable writes the human-readable comparison.
func writeTable(w io.Writer, base, act input, rep report) error {
	var b strings.Builder
	describe := func(label string, in input) {
		r := in.res
		build := r.Version
		if r.Git != "" {
			build = strings.TrimSpace(build + " (" + r.Git + ")")
		}
		if build == "" {
			build = "unknown build"
		}
		m := r.Machine
		fmt.Fprintf(&b, "%-9s %s: %s, %s %s, started %s\n", label, in.path, r.Mode, r.Tool, build, r.StartedAt.UTC().Format(time.RFC3339))
		fmt.Fprintf(&b, "          command: %s\n", r.Command)
		machine := fmt.Sprintf("%s/%s, %d CPUs, %s", m.GOOS, m.GOARCH, m.CPUs, m.GoVersion)
		if m.CPUModel != "" {
			machine += ", " + m.CPUModel
		}
		fmt.Fprintf(&b, "          machine: %s\n", machine)
	}
	describe("baseline:", base)
	describe("actual:", act)
	for _, s := range rep.warnings {
		fmt.Fprintf(&b, "warning: %s\n", s)
	}
	b.WriteByte('\n')

	cells := [][]string{{"METRIC", "BASELINE", "ACTUAL", "CHANGE", "LIMIT", "VERDICT"}}
	for i := range rep.rows {
		r := &rep.rows[i]
		cells = append(cells, []string{r.metric, fmtValue(r.base, r.prec), fmtValue(r.act, r.prec), fmtChange(r), r.limitText, r.verdict.text()})
	}
	var width [6]int
	for _, line := range cells {
		for i, c := range line {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, line := range cells {
		for i, c := range line {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			switch {
			case i == 0:
				b.WriteString(c + pad)
			case i == len(line)-1: // verdict, last: no trailing spaces
				b.WriteString("  " + c)
			default: // numbers and limits, right-aligned
				b.WriteString("  " + pad + c)
			}
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')

	if rep.notGated > 0 {
		fmt.Fprintf(&b, "not gated: %d gated metric(s) missing from the baseline or the actual result (n/a) were not checked\n", rep.notGated)
	}
	if rep.regressions == 0 {
		b.WriteString("result: PASS, no regression\n")
	} else {
		var failed []string
		for _, r := range rep.rows {
			if r.verdict == verdictFail {
				failed = append(failed, r.metric)
			}
		}
		fmt.Fprintf(&b, "result: FAIL, %d regression(s): %s\n", rep.regressions, strings.Join(failed, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonReport is the --json output.
type jsonReport struct {
	Baseline    jsonInput  `json:"baseline"`
	Actual      jsonInput  `json:"actual"`
	Limits      jsonLimits `json:"limits"`
	Warnings    []string   `json:"warnings"`
	Rows        []jsonRow  `json:"rows"`
	Regressions int        `json:"regressions"`
	NotGated    int        `json:"not_gated"`
	Pass        bool       `json:"pass"`
}

type jsonInput struct {
	File      string             `json:"file"`
	Mode      perfresult.Mode    `json:"mode"`
	Tool      string             `json:"tool"`
	Version   string             `json:"version,omitempty"`
	Git       string             `json:"git,omitempty"`
	Command   string             `json:"command"`
	StartedAt time.Time          `json:"started_at"`
	Machine   perfresult.Machine `json:"machine"`
}

type jsonLimits struct {
	FailP95Pct       float64 `json:"fail_p95_pct"`
	FailRPSPct       float64 `json:"fail_rps_pct"`
	FailCPUPct       float64 `json:"fail_cpu_pct"`
	FailAllocPct     float64 `json:"fail_alloc_pct"`
	MaxHopP99        int     `json:"max_hop_p99"`
	MaxBootstrapP95S float64 `json:"max_bootstrap_p95_s"`
}

// jsonRow is one row; null values are missing, a null change_pct with both
// values present is an infinite rise from a zero baseline.
type jsonRow struct {
	Metric    string   `json:"metric"`
	Baseline  *float64 `json:"baseline"`
	Actual    *float64 `json:"actual"`
	ChangePct *float64 `json:"change_pct"`
	Limit     string   `json:"limit"`
	Verdict   string   `json:"verdict"`
}

// writeJSON writes the comparison as one JSON object.
func writeJSON(w io.Writer, base, act input, lim limits, rep report) error {
	in := func(i input) jsonInput {
		r := i.res
		return jsonInput{File: i.path, Mode: r.Mode, Tool: r.Tool, Version: r.Version, Git: r.Git,
			Command: r.Command, StartedAt: r.StartedAt, Machine: r.Machine}
	}
	out := jsonReport{
		Baseline: in(base),
		Actual:   in(act),
		Limits: jsonLimits{FailP95Pct: lim.p95Pct, FailRPSPct: lim.rpsPct, FailCPUPct: lim.cpuPct,
			FailAllocPct: lim.allocPct, MaxHopP99: lim.maxHopP99, MaxBootstrapP95S: lim.maxBootstrapP95.Seconds()},
		Warnings:    append([]string{}, rep.warnings...),
		Rows:        make([]jsonRow, 0, len(rep.rows)),
		Regressions: rep.regressions,
		NotGated:    rep.notGated,
		Pass:        rep.regressions == 0,
	}
	for _, r := range rep.rows {
		jr := jsonRow{Metric: r.metric, Baseline: r.base, Actual: r.act, Limit: r.limitText, Verdict: r.verdict.jsonName()}
		if r.base != nil && r.act != nil {
			if c := changePct(*r.base, *r.act); !math.IsInf(c, 0) {
				jr.ChangePct = perfresult.Ptr(c)
			}
		}
		out.Rows = append(out.Rows, jr)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = w.Write(append(data, '\n'))
	return err
}
