// Package runtime is the real node runtime (SPEC §7-8): it drives the
// protocol core (node/core, a state machine without I/O) over the QUIC
// transport (node/transport), with the configuration (node/config), the
// seeds (seeds), persistence (node/persist), metrics, ops plane and logs
// (node/metrics, node/ops, node/logx), and it is the backend of the local
// client API (node/api).
//
//	n, err := runtime.New(cfg, runtime.Options{ProcessStart: start})
//	err = n.Start(ctx)      // serve, dial the seeds, then slow init
//	...
//	err = n.Shutdown(ctx)   // /readyz 503, drain, persist, stop
//
// # Goroutines and why
//
// The core is single-threaded by design: it owns the routing table (single
// writer), the provider store and the lookups. One goroutine, the owner,
// is the only caller of the core. Everything reaches it through channels —
// inbound requests, probe outcomes, calls from the API, the seeds and the
// persistence code — and its timers come from one time.Timer armed for
// the head of a min-heap (the core's ActArmTimer, the retry of a failed
// bootstrap, plus a housekeeping tick, every second unless
// Options.HousekeepingInterval says otherwise: readiness, the published
// table snapshot, bootstrap retries, periodic snapshot saves). No lock guards the core, so
// HandleRequest is never on a lock-contention path.
//
// The work around each request is done elsewhere, in parallel:
//
//   - Intake, on the transport's stream goroutine (the transport runs one
//     per inbound stream, up to its own cap): refuse while draining (1501),
//     then the cheap quotas before any heavy work — the inflight cap
//     (limits.max_inflight), the per-peer rate (limits.peer_rps, GCRA in
//     16 locked shards) and the global rate (limits.max_rps, a lock-free
//     GCRA) — each answered 1429 and counted in rejected_total{reason};
//     then a non-blocking offer to the event loops' bounded queues, round
//     robin. All full: 1501 Busy at once, counted in
//     queue_dropped_total{queue="work"} and
//     busy_rejections_total{endpoint}; a reader never blocks on a queue.
//   - Event loops, event_loops of them (0 = GOMAXPROCS), each owning a
//     queue of queue_cap.work / event_loops requests: decode and validate
//     the envelope and body, verify a PROVIDE record's signatures, hand
//     the decoded request to the owner and wait for its answer, encode the
//     response into the transport's pooled buffer. A loop waits for the
//     owner synchronously: at most one request per loop is at the owner, so
//     the owner's inbound channel needs no more room than the loop count
//     and a stalled owner backs up into the queues (and so into 1501), never
//     into unbounded memory.
//   - Probes: each ActSend runs in a goroutine of its own (or one that
//     Options.Go provides, such as a shared GoPool's) that encodes the
//     request (fresh corr_id, ts, HEDGE flag), calls the peer with
//     transport.Call (its NodeID expected, rpc_timeout), decodes and checks
//     the answer (a response, same opcode, same corr_id) and verifies the
//     provider records of a FIND_VALUE answer, then reports to the owner.
//     ActCancel cancels the probe's context: a hedged loser's stream is
//     reset at once. Failures reach the core with their wire code kept.
//   - Signatures never run on the owner: inbound PROVIDE records are
//     verified by the event loop (or the verification pool), FIND_VALUE
//     answers by the probe goroutine, and the core's RecordVerifier hands
//     it those verdicts back by pointer identity. API provides are signed
//     (ML-DSA-87 included, per pq.dual_sign) by the caller's goroutine and
//     the core's RecordSigner hands the signed record back; only the
//     republications (every provider.refresh_secs) are signed on the owner.
//
// Build flavours. The micronode build (default) runs: the owner, the
// event loops (event_loops; on a single-core router that is one), the
// seed dialer and its dials while bootstrapping, one goroutine per
// outstanding probe, and the transport's (accept loop per socket, one per
// connection, one per inbound stream being served) and the ops plane's.
// The macronode build adds a verification pool of GOMAXPROCS workers with
// its own bounded queue (queue_depth{queue="verify"}), so that ML-DSA-87
// checks of PROVIDE floods do not hold up the loops' FIND_NODE traffic.
//
// Benchmarks (this package): the node's side of a FIND_NODE through the
// runtime (intake, queue, decode, owner, encode) does not allocate
// (BenchmarkServeFindNode); BenchmarkFindNodeRPC measures the whole RPC
// over loopback QUIC.
//
// # Seeds, bootstrap, readiness
//
// Start runs the owner and loops, then the seed runner (seeds.Runner over
// the configured seeds plus, with bootstrap.use_default_seeds, the
// embedded list), so the first dial starts before the slow
// initialisation: the ASN table of diversity.asn_db (installed into the
// routing table's resolver once loaded; peers admitted before keep their
// prefix group) and the snapshots. A dial is a PING to the seed, its pinned
// NodeID checked by the TLS handshake. The time from Options.ProcessStart
// to the first dial is exported as dht_boot_first_dial_seconds and logged
// (first_dial, field first_dial_ms). An answering seed enters the routing
// table and the first one starts the core's bootstrap lookup (if it fails,
// retried after half a second, then every five seconds).
//
// ReadyStatus (and /readyz) says ready when bootstrap.required seeds
// answered, the bootstrap lookup finished, and then
// bootstrap.ready_bucket_fill_pct of the buckets populatable at the
// estimated network size are non-empty (kbucket.Table.BucketFillPct at
// core.NetworkSizeEstimate, refreshed every housekeeping tick, after the
// bootstrap, and until the node is ready after each lookup it ran). Otherwise it lists what is missing ("seeds: 0/1 answered",
// "bootstrap: self-lookup not finished", "buckets: 12% < 50%") with a
// retry_after. A node without seeds is the first node of its network: it is
// ready at once and says so (first_node).
//
// # Shutdown
//
// Shutdown: /readyz answers 503 "draining" first (ops SetDraining); new
// requests get 1501 Busy; in-flight requests drain for up to
// shutdown_timeout (transport.Drain: it returns once the streams being
// served have written their answers); the seed runner stops; the snapshots
// are saved
// (without amnesia); the transport closes (it waits for its handlers,
// which the still-running owner and loops complete); then the owner,
// loops and probes stop and every goroutine of the node has exited when
// Shutdown returns.
//
// # Persistence
//
// Without amnesia the identity key is loaded or generated (0600) by the
// key store (node/persist) at New; the routing table and provider store
// snapshots are loaded in Start (records verified again; a corrupt
// snapshot is logged as snapshot_corrupt and ignored) and saved every
// Options.SnapshotInterval and at shutdown. With amnesia nothing is
// written anywhere: the identity lives in RAM.
//
// The provider store is saved with the table (core.ProviderRecords) and
// restored at Start (core.ImportProvider, within the store's bounds;
// expired records are dropped), so a restarted node keeps serving the
// records it held to FIND_VALUE. The node's own publications are not
// persisted: after a restart the application provides again.
//
// # Reload and addresses
//
// Reload applies every reloadable key at once except bootstrap.seeds and
// bootstrap.use_default_seeds (returned as deferred): log.level, limits.*,
// shutdown_timeout, the readiness thresholds, the pq.* and
// provider.max_record_bytes record policy, the core's knobs (alpha, beta,
// hop_budget, rpc_timeout, hedge_after, bucket_refresh_interval,
// provider.ttl_secs and refresh_secs, the store bounds: core.SetTunables,
// used by new lookups and by running ones from their next probe) and the
// transport's happy_eyeballs_delay. limits.max_inflight counts the inbound
// requests admitted and not yet answered, queued ones included; the
// transport serves at least max(1024, limits.max_inflight at start)
// streams at once, so raising it on reload beyond that is capped by the
// transport (1501). A provide from the API with its own ttl keeps that ttl
// in every republication.
//
// The node advertises advertise_addrs (PING answers; the default addrs of
// its provider records) or, when that is empty, listen_addr unless it is a
// wildcard. A node on a wildcard address without advertise_addrs
// advertises nothing: peers use the address its packets come from, and an
// API provide must then pass addrs.
package runtime
