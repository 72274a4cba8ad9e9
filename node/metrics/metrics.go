package metrics

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/seeds"
	"github.com/svc-dht/svc-dht/wire"
)

// Histogram bucket upper bounds (read-only tables).
var (
	// latencyBuckets are the bounds of dht_lookup_latency_seconds, in
	// seconds; 0.2 and 0.4 are the p95 and p99 lookup SLOs.
	latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.5, 1, 2, 5, 10}
	// hopBuckets are the bounds of dht_lookup_hops_histogram (SPEC §9).
	hopBuckets = []float64{1, 2, 3, 4, 5, 6, 8, 10}
	// serverBuckets are the bounds of dht_rpc_server_seconds (macronode).
	serverBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}
)

// Lookup operation labels of the lookup histograms.
const (
	lookupFindNode = iota
	lookupFindValue
	lookupProvide
	lookupOther
	numLookupOps
)

var lookupOpNames = [numLookupOps]string{"find_node", "find_value", "provide", "other"}

func lookupIndex(op wire.Opcode) int {
	switch op {
	case wire.OpFindNode:
		return lookupFindNode
	case wire.OpFindValue:
		return lookupFindValue
	case wire.OpProvide:
		return lookupProvide
	}
	return lookupOther
}

// BucketSource gives the routing table's per-bucket statistics at scrape
// time. A *kbucket.Snapshot implements it; a runtime that replaces its
// snapshot implements it by returning the latest one's Buckets. It is
// called from the scraping goroutine and must be safe for concurrent use.
type BucketSource interface {
	Buckets() []kbucket.BucketStats
}

// GroupCount is the number of entries of one diversity group (an ASN, or
// an address prefix standing in for one) in one bucket.
type GroupCount struct {
	Bucket int
	Group  kbucket.Group
	Peers  int
}

// BucketGroupSource is implemented by a BucketSource that can also break
// each bucket down by diversity group; the macronode build then exports
// dht_bucket_asn_peers{bucket,asn}. BucketGroups appends the counts of the
// non-empty groups of every bucket to dst.
type BucketGroupSource interface {
	BucketGroups(dst []GroupCount) []GroupCount
}

// SeedSource gives the bootstrap seeds' state at scrape time for
// dht_bootstrap_seeds_up{seed}. A *seeds.Runner implements it. It is called
// from the scraping goroutine and must be safe for concurrent use.
type SeedSource interface {
	Status(dst []seeds.SeedStatus) []seeds.SeedStatus
}

// Metrics holds one node's metrics. Create it with New; all methods are safe
// for concurrent use.
type Metrics struct {
	fams []*family // in name order

	lookupLatency [numLookupOps]*vm.PrometheusHistogram
	lookupHops    [numLookupOps]*vm.PrometheusHistogram
	lookupSet     [2]*vm.Set // latency, hops: for the lazily created "other" op

	rpcs     lazyCounters
	inflight atomic.Int64

	hedgeSpawned  *vm.Counter
	hedgeCanceled *vm.Counter
	routeUpdates  [numRouteActions]*vm.Counter

	readyFill      atomic.Uint64 // float64 bits
	firstDial      atomic.Uint64 // float64 bits
	firstDialKnown atomic.Bool

	records     [numRecordStates]*vm.Counter
	republish   [numRepublishResults]*vm.Counter
	pqDual      atomic.Uint64 // verified records with a post-quantum signature
	pqVerified  atomic.Uint64 // verified records
	pqFail      [numAlgs]*vm.Counter
	pqClassical *vm.Counter

	handshakeFailures *counterVec
	queueDropped      *counterVec
	busy              *counterVec
	rejected          *counterVec

	queueSet *vm.Set
	queueMu  sync.Mutex
	queues   map[string]bool

	// macronode
	served        lazyCounters
	serverSet     *vm.Set
	serverSeconds [numOps]atomic.Pointer[vm.PrometheusHistogram]

	mu      sync.Mutex // guards the sources and the "other" lookup histograms
	buckets BucketSource
	seedSrc SeedSource

	sizeHint atomic.Int64 // size of the last rendering
}

