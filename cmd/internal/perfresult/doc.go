// Package perfresult defines the JSON result of one performance harness run:
// the file cmd/svc-dht-perf writes with --json and cmd/perf-compare reads,
// and the schema of the committed baselines under scripts/perf/baselines.
//
// A Result records what was run (tool, version, mode, the exact command
// line, the machine without its hostname, the workload parameters) and what
// was measured (per-operation latency quantiles and result codes, the hop
// histogram, throughput, the error-budget ratios of the performance profile
// §1, CPU, allocations, memory, time to ready, RPCs per lookup, replicas per
// PROVIDE; in the cold-start mode, the time from exec of the daemon to its
// first seed dial).
//
// # Missing versus zero
//
// Every measured figure is optional: a harness mode that cannot measure
// something (the virtual mode has no real CPU per RPC, the target mode no
// hop counts) leaves it out, and the file then has no key for it. Sections
// (LatencyMS, Hops, ErrorBudget, CPU, Ready) are pointers and scalar
// figures are *float64, so nil means "not measured" and never reads as
// zero. Ptr builds a pointer from a value.
//
// # Units
//
// Latencies and cold-start times are milliseconds, times to ready seconds, memory MiB (2^20
// bytes). CPU.AvgPct is the average CPU use of the measured process over the
// run as a percentage of one core (100 = one core fully busy; up to
// 100 × cpus), the convention of top(1); the profile's "average across
// cores" is AvgPct / Machine.CPUs. Error-budget ratios are fractions from 0
// to 1. Operation names are the wire opcodes' metric names ("find_node",
// "find_value", "provide", "ping", "store") and result-code names are the
// dht_rpcs_total code labels ("ok", "busy", "timeout", ...) plus the local
// error kinds ("hop_exceeded", "no_bootstrap", "transport_down").
//
// # Strictness
//
// Decode and Load reject unknown keys, trailing data and results that fail
// Validate, so a typo in a hand-edited baseline is an error instead of a
// silently ungated metric. encoding/json matches keys case-insensitively,
// so a key that differs from the schema only in letter case is accepted.
// Save validates before writing and replaces the file atomically.
//
// The schema is versioned (SchemaVersion); a file of another version is
// refused rather than misread.
package perfresult
