package perfresult

import (
	"time"
)

// SchemaVersion is the version of the result schema this package reads and
// writes. It changes when a field changes meaning or is removed; readers
// refuse other versions.
const SchemaVersion = 1

// Mode is the harness mode that produced a result.
type Mode string

// The harness modes.
const (
	// ModeVirtual is the discrete-event simulator on a virtual clock.
	ModeVirtual Mode = "virtual"
	// ModeSwarm is a real-time in-process swarm of real node runtimes over
	// an in-memory network that injects RTT, jitter and loss.
	ModeSwarm Mode = "swarm"
	// ModeTarget is a load generator against one running daemon over QUIC.
	ModeTarget Mode = "target"
	// ModeColdStart starts a daemon binary again and again and times each
	// start from exec to its first seed dial (ColdStartMS).
	ModeColdStart Mode = "cold_start"
)

// Valid reports whether m is one of the harness modes.
func (m Mode) Valid() bool {
	return m == ModeVirtual || m == ModeSwarm || m == ModeTarget || m == ModeColdStart
}

// Operation names used as keys of Result.Ops (the wire opcodes' names).
const (
	OpPing      = "ping"
	OpFindNode  = "find_node"
	OpFindValue = "find_value"
	OpProvide   = "provide"
	OpStore     = "store"
)

// OpNames returns the operation names in display order.
func OpNames() []string {
	return []string{OpFindNode, OpFindValue, OpProvide, OpStore, OpPing}
}

// Result is one harness run.
type Result struct {
	// SchemaVersion must equal the package's SchemaVersion.
	SchemaVersion int `json:"schema_version"`
	// Tool names the program that wrote the result ("svc-dht-perf").
	Tool string `json:"tool"`
	// Version and Git identify the build of the code under test (the
	// module version or "devel", and the VCS revision, "+dirty" appended
	// for a modified tree).
	Version string `json:"version,omitempty"`
	Git     string `json:"git,omitempty"`
	// Mode is the harness mode.
	Mode Mode `json:"mode"`
	// Command is the exact command line that produced the result, so that
	// it can be run again.
	Command string `json:"command"`
	// Machine describes where it ran.
	Machine Machine `json:"machine"`
	// StartedAt is the wall-clock start of the run.
	StartedAt time.Time `json:"started_at"`
	// DurationS is the length of the measured phase in seconds (virtual
	// seconds in ModeVirtual).
	DurationS float64 `json:"duration_s"`
	// Params are the workload parameters.
	Params Params `json:"params"`

	// Ops holds the statistics of each operation, keyed by operation name
	// (OpFindNode, ...). In ModeTarget an operation is one RPC; in the
	// other modes it is one client-level lookup or PROVIDE.
	Ops map[string]OpStats `json:"ops,omitempty"`
	// Hops is the distribution of lookup hop counts.
	Hops *Hops `json:"hops,omitempty"`
	// AchievedRPS is the RPC rate actually sustained over the run.
	AchievedRPS *float64 `json:"achieved_rps,omitempty"`
	// ErrorBudget holds the error-budget ratios of the profile's §1.
	ErrorBudget *ErrorBudget `json:"error_budget,omitempty"`
	// CPU is the CPU use of the measured process.
	CPU *CPU `json:"cpu,omitempty"`
	// AllocsPerRPC is the number of heap allocations of the measured
	// process per RPC it handled.
	AllocsPerRPC *float64 `json:"allocs_per_rpc,omitempty"`
	// PeakRSSMiB is the peak resident set size of the measured process.
	PeakRSSMiB *float64 `json:"peak_rss_mib,omitempty"`
	// RSSPerPeerMiB is the peak RSS divided by the number of peers run in
	// the process (ModeSwarm).
	RSSPerPeerMiB *float64 `json:"rss_per_peer_mib,omitempty"`
	// ReadyS is the distribution over peers of the time from start until
	// the peer was ready (/readyz 200).
	ReadyS *Ready `json:"ready_s,omitempty"`
	// RPCsPerLookup is the mean number of RPCs a lookup sent.
	RPCsPerLookup *float64 `json:"rpcs_per_lookup,omitempty"`
	// ReplicasPerProvide is the mean number of nodes that stored the record
	// of one PROVIDE.
	ReplicasPerProvide *float64 `json:"replicas_per_provide,omitempty"`
	// ColdStartMS is the distribution over starts of the time from exec of
	// the daemon to the first datagram of its first seed dial
	// (ModeColdStart).
	ColdStartMS *ColdStart `json:"cold_start_ms,omitempty"`
	// Notes are free-form remarks (what the CPU figure covers, anomalies).
	Notes []string `json:"notes,omitempty"`
}