// lazyCounters is an op × code counter family whose series are created on
// first use: only the combinations that occur are exported.
type lazyCounters struct {
	set  *vm.Set
	name string
	c    [numOps][numCodes]atomic.Pointer[vm.Counter]
}

func (l *lazyCounters) inc(op wire.Opcode, code wire.Code) {
	o, k := opIndex(op), codeIndex(code)
	if c := l.c[o][k].Load(); c != nil {
		c.Inc()
		return
	}
	c := l.set.GetOrCreateCounter(l.name + `{op="` + opName(o) + `",code="` + codeName(k) + `"}`)
	l.c[o][k].Store(c)
	c.Inc()
}

// New returns the metrics of one node. The series of closed label sets
// (route actions, record states, the known string labels, ...) start at
// zero; dht_rpcs_total combinations appear when they first occur, and the
// families read from sources when a source is set.
func New() *Metrics {
	m := &Metrics{queues: make(map[string]bool)}
	m.readyFill.Store(math.Float64bits(0))

	latency, hops := m.histogramFamily("dht_lookup_latency_seconds",
		"Duration of the node's own lookups (FIND_NODE, FIND_VALUE, PROVIDE), by operation."),
		m.histogramFamily("dht_lookup_hops_histogram",
			"Hops of the node's own lookups: the length of the discovery chain to the node that gave the answer.")
	m.lookupSet = [2]*vm.Set{latency, hops}
	for i := range lookupOther {
		m.lookupLatency[i] = latency.NewPrometheusHistogramExt(series("dht_lookup_latency_seconds", "op", lookupOpNames[i]), latencyBuckets)
		m.lookupHops[i] = hops.NewPrometheusHistogramExt(series("dht_lookup_hops_histogram", "op", lookupOpNames[i]), hopBuckets)
	}

	m.rpcs = lazyCounters{name: "dht_rpcs_total", set: m.setFamily("dht_rpcs_total", "counter",
		"RPCs this node sent, by opcode and outcome: the answer's result code, or transport_down when no answer frame arrived.")}
	m.setFamily("dht_rpcs_inflight", "gauge", "RPCs this node sent that await their answer.").
		NewGauge("dht_rpcs_inflight", func() float64 { return float64(m.inflight.Load()) })

	m.hedgeSpawned = m.setFamily("dht_hedge_spawned_total", "counter",
		"Hedged probes sent because a lookup probe was unanswered after hedge_after.").NewCounter("dht_hedge_spawned_total")
	m.hedgeCanceled = m.setFamily("dht_hedge_canceled_total", "counter",
		"Probes cancelled because a hedged competitor answered first.").NewCounter("dht_hedge_canceled_total")

	m.customFamily("dht_bucket_occupancy", "gauge", "Entries in each non-empty routing table bucket.", writeOccupancy)
	m.customFamily("dht_bucket_asn_entropy_bits", "gauge",
		"Shannon entropy, in bits, of the ASN mix of each non-empty bucket (address prefixes stand in for unknown ASNs).", writeEntropy)
	m.customFamily("dht_bucket_asn_max_pct", "gauge",
		"Share (0-1) of each non-empty bucket's capacity held by its largest ASN.", writeMaxPct)

	routes := m.setFamily("dht_route_updates_total", "counter", "Routing table updates, by action.")
	for a := range numRouteActions {
		m.routeUpdates[a] = routes.NewCounter(series("dht_route_updates_total", "action", a.String()))
	}

	m.customFamily("dht_bootstrap_seeds_up", "gauge",
		"1 when the bootstrap seed answered and was not lost since, else 0.", writeSeeds)
	m.setFamily("dht_ready_bucket_fill_pct", "gauge",
		"Share (0-1) of the buckets populatable at the estimated network size that are non-empty (readiness input).").
		NewGauge("dht_ready_bucket_fill_pct", func() float64 { return math.Float64frombits(m.readyFill.Load()) })
	m.customFamily("dht_boot_first_dial_seconds", "gauge",
		"Seconds from process start to the first bootstrap seed dial (absent until it happens).", m.writeFirstDial)

	recs := m.setFamily("provider_records_total", "counter", "Provider records this node was asked to keep, by what became of them.")
	for s := range numRecordStates {
		m.records[s] = recs.NewCounter(series("provider_records_total", "state", s.String()))
	}
	rep := m.setFamily("provider_republish_total", "counter", "Republications of this node's own provider records, by result.")
	for r := range numRepublishResults {
		m.republish[r] = rep.NewCounter(series("provider_republish_total", "result", r.String()))
	}

	m.setFamily("pq_dual_sign_ratio", "gauge",
		"Share (0-1) of the verified provider records that carry a post-quantum signature; NaN before the first.").
		NewGauge("pq_dual_sign_ratio", m.dualSignRatio)
	fails := m.setFamily("pq_verify_fail_total", "counter", "Provider record verifications failed, by the signature algorithm that failed.")
	for a := range numAlgs {
		m.pqFail[a] = fails.NewCounter(series("pq_verify_fail_total", "alg", algNames[a]))
	}
	m.pqClassical = m.setFamily("pq_classical_only_total", "counter",
		"Classical-only provider records received on or after pq.require_pq_on.").NewCounter("pq_classical_only_total")

	m.handshakeFailures = newCounterVec(m.setFamily("tls_handshake_failures_total", "counter", "Failed QUIC/TLS handshakes, by reason."),
		"tls_handshake_failures_total", "reason", knownHandshakeReasons)
	m.queueSet = m.setFamily("queue_depth", "gauge", "Items waiting in each bounded queue.")
	m.queueDropped = newCounterVec(m.setFamily("queue_dropped_total", "counter", "Items dropped because their bounded queue was full."),
		"queue_dropped_total", "queue", knownQueues)
	m.busy = newCounterVec(m.setFamily("busy_rejections_total", "counter", "Requests answered Busy (1501) at once because the work queue was full, by endpoint."),
		"busy_rejections_total", "endpoint", knownEndpoints)
	m.rejected = newCounterVec(m.setFamily("rejected_total", "counter", "Requests or records refused before or during processing, by reason (quota kind or result code)."),
		"rejected_total", "reason", knownRejectReasons)

	if Macronode {
		m.served = lazyCounters{name: "dht_rpcs_served_total", set: m.setFamily("dht_rpcs_served_total", "counter",
			"RPCs this node answered, by opcode and the result code it sent.")}
		m.serverSet = m.histogramFamily("dht_rpc_server_seconds", "Time from an RPC request's arrival to its answer being written, by opcode.")
		m.customFamily("dht_bucket_cached", "gauge", "Candidates in each bucket's replacement cache.", writeCached)
		m.customFamily("dht_bucket_asn_peers", "gauge", "Entries of each diversity group (ASN or address prefix) in each bucket.", writeGroups)
		m.customFamily("dht_bucket_low_diversity_buckets", "gauge",
			"Full buckets whose ASN entropy is below diversity.asn_entropy_min.", writeLowDiversity)
	}
	sortFamilies(m.fams)
	return m
}

