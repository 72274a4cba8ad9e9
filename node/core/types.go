package core

import (
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// RecordVerifier checks a provider record (signatures, publisher, freshness,
// size) at time now. Errors should carry a wire code (wire.CodeOf): 1440 bad
// signature, 1441 stale, 1413 too large, 1422 malformed. node/identity
// provides the real implementation.
type RecordVerifier interface {
	Verify(rec *wire.ProviderRecord, now time.Time) error
}

// RecordSigner fills the Publisher, Signers and Sigs of a record whose other
// fields (ProtoVer, Key, Addrs, TTL, TS) are set. Signed records are treated
// as immutable afterwards: the core shares them between probes.
type RecordSigner interface {
	SignRecord(rec *wire.ProviderRecord) error
}

// ProbeID names one outbound RPC of a core. It is never reused.
type ProbeID uint64

// LookupID names one operation (lookup, provide, ping) of a core.
type LookupID uint64

// TimerID names a timer the core asked the runtime to arm. Arming a timer
// again with the same ID while an earlier one is pending is allowed: the
// core tolerates early, late and duplicate firings.
type TimerID uint64

// Request is a decoded RPC request body (the runtime decodes the envelope
// and body; the core never sees bytes).
type Request struct {
	Op     wire.Opcode
	Key    kbucket.ID           // FIND_NODE target, FIND_VALUE key, STORE key
	Record *wire.ProviderRecord // PROVIDE
	Value  []byte               // STORE value
	Sigs   []wire.Signature     // STORE signatures
	Hedge  bool                 // the envelope carries the HEDGE flag
}

// Response is a decoded RPC response body. The core fills one in
// HandleRequest (reusing its slices' capacity) and reads one in
// HandleResponse (copying what it keeps: the caller may reuse it after the
// call returns).
type Response struct {
	Op        wire.Opcode
	Code      wire.Code
	Reason    string
	Self      wire.NodeInfo         // PING
	Closest   []wire.NodeInfo       // FIND_NODE; FIND_VALUE without providers
	Providers []wire.ProviderRecord // FIND_VALUE
	Accepted  bool                  // PROVIDE, STORE
}

// reset clears r for op, keeping the capacity of its slices.
func (r *Response) reset(op wire.Opcode) {
	clear(r.Closest)
	clear(r.Providers)
	*r = Response{Op: op, Code: wire.CodeOK, Closest: r.Closest[:0], Providers: r.Providers[:0]}
}

// ActionKind says what an Action asks of the runtime.
type ActionKind uint8

// The action kinds.
const (
	// ActSend: send Req to Peer and report the outcome for Probe with
	// HandleResponse or HandleFailure (or not at all once cancelled). The
	// core enforces RPCTimeout itself with a timer.
	ActSend ActionKind = iota + 1
	// ActCancel: abandon Probe (a hedged loser, a timed-out probe, or a
	// probe of a finished lookup). Any later answer for it is ignored.
	ActCancel
	// ActArmTimer: call HandleTimer(Timer) at Deadline.
	ActArmTimer
	// ActDone: an operation finished; Result describes it.
	ActDone
)

// Action is one instruction from the core to its runtime.
type Action struct {
	Kind     ActionKind
	Probe    ProbeID
	Peer     kbucket.Peer // ActSend: the destination (ID, advertised and, when known, observed address)
	Req      Request      // ActSend
	Timer    TimerID      // ActArmTimer
	Deadline time.Time    // ActArmTimer
	Result   *Result      // ActDone; owned by the receiver
}

// Purpose says why an operation ran.
type Purpose uint8

// The purposes of operations.
const (
	PurposeUser      Purpose = iota // started by the caller
	PurposeBootstrap                // the join self-lookup
	PurposeRefresh                  // a bucket refresh
	PurposeRepublish                // republishing an own provider record
)

// Result describes a finished operation.
type Result struct {
	ID      LookupID
	Op      wire.Opcode // OpPing, OpFindNode, OpFindValue or OpProvide
	Purpose Purpose
	Target  kbucket.ID
	// Err is nil on success. Otherwise: wire.ErrNotFound (FIND_VALUE found
	// no provider), wire.ErrHopExceeded (the closest candidate lies beyond
	// the hop budget), wire.ErrNoBootstrap (no peer to ask),
	// wire.ErrTimeout (every peer asked failed), or a quota error.
	Err error
	// Closest are the answered nodes closest to Target, ascending by
	// distance, at most K (FIND_NODE, PROVIDE, and FIND_VALUE without
	// providers).
	Closest []kbucket.Peer
	// Providers are the distinct verified records found (FIND_VALUE).
	Providers []wire.ProviderRecord
	// Replicas is how many of the K closest accepted the record (PROVIDE).
	Replicas int
	// Hops is the length of the discovery chain to the node that gave the
	// answer; see the package documentation.
	Hops     int
	RPCs     int // probes sent, hedges included
	Hedges   int // hedged probes spawned
	Canceled int // hedged losers cancelled
	Failures int // probes that failed or timed out
	Started  time.Time
	Finished time.Time
}

// Latency is Finished - Started.
func (r *Result) Latency() time.Duration { return r.Finished.Sub(r.Started) }

// Stats are a core's cumulative counters, for the runtime's metrics.
type Stats struct {
	Requests       [5]uint64 // inbound requests by opcode (PING..STORE)
	QuotaRejected  uint64    // inbound requests answered 1429 by the rate limits
	BadRequests    uint64    // inbound requests answered 1422
	ProbesSent     uint64
	ProbesAnswered uint64
	ProbesFailed   uint64 // transport failures and timeouts
	ProbesTimedOut uint64
	ProbesErrCode  uint64 // answered with a non-OK code
	HedgesSpawned  uint64 // dht_hedge_spawned_total
	HedgesCanceled uint64 // dht_hedge_canceled_total
	RouteAdded     uint64 // dht_route_updates_total{action}
	RouteUpdated   uint64
	RouteCached    uint64
	RouteRejected  uint64
	RouteEvicted   uint64
	EvictPings     uint64 // ping-before-evict probes sent
	EvictSkipped   uint64 // ping-before-evict skipped: the entry was heard from within EvictPingMinAge
	LookupsStarted uint64
	LookupsFailed  uint64
	Refreshes      uint64 // bucket-refresh lookups started (after a join and periodic)
	SilentChecks   uint64 // pings of full buckets' entries silent for a refresh interval
	RecordsStored  uint64 // provider_records_total{state}
	RecordsRefused uint64
	RecordsExpired uint64
	Republished    uint64 // provider_republish_total
	RepublishFail  uint64
}
