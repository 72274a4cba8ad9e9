package perfresult

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// full returns a result with every field set.
func full() *Result {
	return &Result{
		SchemaVersion: SchemaVersion,
		Tool:          "svc-dht-perf",
		Version:       "v0.1.0",
		Git:           "0123456789ab",
		Mode:          ModeSwarm,
		Command:       "svc-dht-perf --peers 2000 --json out.json",
		Machine:       Machine{GOOS: "linux", GOARCH: "arm64", CPUs: 4, CPUModel: "Raspberry Pi 4 Model B Rev 1.4", GoVersion: "go1.26.8"},
		StartedAt:     time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC),
		DurationS:     60,
		Params: Params{Peers: 2000, RPS: 3000, Alpha: 3, Beta: 1, K: 20, Mix: "60/35/5", Churn: "10%/h",
			Seed: 42, RTT: "1ms-3ms", Jitter: "1ms", Loss: "0.1%", Profile: "micronode"},
		Ops: map[string]OpStats{
			OpFindNode:  {Count: 10, LatencyMS: &Latency{P50: 1, P95: 2, P99: 3, Max: 4}, Codes: map[string]uint64{"ok": 8, "timeout": 1, "transport_down": 1}},
			OpFindValue: {Count: 5, LatencyMS: &Latency{P50: 1.5, P95: 2.5, P99: 2.5, Max: 9}},
			OpProvide:   {Count: 0},
		},
		Hops:               &Hops{Histogram: map[int]uint64{1: 3, 2: 10, 10: 1}, P50: 2, P95: 2, P99: 10},
		AchievedRPS:        Ptr(2999.5),
		ErrorBudget:        &ErrorBudget{HTTP5xxRatio: 0, R429503Ratio: 0.001, QueueDropRatio: 1, TLSFailuresPerMin: 0.5},
		CPU:                &CPU{AvgPct: 150, USPerRPC: 31.5},
		AllocsPerRPC:       Ptr(12.25),
		PeakRSSMiB:         Ptr(23.5),
		RSSPerPeerMiB:      Ptr(1.25),
		ReadyS:             &Ready{P50: 1, P95: 2},
		RPCsPerLookup:      Ptr(11.0),
		ReplicasPerProvide: Ptr(19.5),
		ColdStartMS:        &ColdStart{Starts: 20, Min: 7.5, P50: 9, P95: 12.25, Max: 30},
		Notes:              []string{"a note"},
	}
}

// minimal returns a valid result with no measured figure.
func minimal() *Result {
	return &Result{
		SchemaVersion: SchemaVersion,
		Tool:          "svc-dht-perf",
		Mode:          ModeTarget,
		Command:       "svc-dht-perf --target quic://127.0.0.1:4433",
		Machine:       Machine{GOOS: "linux", GOARCH: "amd64", CPUs: 2, GoVersion: "go1.26.8"},
		StartedAt:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		DurationS:     1,
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for name, r := range map[string]*Result{"full": full(), "minimal": minimal()} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.json")
			if err := r.Save(path); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("round trip changed the result:\n got %+v\nwant %+v", got, r)
			}
		})
	}
}