// Lookup records a finished lookup of this node: op is FIND_NODE,
// FIND_VALUE or PROVIDE (others count as "other"), latency its duration,
// hops its hop count.
func (m *Metrics) Lookup(op wire.Opcode, latency time.Duration, hops int) {
	i := lookupIndex(op)
	if i == lookupOther {
		m.otherLookup()
	}
	m.lookupLatency[i].Update(latency.Seconds())
	m.lookupHops[i].Update(float64(hops))
}

func (m *Metrics) otherLookup() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lookupLatency[lookupOther] == nil {
		m.lookupLatency[lookupOther] = m.lookupSet[0].NewPrometheusHistogramExt(series("dht_lookup_latency_seconds", "op", "other"), latencyBuckets)
		m.lookupHops[lookupOther] = m.lookupSet[1].NewPrometheusHistogramExt(series("dht_lookup_hops_histogram", "op", "other"), hopBuckets)
	}
}

// RPCStarted counts an RPC this node sent as in flight (dht_rpcs_inflight);
// RPCFinished must follow it.
func (m *Metrics) RPCStarted() { m.inflight.Add(1) }

// RPCFinished ends an RPC started with RPCStarted and counts it in
// dht_rpcs_total{op,code}: code is the answer's result code, or 0 when no
// answer frame arrived (transport failure: label transport_down; use
// wire.CodeTimeout for a timeout).
func (m *Metrics) RPCFinished(op wire.Opcode, code wire.Code) {
	m.inflight.Add(-1)
	m.rpcs.inc(op, code)
}

