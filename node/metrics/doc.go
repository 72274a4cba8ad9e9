// Package metrics is the node's Prometheus metrics plane: one Metrics value
// per node holds every metric of the SPEC §9 contract and renders them in
// the Prometheus text format for the ops plane's /metrics.
//
// The runtime reports real events through small typed methods (Lookup,
// RPCStarted/RPCFinished, HedgesSpawned, TLSHandshakeFailed, QueueDropped,
// Rejected, ...). The methods are safe for concurrent use and the ones on
// hot paths do not allocate: label combinations of closed sets (opcodes,
// result codes, route actions, ...) are array-indexed handles, and string
// labels of known values are looked up in a map that never changes after
// New. Unknown string label values are created on first use under a mutex,
// at most 32 per family; further ones are counted under "other", so label
// cardinality stays bounded.
//
// State that already lives elsewhere is read at scrape time rather than
// pushed on every change: the routing table's per-bucket statistics through
// a BucketSource (a *kbucket.Snapshot is one), the seeds' up/down state
// through a SeedSource (a *seeds.Runner is one) and queue lengths through
// QueueDepthFunc callbacks.
//
// # Exposition
//
// Every family carries its own "# HELP" and "# TYPE" lines, written by this
// package: the VictoriaMetrics library only writes them when its
// process-wide ExposeMetadata switch is on, which library code must not
// flip. When it is on (see EnableMetadata) the library's own metadata lines
// are dropped from this package's families, so that each family is
// described exactly once.
//
// dht_rpcs_total{op,code} and dht_rpcs_inflight describe the RPCs this node
// sends (lookup probes, pings, PROVIDE stores), by the answer's result code
// or transport_down; the server side is busy_rejections_total,
// rejected_total and, in macronode, dht_rpcs_served_total. Histogram
// bounds: dht_lookup_latency_seconds 0.005, 0.01, 0.025, 0.05, 0.1, 0.2,
// 0.4, 0.5, 1, 2, 5, 10 s (0.2 and 0.4 are the p95 and p99 lookup SLOs);
// dht_lookup_hops_histogram 1, 2, 3, 4, 5, 6, 8, 10; dht_rpc_server_seconds
// 0.1 ms to 1 s.
//
// Ratios and fill levels (dht_bucket_asn_max_pct, dht_ready_bucket_fill_pct,
// pq_dual_sign_ratio) are fractions from 0 to 1, like the configuration
// keys they are compared with (diversity.asn_max_pct,
// bootstrap.ready_bucket_fill_pct).
//
// # Builds
//
// The default (micronode) build exports the contractual set of SPEC §9
// plus dht_boot_first_dial_seconds. Per-bucket families list only the
// non-empty buckets. With -tags macronode the same API also exports:
// dht_rpcs_served_total{op,code} and dht_rpc_server_seconds{op} (the server
// side of RPCs), dht_bucket_cached{bucket}, dht_bucket_asn_peers{bucket,asn}
// (per-group detail from a source that implements BucketGroupSource),
// dht_bucket_low_diversity_buckets, and the Go runtime and process metrics
// (go_*, process_*). Methods that feed macronode-only families are no-ops
// in micronode.
package metrics
