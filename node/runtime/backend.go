package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/api"
	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/logx"
	"github.com/svc-dht/svc-dht/wire"
)

var _ api.Backend = (*Node)(nil)

// runOp starts an operation on the owner and waits for its result. ctx
// ending abandons the wait (the operation runs to its end in the core,
// bounded by its own timeouts).
func (n *Node) runOp(ctx context.Context, start func(now time.Time) (core.LookupID, []core.Action, error)) (*core.Result, error) {
	if n.state.Load() != stateRunning || n.draining.Load() {
		return nil, ErrNotRunning
	}
	done := make(chan *core.Result, 1)
	failed := make(chan error, 1)
	if err := n.onOwner(ctx, func(now time.Time) {
		id, acts, err := start(now)
		if err != nil {
			failed <- err
			return
		}
		n.waiters[id] = done
		n.do(acts)
	}); err != nil {
		return nil, err
	}
	select {
	case r := <-done:
		return r, nil
	case err := <-failed:
		return nil, err
	case <-ctx.Done():
		return nil, fmt.Errorf("runtime: %w", ctx.Err())
	case <-n.ownerDone:
		select {
		case r := <-done:
			return r, nil
		default:
			return nil, ErrNotRunning
		}
	}
}

// onOwner queues f for the owner, waiting for room at most until ctx ends.
func (n *Node) onOwner(ctx context.Context, f func(now time.Time)) error {
	select {
	case n.calls <- f:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("runtime: %w", ctx.Err())
	case <-n.ownerDone:
		return ErrNotRunning
	}
}

// query runs f on the owner and waits for it.
func (n *Node) query(ctx context.Context, f func(now time.Time)) error {
	if n.state.Load() != stateRunning {
		return ErrNotRunning
	}
	done := make(chan struct{})
	if err := n.onOwner(ctx, func(now time.Time) { f(now); close(done) }); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("runtime: %w", ctx.Err())
	case <-n.ownerDone:
		select {
		case <-done:
			return nil
		default:
			return ErrNotRunning
		}
	}
}

// Provide implements api.Backend: the record is signed here with the node
// identity (dual-signed per pq.dual_sign), off the owner, then published by
// the core and republished every provider.refresh_secs.
func (n *Node) Provide(ctx context.Context, p api.ProvideParams) (api.ProvideResult, error) {
	addrs := p.Addrs
	if len(addrs) == 0 {
		addrs = n.addrs
	}
	if len(addrs) == 0 {
		return api.ProvideResult{}, wire.NewError(wire.CodeMalformed,
			"provide: the node listens on a wildcard address and advertises none; pass addrs")
	}
	ttl := p.TTL
	if ttl == 0 {
		ttl = time.Duration(n.providerTTL.Load())
	}
	rec := &wire.ProviderRecord{
		ProtoVer: wire.ProtoVersion,
		Key:      p.Key,
		Addrs:    addrs,
		TTL:      uint32(ttl / time.Second),
		TS:       n.now().Unix(),
	}
	if err := identity.Sign(rec, n.id, n.dualSign.Load()); err != nil {
		return api.ProvideResult{}, fmt.Errorf("runtime: provide: %w", err)
	}
	r, err := n.runOp(ctx, func(now time.Time) (core.LookupID, []core.Action, error) {
		n.sign.pre = rec
		defer func() { n.sign.pre = nil }()
		return n.core.ProvideWithTTL(now, p.Key, addrs, p.TTL)
	})
	if err != nil {
		return api.ProvideResult{}, err
	}
	if r.Err != nil {
		return api.ProvideResult{}, r.Err
	}
	return api.ProvideResult{
		Key: api.ID(p.Key), Replicas: r.Replicas, Hops: r.Hops, RPCs: r.RPCs,
		Latency: api.Millis(r.Latency()), DualSigned: len(rec.Sigs) > 1,
	}, nil
}