func TestMissingFiguresAreLeftOut(t *testing.T) {
	var buf bytes.Buffer
	if err := minimal().Encode(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasSuffix(out, "}\n") {
		t.Errorf("output does not end in a newline: %q", out)
	}
	for _, key := range []string{"ops", "hops", "achieved_rps", "error_budget", "cpu", "allocs_per_rpc",
		"peak_rss_mib", "rss_per_peer_mib", "ready_s", "rpcs_per_lookup", "replicas_per_provide", "cold_start_ms", "notes", "cpu_model"} {
		if strings.Contains(out, `"`+key+`"`) {
			t.Errorf("unmeasured %s written:\n%s", key, out)
		}
	}
	// A measured zero is kept.
	r := minimal()
	r.AllocsPerRPC = Ptr(0.0)
	buf.Reset()
	if err := r.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"allocs_per_rpc": 0`) {
		t.Errorf("measured zero dropped:\n%s", buf.String())
	}
}

func TestSaveReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := full().Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	// An invalid result is refused and leaves the file alone.
	bad := full()
	bad.Command = ""
	if err := bad.Save(path); err == nil || !strings.Contains(err.Error(), "command") {
		t.Fatalf("Save of an invalid result: %v", err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("file damaged by a refused Save: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the result", len(entries))
	}
	if err := full().Save(filepath.Join(dir, "missing", "r.json")); err == nil {
		t.Error("Save into a missing directory succeeded")
	}
}

func encoded(t *testing.T, r *Result) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestDecodeStrict(t *testing.T) {
	good := encoded(t, full())
	if _, err := Decode(strings.NewReader(good)); err != nil {
		t.Fatalf("good result refused: %v", err)
	}
	cases := []struct {
		name, doc, want string
	}{
		{"unknown top-level key", strings.Replace(good, `"achieved_rps"`, `"achieved_rsp"`, 1), `unknown field "achieved_rsp"`},
		{"unknown nested key", strings.Replace(good, `"p95": 2,`, `"p96": 2,`, 1), `unknown field "p96"`},
		{"unknown machine key", strings.Replace(good, `"goos"`, `"hostname": "box", "goos"`, 1), `unknown field "hostname"`},
		{"data after the object", good + "{}", "data after the result object"},
		{"wrong type", strings.Replace(good, `"peers": 2000`, `"peers": "2000"`, 1), "cannot unmarshal"},
		{"fraction for a hop count", strings.Replace(good, `"p99": 10`, `"p99": 4.5`, 1), "cannot unmarshal"},
		{"not JSON", "peers: 2000", "decode"},
		{"empty", "", "decode"},
		{"no schema version", strings.Replace(good, `"schema_version": 1,`, "", 1), "schema_version missing"},
		{"other schema version", strings.Replace(good, `"schema_version": 1,`, `"schema_version": 2, "new_field": true,`, 1), "schema_version 2 not supported"},
		{"null", "null", "schema_version missing"},
		{"invalid content", strings.Replace(good, `"mode": "swarm"`, `"mode": "simulated"`, 1), `mode: "simulated"`},
		{"too large", `{"schema_version": 1, "notes": ["` + strings.Repeat("x", maxFileSize) + `"]}`, "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.doc == good {
				t.Fatal("test case did not change the document")
			}
			_, err := Decode(strings.NewReader(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "absent.json")); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(dir, "typo.json")
	doc := strings.Replace(encoded(t, full()), `"rpcs_per_lookup"`, `"rpc_per_lookup"`, 1)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "rpc_per_lookup") {
		t.Errorf("typo in a file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestValidate(t *testing.T) {
	if err := full().Validate(); err != nil {
		t.Fatalf("full result: %v", err)
	}
	if err := minimal().Validate(); err != nil {
		t.Fatalf("minimal result: %v", err)
	}
	cases := []struct {
		name   string
		modify func(r *Result)
		want   string
	}{
		{"schema version", func(r *Result) { r.SchemaVersion = 0 }, "schema_version: 0 not supported"},
		{"tool", func(r *Result) { r.Tool = " " }, "tool: missing"},
		{"mode", func(r *Result) { r.Mode = "" }, "mode:"},
		{"command", func(r *Result) { r.Command = "" }, "command: missing"},
		{"goos", func(r *Result) { r.Machine.GOOS = "" }, "machine.goos"},
		{"goarch", func(r *Result) { r.Machine.GOARCH = "" }, "machine.goarch"},
		{"cpus", func(r *Result) { r.Machine.CPUs = 0 }, "machine.cpus"},
		{"go version", func(r *Result) { r.Machine.GoVersion = "" }, "machine.go_version"},
		{"started_at", func(r *Result) { r.StartedAt = time.Time{} }, "started_at"},
		{"duration zero", func(r *Result) { r.DurationS = 0 }, "duration_s"},
		{"duration NaN", func(r *Result) { r.DurationS = nan() }, "duration_s"},
		{"duration inf", func(r *Result) { r.DurationS = inf() }, "duration_s"},
		{"negative param", func(r *Result) { r.Params.Alpha = -1 }, "params.alpha"},
		{"mix parts", func(r *Result) { r.Params.Mix = "60/40" }, "params.mix"},
		{"mix sum", func(r *Result) { r.Params.Mix = "60/35/6" }, "add up to 101"},
		{"mix number", func(r *Result) { r.Params.Mix = "60/35/x" }, "params.mix"},
		{"unknown op", func(r *Result) { r.Ops["find_nodes"] = OpStats{} }, "ops.find_nodes: unknown operation"},
		{"latency order", func(r *Result) { r.Ops[OpFindNode].LatencyMS.P99 = 1.5 }, "ops.find_node.latency_ms.p99: 1.5 is below p95 2"},
		{"latency negative", func(r *Result) { r.Ops[OpFindNode].LatencyMS.P50 = -1 }, "ops.find_node.latency_ms.p50"},
		{"latency inf", func(r *Result) { r.Ops[OpFindNode].LatencyMS.Max = inf() }, "ops.find_node.latency_ms.max"},
		{"unknown code", func(r *Result) { r.Ops[OpFindNode].Codes["okay"] = 0 }, "ops.find_node.codes.okay: unknown result code"},
		{"code sum", func(r *Result) { r.Ops[OpFindNode].Codes["busy"] = 1 }, "counts add up to 11, count is 10"},
		{"hops order", func(r *Result) { r.Hops.P95 = 1 }, "hops.p95"},
		{"hops histogram", func(r *Result) { r.Hops.Histogram[-1] = 1 }, "hops.histogram.-1"},
		{"rps", func(r *Result) { r.AchievedRPS = Ptr(-1.0) }, "achieved_rps"},
		{"ratio", func(r *Result) { r.ErrorBudget.R429503Ratio = 1.5 }, "error_budget.r429_503_ratio"},
		{"ratio NaN", func(r *Result) { r.ErrorBudget.HTTP5xxRatio = nan() }, "error_budget.http_5xx_ratio"},
		{"tls", func(r *Result) { r.ErrorBudget.TLSFailuresPerMin = -1 }, "error_budget.tls_failures_per_min"},
		{"cpu", func(r *Result) { r.CPU.USPerRPC = nan() }, "cpu.us_per_rpc"},
		{"allocs", func(r *Result) { r.AllocsPerRPC = Ptr(inf()) }, "allocs_per_rpc"},
		{"rss", func(r *Result) { r.PeakRSSMiB = Ptr(-1.0) }, "peak_rss_mib"},
		{"rss per peer", func(r *Result) { r.RSSPerPeerMiB = Ptr(-1.0) }, "rss_per_peer_mib"},
		{"ready order", func(r *Result) { r.ReadyS.P95 = 0.5 }, "ready_s.p95"},
		{"rpcs per lookup", func(r *Result) { r.RPCsPerLookup = Ptr(-1.0) }, "rpcs_per_lookup"},
		{"replicas", func(r *Result) { r.ReplicasPerProvide = Ptr(-1.0) }, "replicas_per_provide"},
		{"cold start starts", func(r *Result) { r.ColdStartMS.Starts = 0 }, "cold_start_ms.starts"},
		{"cold start order", func(r *Result) { r.ColdStartMS.P50 = 7 }, "cold_start_ms.p50: 7 is below min 7.5"},
		{"cold start NaN", func(r *Result) { r.ColdStartMS.Max = nan() }, "cold_start_ms.max"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := full()
			c.modify(r)
			err := r.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	r := full()
	r.Tool = ""
	r.Machine.CPUs = 0
	r.Ops[OpFindValue].LatencyMS.P95 = 0
	err := r.Validate()
	if err == nil {
		t.Fatal("invalid result accepted")
	}
	for _, want := range []string{"tool", "machine.cpus", "ops.find_value.latency_ms.p95"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestCPUModel(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"x86", "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 17\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n", "AMD EPYC 7B13"},
		{"mips", "system type\t\t: MediaTek MT7621 ver:1 eco:3\nmachine\t\t\t: Xiaomi Mi Router 4A\nprocessor\t\t: 0\ncpu model\t\t: MIPS 1004Kc V2.15\n", "MIPS 1004Kc V2.15"},
		{"raspberry pi", "processor\t: 0\nBogoMIPS\t: 108.00\nCPU part\t: 0xd08\n\nHardware\t: BCM2835\nRevision\t: c03114\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n", "Raspberry Pi 4 Model B Rev 1.4"},
		{"old arm", "Processor\t: ARMv7 Processor rev 5 (v7l)\nHardware\t: Generic AM33XX\n", "Generic AM33XX"},
		{"none", "processor\t: 0\nisa\t\t: rv64imafdc\n", ""},
		{"empty", "", ""},
	}
	for _, c := range cases {
		if got := cpuModel(strings.NewReader(c.text)); got != c.want {
			t.Errorf("%s: cpuModel = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestLocalMachine(t *testing.T) {
	m := LocalMachine()
	if m.GOOS != runtime.GOOS || m.GOARCH != runtime.GOARCH || m.CPUs != runtime.NumCPU() || m.GoVersion != runtime.Version() {
		t.Errorf("LocalMachine() = %+v", m)
	}
	r := minimal()
	r.Machine = m
	if err := r.Validate(); err != nil {
		t.Errorf("result with LocalMachine(): %v", err)
	}
}

func TestModeValid(t *testing.T) {
	for _, m := range []Mode{ModeVirtual, ModeSwarm, ModeTarget, ModeColdStart} {
		if !m.Valid() {
			t.Errorf("%q not valid", m)
		}
	}
	for _, m := range []Mode{"", "Swarm", "real"} {
		if m.Valid() {
			t.Errorf("%q valid", m)
		}
	}
}

func nan() float64 { return math.NaN() }
func inf() float64 { return math.Inf(1) }