// RPCServed records an RPC this node answered with code, d after the
// request arrived (macronode: dht_rpcs_served_total, dht_rpc_server_seconds;
// a no-op in micronode).
func (m *Metrics) RPCServed(op wire.Opcode, code wire.Code, d time.Duration) {
	if !Macronode {
		return
	}
	m.served.inc(op, code)
	o := opIndex(op)
	h := m.serverSeconds[o].Load()
	if h == nil {
		h = m.serverSet.GetOrCreatePrometheusHistogramExt(series("dht_rpc_server_seconds", "op", opName(o)), serverBuckets)
		m.serverSeconds[o].Store(h)
	}
	h.Update(d.Seconds())
}

// HedgesSpawned adds n hedged probes (dht_hedge_spawned_total).
func (m *Metrics) HedgesSpawned(n int) {
	if n > 0 {
		m.hedgeSpawned.Add(n)
	}
}

// HedgesCanceled adds n probes cancelled because a hedged competitor won
// (dht_hedge_canceled_total).
func (m *Metrics) HedgesCanceled(n int) {
	if n > 0 {
		m.hedgeCanceled.Add(n)
	}
}

// RouteUpdates adds n routing table updates of kind a
// (dht_route_updates_total{action}).
func (m *Metrics) RouteUpdates(a RouteAction, n int) {
	if n > 0 && a < numRouteActions {
		m.routeUpdates[a].Add(n)
	}
}

// SetReadyBucketFillPct sets dht_ready_bucket_fill_pct: the share (0-1) of
// populatable buckets that are non-empty (kbucket.Table.BucketFillPct).
func (m *Metrics) SetReadyBucketFillPct(f float64) {
	m.readyFill.Store(math.Float64bits(f))
}

// SetFirstDial sets dht_boot_first_dial_seconds: how long after process
// start the first seed dial began (seeds.Runner.FirstDialAt). The family is
// absent until it is set.
func (m *Metrics) SetFirstDial(d time.Duration) {
	m.firstDial.Store(math.Float64bits(d.Seconds()))
	m.firstDialKnown.Store(true)
}

// ProviderRecords adds n records to provider_records_total{state}.
func (m *Metrics) ProviderRecords(s RecordState, n int) {
	if n > 0 && s < numRecordStates {
		m.records[s].Add(n)
	}
}

// Republish counts one republication of an own record
// (provider_republish_total{result}).
func (m *Metrics) Republish(r RepublishResult) {
	if r < numRepublishResults {
		m.republish[r].Inc()
	}
}

// RecordVerified records the outcome of verifying a received provider
// record, as identity.Verifier.Verify returned it: a failing algorithm
// counts in pq_verify_fail_total{alg}, an overdue classical-only record in
// pq_classical_only_total, and a record that verified enters
// pq_dual_sign_ratio.
func (m *Metrics) RecordVerified(info identity.VerifyInfo, err error) {
	if info.FailedAlg != 0 {
		m.pqFail[algIndex(info.FailedAlg)].Inc()
	}
	if info.PQOverdue {
		m.pqClassical.Inc()
	}
	if err == nil {
		// The total first, so that pqDual never exceeds it.
		m.pqVerified.Add(1)
		if !info.ClassicalOnly {
			m.pqDual.Add(1)
		}
	}
}