// FindProviders implements api.Backend with a FIND_VALUE lookup.
func (n *Node) FindProviders(ctx context.Context, key kbucket.ID) (api.ProvidersResult, error) {
	r, err := n.runOp(ctx, func(now time.Time) (core.LookupID, []core.Action, error) {
		return n.core.FindValue(now, key)
	})
	if err != nil {
		return api.ProvidersResult{}, err
	}
	if r.Err != nil {
		return api.ProvidersResult{}, r.Err
	}
	out := api.ProvidersResult{Key: api.ID(key), Hops: r.Hops, RPCs: r.RPCs, Latency: api.Millis(r.Latency()),
		Providers: make([]api.Provider, len(r.Providers))}
	for i := range r.Providers {
		out.Providers[i] = api.ProviderFromRecord(&r.Providers[i])
	}
	return out, nil
}

// FindClosest implements api.Backend with a FIND_NODE lookup.
func (n *Node) FindClosest(ctx context.Context, target kbucket.ID) (api.ClosestResult, error) {
	r, err := n.runOp(ctx, func(now time.Time) (core.LookupID, []core.Action, error) {
		return n.core.FindNode(now, target)
	})
	if err != nil {
		return api.ClosestResult{}, err
	}
	if r.Err != nil {
		return api.ClosestResult{}, r.Err
	}
	out := api.ClosestResult{Target: api.ID(target), Hops: r.Hops, RPCs: r.RPCs, Latency: api.Millis(r.Latency()),
		Peers: make([]api.PeerInfo, len(r.Closest))}
	for i, p := range r.Closest {
		out.Peers[i] = api.PeerInfo{ID: api.ID(p.ID), Addrs: p.Addrs, LastSeen: p.LastSeen / int64(time.Second)}
	}
	return out, nil
}

// Ping implements api.Backend. A peer given by address is pinged directly
// (checking its NodeID when given too) and enters the routing table on an
// answer; a peer given by NodeID alone must be in the routing table and is
// pinged through the core.
func (n *Node) Ping(ctx context.Context, peer api.PeerRef) (api.PingResult, error) {
	if peer.IsZero() {
		return api.PingResult{Peer: api.ID(n.ID()), Self: true}, nil
	}
	if n.state.Load() != stateRunning || n.draining.Load() {
		return api.PingResult{}, ErrNotRunning
	}
	if peer.Addr != "" {
		var expect *kbucket.ID
		if peer.HasID {
			expect = &peer.ID
		}
		r := new(probeResult)
		n.rpc(ctx, peer.Addr, expect, &core.Request{Op: wire.OpPing}, r)
		if r.err == nil {
			r.err = wire.ErrorFromCode(r.resp.Code, r.resp.Reason)
		}
		if r.err != nil {
			return api.PingResult{}, r.err
		}
		p := kbucket.Peer{ID: r.peer.ID, Addr: r.peer.Addr, Addrs: []string{peer.Addr}}
		n.post(func(now time.Time) { n.do(n.core.AddPeer(now, p)) })
		return api.PingResult{Peer: api.ID(r.peer.ID), Addr: peer.Addr, RTT: api.Millis(r.rtt)}, nil
	}
	var addr string
	r, err := n.runOp(ctx, func(now time.Time) (core.LookupID, []core.Action, error) {
		p, ok := n.core.Table().Find(peer.ID)
		if !ok {
			return 0, nil, wire.NewError(wire.CodeNotFound, "peer "+peer.ID.Short()+" is not in the routing table; give its address")
		}
		addr = dialAddr(p)
		return n.core.Ping(now, p)
	})
	if err != nil {
		return api.PingResult{}, err
	}
	if r.Err != nil {
		return api.PingResult{}, r.Err
	}
	return api.PingResult{Peer: api.ID(peer.ID), Addr: addr, RTT: api.Millis(r.Latency())}, nil
}