// Machine describes the machine a run used. It deliberately has no
// hostname: results are committed and shared.
type Machine struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	GoVersion string `json:"go_version"`
}

// Params are the workload parameters of a run, as given to the harness.
// Duration-like and percentage parameters keep the harness's flag syntax.
type Params struct {
	// Peers is the number of nodes run (0 in ModeTarget).
	Peers int `json:"peers"`
	// RPS is the offered RPC rate (0: as fast as possible).
	RPS   int `json:"rps"`
	Alpha int `json:"alpha"`
	Beta  int `json:"beta"`
	K     int `json:"k"`
	// Mix is the operation mix in percent, FIND_VALUE/FIND_NODE/PROVIDE,
	// for example "60/35/5".
	Mix string `json:"mix,omitempty"`
	// Churn is the churn rate, for example "10%/h".
	Churn string `json:"churn,omitempty"`
	// Seed is the random seed of the run.
	Seed uint64 `json:"seed"`
	// RTT, Jitter and Loss describe the injected link conditions, for
	// example "1ms-3ms", "1ms" and "0.1%".
	RTT    string `json:"rtt,omitempty"`
	Jitter string `json:"jitter,omitempty"`
	Loss   string `json:"loss,omitempty"`
	// Profile is the node profile ("micronode" or "macronode").
	Profile string `json:"profile,omitempty"`
}

// OpStats are the statistics of one operation.
type OpStats struct {
	// Count is the number of operations completed (any result).
	Count uint64 `json:"count"`
	// LatencyMS are the latency quantiles in milliseconds.
	LatencyMS *Latency `json:"latency_ms,omitempty"`
	// Codes counts the operations by result-code name; when present, the
	// counts add up to Count.
	Codes map[string]uint64 `json:"codes,omitempty"`
}

// Latency holds latency quantiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Hops is the distribution of lookup hop counts.
type Hops struct {
	// Histogram counts lookups by hop count.
	Histogram map[int]uint64 `json:"histogram,omitempty"`
	P50       int            `json:"p50"`
	P95       int            `json:"p95"`
	P99       int            `json:"p99"`
}

// ErrorBudget holds the error-budget figures of the profile's §1.
type ErrorBudget struct {
	// HTTP5xxRatio is the share of ops-plane HTTP answers with a 5xx status.
	HTTP5xxRatio float64 `json:"http_5xx_ratio"`
	// R429503Ratio is the share of requests refused for load: 429 and 503
	// on the ops plane, QuotaExceeded (1429), Busy (1501) and NotReady
	// (1450) on the wire.
	R429503Ratio float64 `json:"r429_503_ratio"`
	// QueueDropRatio is queue_dropped_total / (queue_dropped_total + processed).
	QueueDropRatio float64 `json:"queue_drop_ratio"`
	// TLSFailuresPerMin is the rate of TLS handshake failures.
	TLSFailuresPerMin float64 `json:"tls_failures_per_min"`
}

// CPU is the CPU use of the measured process.
type CPU struct {
	// AvgPct is the average CPU use over the run in percent of one core.
	AvgPct float64 `json:"avg_pct"`
	// USPerRPC is CPU time in microseconds per RPC handled.
	USPerRPC float64 `json:"us_per_rpc"`
}

// Ready holds quantiles of the time to ready, in seconds.
type Ready struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
}

// ColdStart is the distribution of cold-start times in milliseconds over
// Starts process starts: minimum, nearest-rank p50 and p95, maximum.
type ColdStart struct {
	Starts int     `json:"starts"`
	Min    float64 `json:"min"`
	P50    float64 `json:"p50"`
	P95    float64 `json:"p95"`
	Max    float64 `json:"max"`
}

// Ptr returns a pointer to a copy of v, for the optional figures of a
// Result.
func Ptr[T any](v T) *T { return &v }
