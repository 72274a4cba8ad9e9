package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/result"
)

// table prints the results in files as one Markdown table.
func table(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: table needs result files", errUsage)
	}
	fmt.Fprintln(stdout, "| impl | mode | load | RPC/s | server CPU µs/RPC | allocs/RPC | p50 ms | p95 ms | p99 ms | max ms | ready s | settle s (CPU %) | RPCs/lookup | closest found % | RSS MiB/node | heap MiB/node | errors | loadavg |")
	fmt.Fprintln(stdout, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, path := range args {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read result: %w", err)
		}
		var r result.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		load := ""
		switch r.Mode {
		case result.ModeTarget:
			load = fmt.Sprintf("%d in flight", r.Inflight)
			if r.StreamPerRPC {
				load += ", stream/RPC"
			}
		case result.ModeSwarm:
			load = fmt.Sprintf("%d nodes", r.Nodes)
		}
		settle, exact := "–", "–"
		if r.Mode == result.ModeSwarm {
			settle = fmt.Sprintf("%.0f (%.0f)", r.SettleSeconds, r.SettleCPUPct)
		}
		if r.LookupExactPct != nil {
			exact = fmt.Sprintf("%.1f", *r.LookupExactPct)
		}
		fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s | %s | %d | %s |\n",
			r.Impl, r.Mode, load, num(r.RPS, "%.0f"), num(r.CPUUsPerRPC, "%.1f"), num(r.AllocsPerRPC, "%.0f"),
			r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max,
			num(r.ReadySeconds, "%.2f"), settle, num(r.RPCsPerLookup, "%.1f"), exact,
			num(r.RSSMiBPerNode, "%.2f"), num(r.HeapMiBPerNode, "%.2f"),
			r.Errors, strings.ReplaceAll(r.LoadAvg, " ", "/"))
	}
	return nil
}

// num formats v, or "–" when the figure does not apply (zero).
func num(v float64, format string) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf(format, v)
}
