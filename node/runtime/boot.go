package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/logx"
	"github.com/svc-dht/svc-dht/node/ops"
	"github.com/svc-dht/svc-dht/seeds"
	"github.com/svc-dht/svc-dht/wire"
)

// dialSeed is the seed runner's DialFunc: a PING to the seed over QUIC
// (the pinned NodeID is checked by the TLS handshake). On an answer the
// seed enters the routing table and, the first time, the core's bootstrap
// lookup starts through it.
func (n *Node) dialSeed(ctx context.Context, s seeds.Seed) error {
	n.firstDial.Do(n.noteFirstDial)
	var expect *kbucket.ID
	if s.Pinned {
		id := s.ID
		expect = &id
	}
	r := new(probeResult)
	n.rpc(ctx, s.Addr, expect, &core.Request{Op: wire.OpPing}, r)
	if r.err == nil && r.resp.Code != wire.CodeOK {
		r.err = fmt.Errorf("runtime: seed %s: %w", s.Addr, wire.ErrorFromCode(r.resp.Code, r.resp.Reason))
	}
	if r.err != nil {
		return r.err
	}
	p := kbucket.Peer{ID: r.peer.ID, Addr: r.peer.Addr, Addrs: []string{s.Addr}}
	if len(r.resp.Self.Addrs) > 0 && r.resp.Self.ID == r.peer.ID {
		p.Addrs = r.resp.Self.Addrs
	}
	if !n.post(func(now time.Time) { n.seedAnswered(now, p) }) {
		return errNoAnswer
	}
	return nil
}

// noteFirstDial records how long after process start the first seed dial
// began (dht_boot_first_dial_seconds, first_dial_ms).
func (n *Node) noteFirstDial() {
	d, ok := n.runner.FirstDialAt()
	if !ok {
		return
	}
	n.m.SetFirstDial(d)
	n.log.Info("first_dial", slog.Float64("first_dial_ms", float64(d.Microseconds())/1000))
}

// seedResult is the runner's OnResult: logs.
func (n *Node) seedResult(s seeds.Seed, err error) {
	if err != nil {
		n.log.Warn("seed_failed", slog.String("seed", s.Addr), logx.Err(err))
		return
	}
	n.log.Info("seed_answered", slog.String("seed", s.Addr))
}

// seedAnswered (owner) adds an answering seed and starts the bootstrap.
func (n *Node) seedAnswered(now time.Time, p kbucket.Peer) {
	n.do(n.core.AddPeer(now, p))
	if !n.bootDone && !n.bootRunning {
		n.startBootstrap(now, []kbucket.Peer{p})
	}
	n.publish(now)
}

// ReadyStatus reports readiness (SPEC §8): a node without seeds is the
// first node of its network and ready at once; otherwise
// bootstrap.required seeds must have answered, the bootstrap lookup must
// have finished, and then bootstrap.ready_bucket_fill_pct of the buckets
// populatable at the estimated network size must be non-empty. It is cheap
// and safe for concurrent use.
func (n *Node) ReadyStatus() ops.ReadyStatus {
	switch n.state.Load() {
	case stateNew:
		return ops.ReadyStatus{Degraded: "starting", Missing: []string{"runtime: not started"}, RetryAfter: time.Second}
	case stateStopping, stateStopped:
		return ops.ReadyStatus{Degraded: "draining", Missing: []string{"runtime: shutting down"}, RetryAfter: time.Duration(n.shutdownTO.Load())}
	}
	if n.runner.FirstNode() {
		return ops.ReadyStatus{Ready: true, FirstNode: true}
	}
	var missing []string
	retry := time.Second
	req := int(n.required.Load())
	if !n.runner.Satisfied(req) {
		var st []seeds.SeedStatus
		st = n.runner.Status(st)
		missing = append(missing, fmt.Sprintf("seeds: %d/%d answered", n.runner.Answered(), min(req, len(st))))
		retry = max(retry, nextSeedDial(st, n.opts.SeedClock.Now()))
	}
	rs := n.ready.Load()
	want := math.Float64frombits(n.fillWant.Load())
	switch {
	case !rs.bootDone && req > 0:
		missing = append(missing, "bootstrap: self-lookup not finished")
	case rs.fill < want:
		missing = append(missing, fmt.Sprintf("buckets: %.0f%% < %.0f%%", rs.fill*100, want*100))
	}
	if len(missing) == 0 {
		return ops.ReadyStatus{Ready: true}
	}
	return ops.ReadyStatus{Degraded: "bootstrapping", Missing: missing, RetryAfter: retry}
}

// nextSeedDial is how long until the next seed dial is due (at most a
// minute), or 0 when one is in flight or due.
func nextSeedDial(st []seeds.SeedStatus, now time.Time) time.Duration {
	best := time.Minute
	for i := range st {
		s := &st[i]
		if s.Up || s.InFlight {
			return 0
		}
		best = min(best, max(s.NextAt.Sub(now), 0))
	}
	return best
}

// Bootstrapped reports whether the node's join is done: its bootstrap
// lookup finished, or it is the first node of its network. It is a cheap
// lock-free read, for embedders that pace joins (the performance harness);
// readiness (ReadyStatus) may follow later, once the buckets fill.
func (n *Node) Bootstrapped() bool {
	if n.state.Load() != stateRunning {
		return false
	}
	return n.runner.FirstNode() || n.ready.Load().bootDone
}

// Ready reports whether the node is ready, and what is missing if not.
func (n *Node) Ready() (bool, []string) {
	st := n.ReadyStatus()
	return st.Ready, st.Missing
}

// readiness adapts a Node to ops.Readiness.
type readiness struct{ n *Node }

// Ready implements ops.Readiness.
func (r readiness) Ready() ops.ReadyStatus { return r.n.ReadyStatus() }
