package result

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms: the nearest-rank p-quantile of 1..n is ceil(p*n).
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
	l := Summarize(d)
	want := Latency{P50: 50, P95: 95, P99: 99, Max: 100}
	if l != want {
		t.Fatalf("Summarize = %+v, want %+v", l, want)
	}
}

func TestPercentileSmallAndEmpty(t *testing.T) {
	if got := Percentile(nil, 0.5); got != 0 {
		t.Fatalf("empty: got %v", got)
	}
	one := []time.Duration{7 * time.Microsecond}
	for _, p := range []float64{0.01, 0.5, 0.99, 1} {
		if got := Percentile(one, p); got != one[0] {
			t.Fatalf("single, p=%v: got %v", p, got)
		}
	}
	three := []time.Duration{1, 2, 3}
	cases := map[float64]time.Duration{0.33: 1, 0.34: 2, 0.5: 2, 0.67: 3, 1: 3}
	for p, want := range cases {
		if got := Percentile(three, p); got != want {
			t.Fatalf("p=%v: got %v want %v", p, got, want)
		}
	}
	if (Summarize(nil) != Latency{}) {
		t.Fatal("empty summary not zero")
	}
}

func TestJSONFieldNames(t *testing.T) {
	r := Result{Impl: "x", Mode: ModeSwarm, RPS: 1, CPUUsPerRPC: 2, AllocsPerRPC: 3,
		Latency: Latency{1, 2, 3, 4}, Nodes: 5, RSSMiBPerNode: 6, ReadySeconds: 7, RPCsPerLookup: 8}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"impl", "mode", "rps", "cpu_us_per_rpc", "allocs_per_rpc",
		"latency_ms", "nodes", "rss_mib_per_node", "ready_seconds", "rpcs_per_lookup"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing key %q in %s", k, buf.String())
		}
	}
	lat, _ := m["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p95", "p99", "max"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("missing latency_ms.%s", k)
		}
	}
	// Fields that do not apply are omitted, not written as zero.
	var target bytes.Buffer
	if err := (&Result{Impl: "x", Mode: ModeTarget}).Write(&target); err != nil {
		t.Fatal(err)
	}
	m = nil
	if err := json.Unmarshal(target.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["ready_seconds"]; ok {
		t.Errorf("zero ready_seconds written: %s", target.String())
	}
}
