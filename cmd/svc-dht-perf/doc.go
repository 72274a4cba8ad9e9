// Command svc-dht-perf is the performance harness of svc-dht
// (PERFORMANCE.md §2.2, issue 5): it drives a mixed workload of FIND_VALUE,
// FIND_NODE and PROVIDE operations and writes one JSON result in the schema
// of cmd/internal/perfresult, which cmd/perf-compare gates against the
// baselines in scripts/perf/baselines.
//
// Usage:
//
//	svc-dht-perf [--virtual | --target quic://host:port] [--peers N] [--rps R]
//	    [--alpha 3] [--beta 1] [--k 20] [--duration 20s] [--mix 60/35/5]
//	    [--seed 1] [--rtt 1ms-3ms] [--jitter 1ms] [--loss 0.1%] [--churn 10%/h]
//	    [--net memnet|quic]
//	    [--lookups N] [--inflight N] [--json FILE] [--cpuprofile FILE] [--memprofile FILE]
//	svc-dht-perf --cold-start N --exec PATH/TO/svc-dht [--warmup 1] [--profile micronode]
//	    [--json FILE] [-- DAEMON-ARGS...]
//
// A progress line goes to stderr every second (elapsed time, operations
// done, achieved rate, p50/p99 latency so far), the summary to stdout.
//
// # Modes
//
// --virtual runs the deterministic simulator (node/sim): --peers cores (up
// to 100,000) over a simulated network with the --rtt, --jitter and --loss
// link model, in virtual time. --lookups operations of the --mix start at
// --rps per virtual second from random live peers; FIND_VALUE looks up keys
// provided earlier in the run (a random key before the first PROVIDE).
// --churn makes peers leave and new ones join at that rate (Poisson, the
// seeds protected). Networks above 2,000 peers are built with oracle
// routing tables (--oracle auto; every table filled from the membership as
// a converged network would have it) because a protocol join of 100,000
// peers would take hours of wall time; --oracle on|off forces the choice.
// It reports the hop histogram and p50/p95/p99, virtual latencies per
// operation, RPCs per lookup and replicas per PROVIDE, with the wall time,
// event count and events per second in the notes. Same seed, same flags:
// same result (the trace hash is in the notes).
//
// The default swarm mode runs --peers real node runtimes (node/runtime:
// their event loops, owner goroutines, codec, signature checks) in this
// process over the in-memory network node/memnet, which injects a stable
// per-pair RTT from --rtt, per-message --jitter and --loss (see memnet's
// documentation for its scheduling). A lost message is retransmitted after
// the link's QUIC probe timeout, as the real transport does (--loss-model
// quic; blackhole drops it for good). With --net quic there is no memnet:
// every peer runs the runtime's own QUIC transport (mutual TLS 1.3, the
// profile's settings) on its own UDP socket on 127.0.0.1 (listen_addr
// 127.0.0.1:0) and advertises the bound quic://127.0.0.1:PORT address,
// which later peers take as a seed; nothing leaves loopback. Real sockets
// take no injected RTT, jitter or loss, so --net quic refuses any but
// --rtt 0s --jitter 0s --loss 0%. RPC counts come from the nodes' own
// counters in both networks; with --net quic the error budget's
// tls_failures_per_min is the peers' tls_handshake_failures_total over the
// window, and the notes name the network used. Identities are generated first, on
// every core, before the clock starts. Peer 0 is the first node; the
// others join at most 32 at a time (and never more than have joined), each
// through 3 seeds drawn among the peers already joined. Every peer runs the
// micronode profile (--profile) with one event loop, amnesia, housekeeping
// every 5 s and its probes on a shared runtime.GoPool. The time to ready
// of each peer (from its Start to the first 25 ms poll that finds it
// ready) gives ready_s p50/p95, and the notes give the whole swarm's. Then an open-loop generator offers --rps operations per second
// for --duration through random peers' API methods (FindProviders,
// FindClosest, Provide), with at most --inflight in flight (a due operation
// that finds every worker busy is skipped and counted). Latency counts
// from when an operation was due. CPU (getrusage) and allocations
// (runtime.MemStats) are the whole process over the measured window,
// divided by the inbound RPCs the peers served; peak RSS is getrusage's,
// and RSS per peer divides it by --peers.
//
// --target runs a load generator against one daemon over real QUIC: dial-only
// transports with their own identities (--clients, default 1: note that
// the daemon's limits.peer_rps applies per client identity), an open-loop
// rate of single RPCs of the mix, at most --inflight in flight. PROVIDE
// requests carry records pre-signed before the measurement (--records of
// them, cycled; a repeat replaces the stored record). It reports latency
// per RPC, result codes (busy and quota_exceeded apart), the achieved rate
// of answered RPCs and, with --server-pid, the daemon's CPU per RPC (from
// /proc/PID/stat, USER_HZ 100) and peak RSS (VmHWM); with --server-metrics
// URL, the daemon's allocations per RPC from go_memstats_mallocs_total,
// which only the macronode build exports (a micronode daemon has no Go
// runtime metrics: the harness then says so and fails).
//
// With --fill N, before the measurement N more identities, spread over the
// target's buckets the way a large network fills a routing table (at most
// --k per bucket, the shallow buckets first; identities are drawn from
// --seed until they fit, up to 512 per peer wanted), each PING the target
// once from a QUIC transport of their own on 127.0.0.1, so that its table
// holds them at their real, dialable loopback addresses; they answer its
// probes (PING, lookups with an empty closest list) until the run ends.
// Each then closes its connection, as an idle one would be closed, and
// listens again on the same address; with --fill-conns the connections stay
// open (the target then holds one per fill peer: a worst case for its RSS).
// With --server-metrics the notes give the table's size from
// dht_bucket_occupancy after the fill and at the end. --server-metrics
// also gives allocations per RPC when the daemon exports
// go_memstats_mallocs_total (the macronode build); without it the result
// has no allocs_per_rpc and a note says why.
//
// --cold-start N measures the daemon's start (issue 5: exec → first seed
// dial): it starts the daemon binary --exec N times, one at a time, after
// --warmup unmeasured starts. Each start gets a fresh UDP socket on
// 127.0.0.1 playing its only seed and the arguments
//
//	--profile P --amnesia.enabled=true --listen_addr 127.0.0.1:0 --ops_addr 127.0.0.1:0
//	--bootstrap.use_default_seeds=false --bootstrap.seeds quic://127.0.0.1:PORT
//
// followed by the arguments after "--" (the environment's SVC_DHT_*
// variables are removed); the time runs from just before exec to the first
// datagram at the seed, which must be a QUIC v1 Initial. The daemon is then
// killed and reaped. The result's cold_start_ms has min, p50, p95 and max;
// the notes add the daemon's CPU time and page faults up to the kill
// (getrusage of the child) and its own first_dial_ms (from its log, measured
// from its package initialisation, so without exec and Go runtime start).
//
// --cpuprofile and --memprofile profile the harness process itself (in the
// swarm mode: every peer). The daemon is profiled through its pprof
// endpoints in the macronode build (scripts/perf/flamegraph.sh).
//
// Exit status: 0 done, 1 the run failed, 2 bad usage.
package main
