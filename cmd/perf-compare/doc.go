// Command perf-compare is the performance regression gate (PERFORMANCE.md
// §5): it compares a svc-dht-perf JSON result against a baseline (see
// scripts/perf/baselines) and fails when the new run regressed.
//
// Usage:
//
//	perf-compare --baseline FILE --actual FILE [--fail-p95 10] [--fail-rps 10]
//	    [--fail-cpu 15] [--fail-alloc 15] [--max-hop-p99 5]
//	    [--max-bootstrap-p95 300s] [--json]
//
// It prints both runs' command, build and machine, a warning for every
// workload parameter or machine property that differs between them, and a
// table of metric, baseline, actual, change in percent, limit and verdict
// (--json prints the same as one JSON object). The gates:
//
//   - an operation's p95 latency (each of find_node, find_value, provide,
//     store and ping present: a PROVIDE is a lookup plus the stores) rises
//     more than --fail-p95 percent, and so does the cold-start p95 (exec →
//     first seed dial, svc-dht-perf --cold-start) when a file has one;
//   - the achieved throughput drops more than --fail-rps percent;
//   - CPU avg or CPU microseconds per RPC rises more than --fail-cpu percent;
//   - allocations per RPC rise more than --fail-alloc percent;
//   - the actual run's hop p99 exceeds --max-hop-p99;
//   - the actual run's time-to-ready p95 exceeds --max-bootstrap-p95.
//
// A change of exactly the limit passes. A rise from a zero baseline is an
// infinite rise. A relative gate whose metric is missing from either file is
// shown as n/a and "not gated"; the two absolute gates (hop p99, bootstrap
// p95) need only the actual run's value. Other figures (p99 latencies, hop
// p50/p95, RSS, RPCs per lookup, replicas per PROVIDE, error-budget ratios)
// and the cold-start p50 are shown for information and never fail the run.
//
// Exit status: 0 no regression, 1 at least one gate failed, 2 bad usage or
// input (a missing or unreadable file, a file that is not a valid result of
// the supported schema version, unknown keys, or baseline and actual from
// different harness modes).
package main
