package runtime

import (
	"container/heap"
	"log/slog"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/logx"
	"github.com/svc-dht/svc-dht/node/metrics"
	"github.com/svc-dht/svc-dht/wire"
)

// DefaultHousekeepingInterval is the period of the owner's housekeeping
// (Options.HousekeepingInterval): readiness, the published table snapshot,
// bootstrap retries, snapshot saves.
const DefaultHousekeepingInterval = time.Second

// bootRetry is the least time between two bootstrap lookups of a node
// whose previous bootstrap failed; the first retry comes after
// bootRetryFirst: a lookup that failed after answers (out of hop budget in
// a network growing under it, say) has filled the table, and a second one
// usually succeeds at once.
const (
	bootRetry      = 5 * time.Second
	bootRetryFirst = 500 * time.Millisecond
)

// Timer kinds of the owner's heap.
const (
	timerCore uint8 = iota + 1 // a core.TimerID
	timerTick                  // the runtime's housekeeping
	timerBoot                  // retry of a failed bootstrap
)

// timerEntry is one armed timer.
type timerEntry struct {
	at   int64 // deadline, unix ns
	kind uint8
	id   core.TimerID
}

// timerHeap is a min-heap of timers by deadline: the owner arms one
// time.Timer for its head.
type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func (n *Node) pushTimer(at int64, kind uint8, id core.TimerID) {
	heap.Push(&n.timers, timerEntry{at: at, kind: kind, id: id})
}

// rearm points the time.Timer at the heap's head if it changed.
func (n *Node) rearm(now time.Time) {
	if len(n.timers) == 0 {
		if n.timerAt != 0 {
			n.timer.Stop()
			n.timerAt = 0
		}
		return
	}
	at := n.timers[0].at
	if at == n.timerAt {
		return
	}
	n.timerAt = at
	n.timer.Reset(max(time.Duration(at-now.UnixNano()), 0))
}

// runOwner is the core-owner loop: the only goroutine that calls the core.
func (n *Node) runOwner() {
	defer n.wg.Done()
	defer close(n.ownerDone)
	defer n.timer.Stop()
	for {
		select {
		case j := <-n.inbound:
			n.serveInbound(j)
		case r := <-n.results:
			n.probeDone(r)
		case f := <-n.calls:
			f(n.now())
		case <-n.timer.C:
			n.timerAt = 0
			n.fireTimers()
		case <-n.quit:
			for _, cancel := range n.probes {
				cancel()
			}
			clear(n.probes)
			return
		}
		n.syncStats()
	}
}

// fireTimers runs every due timer and re-arms for the next.
func (n *Node) fireTimers() {
	now := n.now()
	ns := now.UnixNano()
	for len(n.timers) > 0 && n.timers[0].at <= ns {
		e := heap.Pop(&n.timers).(timerEntry)
		switch e.kind {
		case timerCore:
			n.do(n.core.HandleTimer(now, e.id))
		case timerBoot:
			n.retryBootstrap(now)
		case timerTick:
			n.tick(now)
			n.pushTimer(ns+int64(n.opts.HousekeepingInterval), timerTick, 0)
		}
	}
	n.rearm(now)
}

// do carries out the core's actions, in order. It never calls the core, so
// acts stays valid throughout.
func (n *Node) do(acts []core.Action) {
	for i := range acts {
		a := &acts[i]
		switch a.Kind {
		case core.ActSend:
			n.startProbe(a.Probe, a.Peer, a.Req)
		case core.ActCancel:
			if cancel, ok := n.probes[a.Probe]; ok {
				cancel()
				delete(n.probes, a.Probe)
			}
		case core.ActArmTimer:
			n.pushTimer(a.Deadline.UnixNano(), timerCore, a.Timer)
		case core.ActDone:
			n.opDone(a.Result)
		}
	}
	if n.timer != nil {
		n.rearm(n.now())
	}
}

// opDone routes a finished operation: metrics, the waiting API call, the
// bootstrap state.
func (n *Node) opDone(r *core.Result) {
	if r.Op != wire.OpPing {
		n.m.Lookup(r.Op, r.Latency(), r.Hops)
	}
	if ch, ok := n.waiters[r.ID]; ok {
		delete(n.waiters, r.ID)
		ch <- r // buffered: never blocks
	}
	if r.Purpose == core.PurposeBootstrap && n.bootRunning && r.ID == n.bootID {
		n.bootRunning = false
		if r.Err == nil {
			n.bootDone = true
			n.log.Info("bootstrap_done", logx.Hops(r.Hops), logx.Latency(r.Latency()),
				slog.Int("peers", n.core.Table().Len()), slog.Int("rpcs", r.RPCs))
		} else {
			n.log.Warn("bootstrap_failed", logx.Err(r.Err), logx.Latency(r.Latency()))
			n.bootFails++
			n.pushTimer(n.bootTried+int64(n.bootRetryDelay()), timerBoot, 0)
		}
		n.publish(r.Finished)
	} else if !n.wasReady {
		// Lookups (a join's bucket refreshes above all) fill the buckets
		// readiness counts: until ready, publish as each one ends rather
		// than at the next housekeeping tick.
		n.publish(r.Finished)
	}
}

