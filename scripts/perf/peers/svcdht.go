package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/result"
)

// svcTool is the "tool" of svc-dht-perf's results.
const svcTool = "svc-dht-perf"

// svcSchema is the version of svc-dht-perf's result schema (the main
// module's cmd/internal/perfresult) that svcResult reads.
const svcSchema = 1

// svcResult holds the fields of an svc-dht-perf result that the table uses.
// It is a local copy of part of cmd/internal/perfresult.Result, so that this
// module does not import the main module; unknown keys are ignored.
type svcResult struct {
	SchemaVersion int    `json:"schema_version"`
	Tool          string `json:"tool"`
	Version       string `json:"version"`
	Git           string `json:"git"`
	Mode          string `json:"mode"`
	Command       string `json:"command"`
	Params        struct {
		Peers   int    `json:"peers"`
		RPS     int    `json:"rps"`
		Alpha   int    `json:"alpha"`
		K       int    `json:"k"`
		Mix     string `json:"mix"`
		RTT     string `json:"rtt"`
		Jitter  string `json:"jitter"`
		Loss    string `json:"loss"`
		Profile string `json:"profile"`
	} `json:"params"`
	Ops map[string]struct {
		Count     uint64            `json:"count"`
		LatencyMS *result.Latency   `json:"latency_ms"`
		Codes     map[string]uint64 `json:"codes"`
	} `json:"ops"`
	AchievedRPS *float64 `json:"achieved_rps"`
	CPU         *struct {
		USPerRPC float64 `json:"us_per_rpc"`
	} `json:"cpu"`
	AllocsPerRPC  *float64 `json:"allocs_per_rpc"`
	RSSPerPeerMiB *float64 `json:"rss_per_peer_mib"`
	ReadyS        *struct {
		P50 float64 `json:"p50"`
		P95 float64 `json:"p95"`
	} `json:"ready_s"`
	RPCsPerLookup *float64 `json:"rpcs_per_lookup"`
	Notes         []string `json:"notes"`
}

// swarmReadyNote is how svc-dht-perf's swarm mode notes the whole swarm's
// time to ready.
var swarmReadyNote = regexp.MustCompile(`whole swarm ready in ([0-9.]+)s`)

// svcRow is the row of an svc-dht-perf result (target or swarm mode, with
// FIND_NODE operations).
func svcRow(b []byte) (row, error) {
	var s svcResult
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&s); err != nil {
		return row{}, fmt.Errorf("svc-dht-perf result: %w", err)
	}
	if s.SchemaVersion != svcSchema {
		return row{}, fmt.Errorf("svc-dht-perf result: schema_version %d, this table reads %d", s.SchemaVersion, svcSchema)
	}
	op, ok := s.Ops["find_node"]
	if !ok || op.LatencyMS == nil || op.Count == 0 {
		return row{}, errors.New("svc-dht-perf result without FIND_NODE latencies (run it with --mix 0/100/0)")
	}
	for name, o := range s.Ops {
		if name != "find_node" && o.Count > 0 {
			return row{}, fmt.Errorf("svc-dht-perf result with a mixed workload (mix %s): the table compares FIND_NODE only (--mix 0/100/0)", s.Params.Mix)
		}
	}
	r := row{
		impl: "svc-dht", mode: s.Mode, lat: *op.LatencyMS, settle: "–", exact: "–",
		errors: int64(op.Count - min(op.Codes["ok"], op.Count)), loadavg: "–",
		version: svcVersion(&s),
	}
	cmd := strings.Fields(s.Command)
	switch s.Mode {
	case "target":
		r.rps = deref(s.AchievedRPS)
		if s.CPU != nil {
			r.cpuUs = s.CPU.USPerRPC
		}
		r.allocs = deref(s.AllocsPerRPC)
		inflight := flagValue(cmd, "inflight", "64")
		r.load = inflight + " in flight, stream/RPC" // one stream per RPC is the protocol's shape
		r.method = svcTargetMethod(&s, inflight, flagValue(cmd, "clients", "1"))
	case "swarm":
		r.load = fmt.Sprintf("%d nodes", s.Params.Peers)
		r.rpcsPerLookup = deref(s.RPCsPerLookup)
		r.rss = deref(s.RSSPerPeerMiB)
		for _, n := range s.Notes {
			if m := swarmReadyNote.FindStringSubmatch(n); m != nil {
				r.ready, _ = strconv.ParseFloat(m[1], 64)
			}
		}
		r.method = svcSwarmMethod(&s, flagValue(cmd, "net", "memnet"))
	default:
		return row{}, fmt.Errorf("svc-dht-perf result of mode %q: the table takes target and swarm results (the virtual mode is simulated time)", s.Mode)
	}
	return r, nil
}