// Peers implements api.Backend: the routing table, bucket by bucket.
func (n *Node) Peers(ctx context.Context) (api.PeersResult, error) {
	var out api.PeersResult
	err := n.query(ctx, func(time.Time) {
		t := n.core.Table()
		s := t.Snapshot()
		out = api.PeersResult{Self: api.ID(n.ID()), K: n.cfg.K, Size: s.Len()}
		for i, st := range s.Buckets() {
			ps := s.Bucket(i)
			if len(ps) == 0 {
				continue
			}
			b := api.Bucket{Index: i, Size: len(ps), Replacements: st.Cached,
				ASNEntropyBits: st.EntropyBits, ASNMaxPct: st.MaxASNPct * 100, Peers: make([]api.PeerInfo, len(ps))}
			for j, p := range ps {
				asn, _ := t.Group(p.Addr.Addr()).ASN()
				b.Peers[j] = api.PeerInfo{ID: api.ID(p.ID), Addrs: p.Addrs, ASN: asn, LastSeen: p.LastSeen / int64(time.Second)}
			}
			out.Buckets = append(out.Buckets, b)
		}
	})
	return out, err
}

// Stats implements api.Backend.
func (n *Node) Stats(ctx context.Context) (api.StatsResult, error) {
	var (
		s       core.Stats
		records int
		size    int
		keys    int
		own     int
		running int
	)
	err := n.query(ctx, func(time.Time) {
		s, records, size, running = n.core.Stats(), n.core.StoredRecords(), n.core.Table().Len(), n.core.Running()
		keys, own = n.core.StoredKeys(), n.core.Publications()
	})
	if err != nil {
		return api.StatsResult{}, err
	}
	ready, missing := n.Ready()
	return api.StatsResult{
		Self: api.ID(n.ID()), Ready: ready, Missing: missing,
		UptimeSecs: int64(n.uptime() / time.Second), TableSize: size,
		Store: api.StoreStats{Records: records, Keys: keys, Own: own},
		Counters: map[string]uint64{
			"rpcs_in_ping":        s.Requests[wire.OpPing],
			"rpcs_in_find_node":   s.Requests[wire.OpFindNode],
			"rpcs_in_find_value":  s.Requests[wire.OpFindValue],
			"rpcs_in_provide":     s.Requests[wire.OpProvide],
			"rpcs_in_store":       s.Requests[wire.OpStore],
			"bad_requests":        s.BadRequests,
			"probes_sent":         s.ProbesSent,
			"probes_answered":     s.ProbesAnswered,
			"probes_failed":       s.ProbesFailed,
			"probes_timed_out":    s.ProbesTimedOut,
			"hedges_spawned":      s.HedgesSpawned,
			"hedges_canceled":     s.HedgesCanceled,
			"lookups_started":     s.LookupsStarted,
			"lookups_failed":      s.LookupsFailed,
			"lookups_running":     uint64(running),
			"records_stored":      s.RecordsStored,
			"records_refused":     s.RecordsRefused,
			"records_expired":     s.RecordsExpired,
			"republished":         s.Republished,
			"republish_failed":    s.RepublishFail,
			"route_added":         s.RouteAdded,
			"route_evicted":       s.RouteEvicted,
			"inbound_inflight":    uint64(max(n.inflight.Load(), 0)),
			"work_queue_depth":    uint64(n.queueDepth()),
			"seeds_answered":      uint64(n.runner.Answered()),
			"network_size_approx": uint64(n.ready.Load().est),
		},
	}, nil
}

