package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/result"
)

// row is one line of the table, from a peers result or an svc-dht-perf one.
type row struct {
	impl, mode, load string
	rps, cpuUs       float64
	allocs           float64
	lat              result.Latency
	ready            float64
	settle, exact    string
	rpcsPerLookup    float64
	rss, heap        float64
	errors           int64
	loadavg          string
	method           string // how the row was measured (--notes)
	version          string // implementation and version, for the header (--notes)
}

const (
	tableHead = "| impl | mode | load | RPC/s | server CPU µs/RPC | allocs/RPC | p50 ms | p95 ms | p99 ms | max ms | ready s | settle s (CPU %) | RPCs/lookup | closest found % | RSS MiB/node | heap MiB/node | errors | loadavg |"
	tableSep  = "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
)

// table prints result files as one Markdown table:
//
//	peers table [--machine FILE] [--notes] [LABEL=]FILE...
//
// FILE is a result of this tool or of svc-dht-perf (recognised by its
// "tool" key); LABEL replaces the impl column of that row. --machine puts
// the run's date and machine (run.sh's machine.txt) above the table;
// --notes adds the implementations' versions, a method column and, below
// the table, a note on how each row was measured.
func table(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("table", stderr)
	machine := fs.String("machine", "", "file describing the run (date, machine), put above the table")
	notes := fs.Bool("notes", false, "add versions, a method column and a note per row on how it was measured")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: table needs result files", errUsage)
	}
	rows := make([]row, 0, fs.NArg())
	for _, arg := range fs.Args() {
		label, path := "", arg
		if l, p, ok := strings.Cut(arg, "="); ok {
			if l == "" || p == "" {
				return fmt.Errorf("%w: %q: want FILE or LABEL=FILE", errUsage, arg)
			}
			label, path = l, p
		}
		r, err := readRow(path)
		if err != nil {
			return err
		}
		if label != "" {
			r.impl = label
		}
		rows = append(rows, r)
	}
	if *machine != "" {
		desc, err := machineLine(*machine)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Run: %s.\n\n", desc)
	}
	if *notes {
		fmt.Fprintf(stdout, "Versions: %s.\n\n", strings.Join(versions(rows), "; "))
	}
	head, sep := tableHead, tableSep
	if *notes {
		head, sep = head+" method |", sep+"---|"
	}
	fmt.Fprintln(stdout, head)
	fmt.Fprintln(stdout, sep)
	var methods []string
	for _, r := range rows {
		fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s | %s | %d | %s |",
			r.impl, r.mode, r.load, num(r.rps, "%.0f"), num(r.cpuUs, "%.1f"), num(r.allocs, "%.0f"),
			r.lat.P50, r.lat.P95, r.lat.P99, r.lat.Max,
			num(r.ready, "%.2f"), r.settle, num(r.rpcsPerLookup, "%.1f"), r.exact,
			num(r.rss, "%.2f"), num(r.heap, "%.2f"), r.errors, r.loadavg)
		if *notes {
			n := slices.Index(methods, r.method)
			if n < 0 {
				methods = append(methods, r.method)
				n = len(methods) - 1
			}
			fmt.Fprintf(stdout, " [%d] |", n+1)
		}
		fmt.Fprintln(stdout)
	}
	if *notes {
		fmt.Fprintln(stdout, "\nHow each row was measured:")
		fmt.Fprintln(stdout)
		for i, m := range methods {
			fmt.Fprintf(stdout, "%d. %s\n", i+1, m)
		}
	}
	return nil
}