func (m *Metrics) dualSignRatio() float64 {
	// pqDual first: the later load of the total is at least as large.
	dual := m.pqDual.Load()
	total := m.pqVerified.Load()
	if total == 0 {
		return math.NaN()
	}
	return float64(dual) / float64(total)
}

// TLSHandshakeFailed counts a failed handshake
// (tls_handshake_failures_total{reason}); the transport's reasons are
// id_mismatch, bad_cert, alpn, timeout and other.
func (m *Metrics) TLSHandshakeFailed(reason string) { m.handshakeFailures.inc(reason) }

// QueueDropped counts an item dropped from a full queue
// (queue_dropped_total{queue}): "work" (inbound RPCs) and "verify"
// (signature verification) are known.
func (m *Metrics) QueueDropped(queue string) { m.queueDropped.inc(queue) }

// BusyRejected counts a request answered Busy (1501) at once
// (busy_rejections_total{endpoint}): endpoint is the RPC's opcode name
// (wire.Opcode.String), "stream" for a stream refused by the transport's
// cap, or "api" for the local API.
func (m *Metrics) BusyRejected(endpoint string) { m.busy.inc(endpoint) }

// Rejected counts a request or record refused (rejected_total{reason}):
// reason is a quota kind (max_rps, peer_rps, max_inflight, per_key,
// per_publisher, store_full), a result code name (bad_signature,
// stale_record, malformed, ...), stream_timeout or pq_required.
func (m *Metrics) Rejected(reason string) { m.rejected.inc(reason) }

// QueueDepthFunc exports queue_depth{queue} for queue, read from depth at
// scrape time (for example the length of a channel). Each queue can be
// registered once; depth must be safe for concurrent use.
func (m *Metrics) QueueDepthFunc(queue string, depth func() int) error {
	if depth == nil {
		return errors.New("metrics: queue depth: nil func")
	}
	if !validLabelValue(queue) {
		return fmt.Errorf("metrics: queue depth: invalid queue name %q", queue)
	}
	m.queueMu.Lock()
	defer m.queueMu.Unlock()
	if m.queues[queue] {
		return fmt.Errorf("metrics: queue depth: queue %q already registered", queue)
	}
	if len(m.queues) >= maxExtraLabels {
		return fmt.Errorf("metrics: queue depth: more than %d queues", maxExtraLabels)
	}
	m.queues[queue] = true
	m.queueSet.NewGauge(series("queue_depth", "queue", queue), func() float64 { return float64(depth()) })
	return nil
}

// SetBucketSource sets where the per-bucket families are read from at
// scrape time; nil removes them.
func (m *Metrics) SetBucketSource(src BucketSource) {
	m.mu.Lock()
	m.buckets = src
	m.mu.Unlock()
}

// SetSeedSource sets where dht_bootstrap_seeds_up is read from at scrape
// time; nil removes it.
func (m *Metrics) SetSeedSource(src SeedSource) {
	m.mu.Lock()
	m.seedSrc = src
	m.mu.Unlock()
}

// CountGroups appends to dst the entries per diversity group of every
// non-empty bucket of s, as BucketGroupSource reports them; groupOf maps a
// peer's observed IP to its group (kbucket.Table.Group). Call it where
// groupOf may be called (the table's owner) and publish the result.
func CountGroups(dst []GroupCount, s *kbucket.Snapshot, groupOf func(netip.Addr) kbucket.Group) []GroupCount {
	for i := range kbucket.NumBuckets {
		peers := s.Bucket(i)
		first := len(dst)
		for j := range peers {
			g := groupOf(peers[j].Addr.Addr())
			k := first
			for k < len(dst) && dst[k].Group != g {
				k++
			}
			if k == len(dst) {
				dst = append(dst, GroupCount{Bucket: i, Group: g})
			}
			dst[k].Peers++
		}
	}
	return dst
}