// runtimeReloadable are the reloadable keys the node applies at once:
// its own limits and policies, the core's run-time knobs
// (core.SetTunables) and the transport's dial stagger.
var runtimeReloadable = map[string]bool{
	"log.level": true, "limits.max_rps": true, "limits.peer_rps": true, "limits.max_inflight": true,
	"shutdown_timeout": true, "bootstrap.required": true, "bootstrap.ready_bucket_fill_pct": true,
	"pq.dual_sign": true, "pq.require_pq_on": true, "pq.enforce": true, "provider.max_record_bytes": true,
	"alpha": true, "beta": true, "hop_budget": true, "rpc_timeout": true, "hedge_after": true,
	"bucket_refresh_interval": true, "provider.ttl_secs": true, "provider.refresh_secs": true,
	"provider.max_per_key": true, "provider.max_per_publisher": true, "provider.max_total": true,
	"happy_eyeballs_delay": true,
}

// heSetter is a transport whose happy-eyeballs stagger can change at run
// time (transport.Transport).
type heSetter interface {
	SetHappyEyeballsDelay(d time.Duration) error
}

// Reload applies a reloaded configuration (config.Reload's result and
// changes) at once: log level, limits, shutdown timeout, readiness
// thresholds, the record signing and verification policy, the core's
// lookup knobs, provider lifetimes and store bounds (core.SetTunables: new
// lookups use them, running ones from their next probe), and
// happy_eyeballs_delay. It returns the changed keys that did not take
// effect: those that need a restart, and the reloadable ones the node does
// not apply at run time (bootstrap.seeds, bootstrap.use_default_seeds;
// happy_eyeballs_delay with a transport that cannot change it). An invalid
// configuration is refused and the running one kept.
func (n *Node) Reload(newCfg *config.Config, changes []config.Change) (deferred []string, err error) {
	if newCfg == nil {
		return nil, errors.New("runtime: reload: nil config")
	}
	if err := newCfg.Validate(); err != nil {
		return nil, fmt.Errorf("runtime: reload: %w", err)
	}
	if newCfg.PQ.DualSign && !n.id.HasPQ() {
		return nil, fmt.Errorf("runtime: reload: pq.dual_sign needs an ML-DSA-87 key, identity %s has none", n.id)
	}
	cc := coreConfig(newCfg, n.addrs)
	if err := cc.Validate(); err != nil {
		return nil, fmt.Errorf("runtime: reload: %w", err)
	}
	if err := n.setVerifier(newCfg); err != nil {
		return nil, err
	}
	n.applyLimits(newCfg)
	n.setTunables(cc.Tunables())
	he, heOK := n.tr.(heSetter)
	if heOK {
		if err := he.SetHappyEyeballsDelay(newCfg.HappyEyeballsDelay); err != nil {
			return nil, fmt.Errorf("runtime: reload: %w", err)
		}
	}
	for _, c := range changes {
		if c.Restart || !runtimeReloadable[c.Key] || (c.Key == "happy_eyeballs_delay" && !heOK) {
			deferred = append(deferred, c.Key)
			n.log.Warn("reload_deferred", slog.String("key", c.Key), slog.String("old", c.Old), slog.String("new", c.New))
			continue
		}
		n.log.Info("reload_applied", slog.String("key", c.Key), slog.String("old", c.Old), slog.String("new", c.New))
	}
	return deferred, nil
}

// setTunables hands the core's new knobs to the owner and, on a running
// node, waits until it has applied them; a node not started yet applies
// them in Start.
func (n *Node) setTunables(t core.Tunables) {
	n.tunables.Store(&t)
	if n.state.Load() != stateRunning {
		return
	}
	done := make(chan struct{})
	if !n.post(func(now time.Time) { n.applyTunables(now); close(done) }) {
		return
	}
	select {
	case <-done:
	case <-n.ownerDone:
	}
}

// applyTunables (owner) gives the core the knobs of the last reload, if
// any are pending.
func (n *Node) applyTunables(now time.Time) {
	t := n.tunables.Swap(nil)
	if t == nil {
		return
	}
	acts, err := n.core.SetTunables(now, *t)
	if err != nil { // validated by Reload: a bug
		n.log.Error("reload_failed", logx.Err(err))
		return
	}
	n.do(acts)
}
