package metrics

import (
	"strings"
	"sync"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/svc-dht/svc-dht/wire"
)

// RouteAction is the action label of dht_route_updates_total.
type RouteAction uint8

// Routing table updates.
const (
	RouteAdded    RouteAction = iota // a peer entered a bucket
	RouteUpdated                     // a known peer was refreshed
	RouteCached                      // a peer went to a full bucket's replacement cache
	RouteRejected                    // a peer was not kept (diversity cap, self, bad address...)
	RouteEvicted                     // a peer left a bucket (failed its liveness ping, removed)
	numRouteActions
)

var routeActionNames = [numRouteActions]string{"added", "updated", "cached", "rejected", "evicted"}

// String returns the label value.
func (a RouteAction) String() string {
	if a < numRouteActions {
		return routeActionNames[a]
	}
	return "other"
}

// RecordState is the state label of provider_records_total.
type RecordState uint8

// What happened to provider records this node was asked to keep.
const (
	RecordStored  RecordState = iota // accepted into the store (new or replacing the same publisher's)
	RecordRefused                    // valid but over a store bound (answered 1429)
	RecordInvalid                    // failed verification (bad signature, stale, oversize, malformed)
	RecordExpired                    // removed by an expiry sweep
	numRecordStates
)

var recordStateNames = [numRecordStates]string{"stored", "refused", "invalid", "expired"}

// String returns the label value.
func (s RecordState) String() string {
	if s < numRecordStates {
		return recordStateNames[s]
	}
	return "other"
}

// RepublishResult is the result label of provider_republish_total.
type RepublishResult uint8

// Outcomes of republishing one of this node's own records.
const (
	RepublishOK     RepublishResult = iota // stored by at least one of the k closest nodes
	RepublishFailed                        // no node accepted it, or the lookup failed
	numRepublishResults
)

var republishResultNames = [numRepublishResults]string{"ok", "failed"}

// String returns the label value.
func (r RepublishResult) String() string {
	if r < numRepublishResults {
		return republishResultNames[r]
	}
	return "other"
}

// Opcode labels: the opcodes of proto_ver 1 by value, then "other".
const numOps = int(wire.OpStore) + 2

func opIndex(op wire.Opcode) int {
	if op <= wire.OpStore {
		return int(op)
	}
	return numOps - 1
}

func opName(i int) string {
	if i < numOps-1 {
		return wire.Opcode(i).String()
	}
	return "other"
}

// Result code labels: the codes of proto_ver 1, "transport_down" for an RPC
// that got no answer frame (wire code 0), then "other".
var codeTable = [...]wire.Code{
	wire.CodeOK, wire.CodeBadVersion, wire.CodeNotFound, wire.CodeFrameTooLarge,
	wire.CodeMalformed, wire.CodeQuotaExceeded, wire.CodeBadSignature,
	wire.CodeStaleRecord, wire.CodeNotReady, wire.CodeBusy, wire.CodeTimeout,
}

const (
	codeTransportDown = len(codeTable)
	codeOther         = len(codeTable) + 1
	numCodes          = len(codeTable) + 2
)

func codeIndex(c wire.Code) int {
	switch c {
	case 0:
		return codeTransportDown
	case wire.CodeOK:
		return 0
	case wire.CodeBadVersion:
		return 1
	case wire.CodeNotFound:
		return 2
	case wire.CodeFrameTooLarge:
		return 3
	case wire.CodeMalformed:
		return 4
	case wire.CodeQuotaExceeded:
		return 5
	case wire.CodeBadSignature:
		return 6
	case wire.CodeStaleRecord:
		return 7
	case wire.CodeNotReady:
		return 8
	case wire.CodeBusy:
		return 9
	case wire.CodeTimeout:
		return 10
	}
	return codeOther
}

func codeName(i int) string {
	switch {
	case i < len(codeTable):
		return codeTable[i].String()
	case i == codeTransportDown:
		return wire.KindTransportDown
	}
	return "other"
}

// Signature algorithm labels of pq_verify_fail_total.
const (
	algEd25519 = iota
	algMLDSA87
	algUnknown
	numAlgs
)

var algNames = [numAlgs]string{"ed25519", "ml-dsa-87", "unknown"}

func algIndex(a wire.Alg) int {
	switch a {
	case wire.AlgEd25519:
		return algEd25519
	case wire.AlgMLDSA87:
		return algMLDSA87
	}
	return algUnknown
}

// Known values of the string-labelled families. They are exported at zero
// from the start; other values are created on first use (see counterVec).
var (
	knownHandshakeReasons = []string{"id_mismatch", "bad_cert", "alpn", "timeout", "other"}
	knownQueues           = []string{"work", "verify"}
	knownEndpoints        = []string{"ping", "find_node", "find_value", "provide", "store", "stream", "api"}
	knownRejectReasons    = []string{
		"max_rps", "peer_rps", "max_inflight", "per_key", "per_publisher", "store_full",
		"bad_version", "malformed", "frame_too_large", "bad_signature", "stale_record",
		"pq_required", "not_ready", "stream_timeout",
	}
)

const (
	// maxExtraLabels bounds the values a string-labelled family creates on
	// demand beyond its known ones; further values count as "other".
	maxExtraLabels = 32
	// maxLabelLen bounds a label value created on demand.
	maxLabelLen = 64
)

// counterVec is a counter family with one string label. Known values are
// created by newCounterVec and found without locking (the map never changes
// afterwards); other values are created on first use under mu, at most
// maxExtraLabels of them, after which they count as "other".
type counterVec struct {
	set   *vm.Set
	name  string
	label string
	known map[string]*vm.Counter

	mu    sync.Mutex
	extra map[string]*vm.Counter
}

func newCounterVec(set *vm.Set, name, label string, known []string) *counterVec {
	v := &counterVec{set: set, name: name, label: label,
		known: make(map[string]*vm.Counter, len(known)), extra: make(map[string]*vm.Counter)}
	for _, k := range known {
		v.known[k] = set.NewCounter(series(name, label, k))
	}
	return v
}

// inc adds one to the counter of value.
func (v *counterVec) inc(value string) {
	if c := v.known[value]; c != nil {
		c.Inc()
		return
	}
	v.slow(value).Inc()
}

func (v *counterVec) slow(value string) *vm.Counter {
	v.mu.Lock()
	defer v.mu.Unlock()
	if c := v.extra[value]; c != nil {
		return c
	}
	if !validLabelValue(value) || len(v.extra) >= maxExtraLabels {
		value = "other"
		if c := v.known[value]; c != nil {
			return c
		}
		if c := v.extra[value]; c != nil {
			return c
		}
	}
	value = strings.Clone(value)
	c := v.set.NewCounter(series(v.name, v.label, value))
	v.extra[value] = c
	return c
}

// validLabelValue accepts the label values created on demand: non-empty,
// short, printable ASCII.
func validLabelValue(s string) bool {
	if s == "" || len(s) > maxLabelLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// series returns `name{label="value"}` with the value escaped.
func series(name, label, value string) string {
	return name + "{" + label + `="` + escapeLabel(value) + `"}`
}

// escapeLabel escapes a label value for the Prometheus text format.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return string(appendLabelValue(nil, s))
}

// appendLabelValue appends s escaped for the Prometheus text format
// (backslash, double quote and newline).
func appendLabelValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}