// readRow reads one result file of either tool.
func readRow(path string) (row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return row{}, fmt.Errorf("read result: %w", err)
	}
	var head struct {
		Tool string `json:"tool"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return row{}, fmt.Errorf("%s: %w", path, err)
	}
	if head.Tool == svcTool {
		r, err := svcRow(b)
		if err != nil {
			return row{}, fmt.Errorf("%s: %w", path, err)
		}
		return r, nil
	}
	var r result.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return row{}, fmt.Errorf("%s: %w", path, err)
	}
	if r.Mode != result.ModeTarget && r.Mode != result.ModeSwarm {
		return row{}, fmt.Errorf("%s: mode %q: want %s or %s", path, r.Mode, result.ModeTarget, result.ModeSwarm)
	}
	return peersRow(&r), nil
}

// peersRow is the row of a result of this tool.
func peersRow(r *result.Result) row {
	out := row{
		impl: r.Impl, mode: r.Mode, rps: r.RPS, cpuUs: r.CPUUsPerRPC, allocs: r.AllocsPerRPC,
		lat: r.Latency, ready: r.ReadySeconds, settle: "–", exact: "–", rpcsPerLookup: r.RPCsPerLookup,
		rss: r.RSSMiBPerNode, heap: r.HeapMiBPerNode, errors: r.Errors,
		loadavg: strings.ReplaceAll(r.LoadAvg, " ", "/"), version: r.ImplVersion,
	}
	switch r.Mode {
	case result.ModeTarget:
		out.load = fmt.Sprintf("%d in flight", r.Inflight)
		if r.StreamPerRPC {
			out.load += ", stream/RPC"
		}
	case result.ModeSwarm:
		out.load = fmt.Sprintf("%d nodes", r.Nodes)
		out.settle = fmt.Sprintf("%.0f (%.0f)", r.SettleSeconds, r.SettleCPUPct)
	}
	if r.LookupExactPct != nil {
		out.exact = fmt.Sprintf("%.1f", *r.LookupExactPct)
	}
	out.method = peersMethod(r)
	return out
}

// peersMethod describes how a result of this tool was measured.
func peersMethod(r *result.Result) string {
	cmd := strings.Fields(r.Command)
	switch {
	case r.Mode == result.ModeTarget && r.Impl == "libp2p":
		stream := "one stream per worker, reused (as kad-dht's own sender does)"
		if r.StreamPerRPC {
			stream = "a new stream per RPC (multistream negotiation included)"
		}
		return fmt.Sprintf("peers rpc-load: closed loop, %d workers with one FIND_NODE in flight each, over %s QUIC connections (client hosts), %s; %s warm-up, then a %.0f s window; "+
			"the server's table holds %d (idle filler nodes in its process, their CPU counted) and each answer %.1f peers; "+
			"CPU (getrusage) and allocations (runtime.MemStats) of the server process per request it handled",
			r.Inflight, flagValue(cmd, "clients", "8"), stream, flagValue(cmd, "warmup", "3s"), r.WindowSeconds, r.ServerRTSize, r.AnswerNodes)
	case r.Mode == result.ModeTarget:
		return fmt.Sprintf("peers rpc-load: closed loop, %d workers with one find_node in flight each, one UDP socket each, BEP 5 over plain UDP (no encryption), read-only queries; %s warm-up, then a %.0f s window; "+
			"the server's table holds %d (idle filler nodes in its process, their CPU counted) and each answer %.1f nodes; "+
			"CPU (getrusage) and allocations (runtime.MemStats) of the server process per request it handled",
			r.Inflight, flagValue(cmd, "warmup", "3s"), r.WindowSeconds, r.ServerRTSize, r.AnswerNodes)
	case r.Impl == "libp2p":
		return fmt.Sprintf("peers swarm: %d kad-dht nodes in one process, each on its own QUIC socket on 127.0.0.1, no injected latency; "+
			"ready = all nodes joined at once and finished a full routing-table refresh; then up to 1 min for background work to quiet down (settle); "+
			"%d lookups one at a time from random nodes, GetClosestPeers (k 20, alpha 10); RPCs/lookup = queries the lookup sent; mean table %.1f; "+
			"closest found = the result holds the truly closest node; RSS/node = process peak RSS / nodes",
			r.Nodes, r.Lookups, r.MeanRTSize)
	default:
		return fmt.Sprintf("peers swarm: %d anacrolix/dht servers in one process, each on its own UDP socket on 127.0.0.1, no injected latency; "+
			"ready = BootstrapContext on every node, all at once; then the table maintainer's first pass (settle); "+
			"%d lookups one at a time from random nodes, find_node traversal (K 8, alpha 3); RPCs/lookup = addresses tried; mean table %.1f; "+
			"closest found = the result holds the truly closest node; RSS/node = process peak RSS / nodes",
			r.Nodes, r.Lookups, r.MeanRTSize)
	}
}

// flagValue returns the value of --name (or -name, --name=v) in the command
// words cmd, or def when it is not there.
func flagValue(cmd []string, name, def string) string {
	for i, w := range cmd {
		w = strings.TrimLeft(w, "-")
		if v, ok := strings.CutPrefix(w, name+"="); ok {
			return v
		}
		if w == name && i+1 < len(cmd) && strings.HasPrefix(cmd[i], "-") {
			return cmd[i+1]
		}
	}
	return def
}

// versions lists each implementation's version once, in row order.
func versions(rows []row) []string {
	var out []string
	for _, r := range rows {
		if r.version != "" && slices.Index(out, r.version) < 0 {
			out = append(out, r.version)
		}
	}
	return out
}

// machineLine joins the lines of a machine description file ("key: value"
// per line, as run.sh writes it) into one line.
func machineLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("machine file: %w", err)
	}
	var parts []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			parts = append(parts, l)
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("machine file %s is empty", path)
	}
	return strings.Join(parts, "; "), nil
}

// num formats v, or "–" when the figure does not apply (zero).
func num(v float64, format string) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf(format, v)
}