// startBootstrap starts the core's join lookup through the given seeds.
func (n *Node) startBootstrap(now time.Time, via []kbucket.Peer) {
	id, acts, err := n.core.Bootstrap(now, via)
	n.bootTried = now.UnixNano()
	if err != nil {
		n.log.Warn("bootstrap_failed", logx.Err(err))
		return
	}
	n.bootID, n.bootRunning = id, true
	n.do(acts)
}

// tick is the owner's housekeeping, every Options.HousekeepingInterval.
func (n *Node) tick(now time.Time) {
	ns := now.UnixNano()
	n.retryBootstrap(now)
	n.publish(now)
	if !n.cfg.Amnesia.Enabled && ns >= n.nextSave {
		n.nextSave = ns + int64(n.opts.SnapshotInterval)
		n.saveAsync()
	}
}

// retryBootstrap starts the bootstrap lookup again when the last one
// failed at least bootRetryDelay ago (a timer at that time, and every
// housekeeping tick, call it).
func (n *Node) retryBootstrap(now time.Time) {
	if !n.bootDone && !n.bootRunning && !n.runner.FirstNode() && n.core.Table().Len() > 0 &&
		n.runner.Satisfied(int(n.required.Load())) && now.UnixNano()-n.bootTried >= int64(n.bootRetryDelay()) {
		n.startBootstrap(now, nil)
	}
}

// bootRetryDelay is how long after a failed bootstrap the next one may
// start.
func (n *Node) bootRetryDelay() time.Duration {
	if n.bootFails <= 1 {
		return bootRetryFirst
	}
	return bootRetry
}

// readyState is what the owner publishes for readiness checks from other
// goroutines.
type readyState struct {
	bootDone bool
	fill     float64 // share of populatable buckets that are non-empty
	size     int     // table entries
	est      int     // estimated network size
}

// publish refreshes the state other goroutines read: readiness inputs, the
// table snapshot (metrics, API), the fill gauge.
func (n *Node) publish(now time.Time) {
	t := n.core.Table()
	est := n.core.NetworkSizeEstimate()
	fill := t.BucketFillPct(est)
	n.m.SetReadyBucketFillPct(fill)
	n.ready.Store(&readyState{bootDone: n.bootDone, fill: fill, size: t.Len(), est: est})
	n.snap.Store(t.Snapshot())
	if !n.wasReady {
		if st := n.ReadyStatus(); st.Ready {
			n.wasReady = true
			n.log.Info("ready", slog.Bool("first_node", st.FirstNode), slog.Int("peers", t.Len()),
				slog.Float64("bucket_fill", fill), logx.Latency(now.Sub(n.opts.ProcessStart)))
		}
	}
}

// syncStats moves the core's counters into the metrics.
func (n *Node) syncStats() {
	s := n.core.Stats()
	o := &n.lastStats
	if s == *o {
		return
	}
	m := n.m
	m.HedgesSpawned(int(s.HedgesSpawned - o.HedgesSpawned))
	m.HedgesCanceled(int(s.HedgesCanceled - o.HedgesCanceled))
	m.RouteUpdates(metrics.RouteAdded, int(s.RouteAdded-o.RouteAdded))
	m.RouteUpdates(metrics.RouteUpdated, int(s.RouteUpdated-o.RouteUpdated))
	m.RouteUpdates(metrics.RouteCached, int(s.RouteCached-o.RouteCached))
	m.RouteUpdates(metrics.RouteRejected, int(s.RouteRejected-o.RouteRejected))
	m.RouteUpdates(metrics.RouteEvicted, int(s.RouteEvicted-o.RouteEvicted))
	m.ProviderRecords(metrics.RecordExpired, int(s.RecordsExpired-o.RecordsExpired))
	for range s.Republished - o.Republished {
		m.Republish(metrics.RepublishOK)
	}
	for range s.RepublishFail - o.RepublishFail {
		m.Republish(metrics.RepublishFailed)
	}
	*o = s
}

// post runs f on the owner goroutine; false if the owner has stopped.
func (n *Node) post(f func(now time.Time)) bool {
	select {
	case n.calls <- f:
		return true
	case <-n.ownerDone:
		return false
	}
}