// svcVersion names the svc-dht build a result measured.
func svcVersion(s *svcResult) string {
	v := "svc-dht"
	if s.Version != "" {
		v += " " + s.Version
	}
	if s.Git != "" {
		rev, dirty := strings.CutSuffix(s.Git, "+dirty")
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+dirty"
		}
		v += " (git " + rev + ")"
	}
	return v
}

func svcTargetMethod(s *svcResult, inflight, clients string) string {
	offered := float64(s.Params.RPS)
	sat := "above capacity, so the achieved rate is what counts"
	if got := deref(s.AchievedRPS); got >= 0.95*offered {
		sat = "NOT saturated: the achieved rate reached the offered one, so this is not the daemon's capacity"
	}
	allocs := "allocations not measured (this build exports no Go runtime metrics)"
	if s.AllocsPerRPC != nil {
		allocs = "allocations from the daemon's go_memstats_mallocs_total (macronode /metrics) per answered RPC"
	}
	return fmt.Sprintf("svc-dht-perf --target: the daemon in its own process over QUIC (TLS 1.3), open loop at %d RPC/s offered (%s), "+
		"%s workers over %s QUIC connections (client identities), a new stream per RPC (the protocol's); no warm-up in the file (run.sh runs one before), the window is the whole run; "+
		"latency counts from when each RPC was due, so at saturation it includes the wait in the generator's %s-deep queue (about twice the time on the wire); "+
		"CPU of the daemon from /proc/PID/stat (10 ms ticks) per answered RPC; %s",
		s.Params.RPS, sat, inflight, clients, inflight, allocs)
}

// svcSwarmMethod describes a swarm run over network net (svc-dht-perf's
// --net: memnet or quic).
func svcSwarmMethod(s *svcResult, net string) string {
	ready := "ready = first node started to last node ready (/readyz)"
	for _, n := range s.Notes {
		if swarmReadyNote.MatchString(n) {
			ready += fmt.Sprintf(", as svc-dht-perf notes it: %q", n)
		}
	}
	if s.ReadyS != nil {
		ready += fmt.Sprintf("; per node p50 %.2f s, p95 %.2f s", s.ReadyS.P50, s.ReadyS.P95)
	}
	links := fmt.Sprintf(" over node/memnet, an in-memory transport: no sockets, no QUIC or TLS, RTT %s, jitter %s, loss %s", s.Params.RTT, s.Params.Jitter, s.Params.Loss)
	if net == "quic" {
		links = ", each node on its own QUIC socket on loopback, mutual TLS (the runtime's own transport; no injected RTT, jitter or loss)"
	}
	settle := "no settle wait"
	if v := flagValue(strings.Fields(s.Command), "settle", ""); v != "" {
		settle = "then " + v + " of settle (--settle)"
	}
	return fmt.Sprintf("svc-dht-perf swarm: %d node runtimes (%s profile, one event loop each) in one process%s; %s; %s; "+
		"FIND_NODE lookups (FindClosest, k %d, alpha %d) from random nodes, open loop at %d/s (in effect one at a time); "+
		"RPCs/lookup = RPCs each lookup sent itself (hedges included; background refreshes not counted); RSS/node = process peak RSS / nodes; closest found not measured",
		s.Params.Peers, s.Params.Profile, links, ready, settle, s.Params.K, s.Params.Alpha, s.Params.RPS)
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
