package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// Timer kinds live in the top byte of a TimerID; probe timers carry the
// probe ID in the low bits.
const (
	timerKindShift         = 56
	timerProbeMask         = 1<<timerKindShift - 1
	timerHedge     TimerID = 1 << timerKindShift
	timerTimeout   TimerID = 2 << timerKindShift
	timerSweep     TimerID = 3 << timerKindShift
	timerRefresh   TimerID = 4 << timerKindShift
	timerRepublish TimerID = 5 << timerKindShift
)

// probeKind says what an outbound RPC is for.
type probeKind uint8

const (
	probeLookup probeKind = iota + 1 // FIND_NODE / FIND_VALUE of a lookup
	probeStore                       // PROVIDE to one of the k closest
	probeEvict                       // ping-before-evict
	probePing                        // a caller's Ping
	probeCheck                       // liveness check of a full bucket's silent entry
)

// probe is one outstanding outbound RPC.
type probe struct {
	id    ProbeID
	kind  probeKind
	op    *operation // lookup, store and ping probes
	peer  kbucket.Peer
	sent  int64
	group *hedgeGroup // non-nil once the probe is part of a hedged pair
	// superseded: a lookup probe silent for HedgeAfter whose hedge found no
	// unasked candidate to go to; the lookup stops waiting for it once a
	// full K of other candidates have answered (topAnswered).
	superseded bool
}

// hedgeGroup links a slow probe with the hedges spawned for it: the first
// member to answer wins and the others are cancelled.
type hedgeGroup struct {
	members [maxBeta + 1]ProbeID
	n       int
}

// publication is a provider record this node publishes and republishes.
type publication struct {
	key   kbucket.ID
	addrs []string
	ttl   time.Duration // record ttl; 0: ProviderTTL at each republication
	due   int64         // next republish, unix ns
}

// Deps are the collaborators of a core.
type Deps struct {
	// Rand is the core's only source of randomness (bucket-refresh
	// targets, the phase of the refresh checks). Required: the core never
	// touches the global generator.
	Rand *rand.Rand
	// Resolver maps observed IPs to ASNs for the routing table's diversity
	// rules (kbucket/asndb). Optional: without it, prefixes stand in.
	Resolver kbucket.Resolver
	// Verifier checks PROVIDE records and FIND_VALUE answers. Required.
	Verifier RecordVerifier
	// Signer signs the records of Provide. Optional: without it, Provide
	// fails.
	Signer RecordSigner
}

// Core is the protocol state machine of one node. It is not safe for
// concurrent use: one goroutine (the runtime's event loop) calls it. Every
// method that returns []Action returns a slice owned by the core and valid
// until the next call; the caller carries the actions out in order.
type Core struct {
	cfg      Config
	self     kbucket.ID
	selfInfo wire.NodeInfo
	table    *kbucket.Table
	rng      *rand.Rand
	verifier RecordVerifier
	signer   RecordSigner

	out         []Action
	peerBuf     []kbucket.Peer
	nextProbe   ProbeID
	nextOp      LookupID
	probes      map[ProbeID]*probe
	freeProbes  []*probe
	freeOps     []*operation
	ops         int                    // running operations
	evicting    map[kbucket.ID]ProbeID // pending pings of table entries (ping-before-evict, silent checks)
	store       providerStore
	values      valueStore
	limits      limiter
	pubs        []publication
	stats       Stats
	started     bool
	sweepAt     int64   // next sweep, unix ns
	refreshAt   int64   // next bucket-refresh check
	refreshBuf  []int   // stale buckets picked by a refresh check
	republishAt int64   // armed republish deadline, 0 when none
	sizeEst     float64 // running network-size estimate from lookup densities
}

// New returns a core for the node self.
func New(self kbucket.ID, cfg Config, deps Deps) (*Core, error) {
	if cfg.Table.K == 0 {
		cfg.Table.K = cfg.K
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("core: %w", err)
	}
	if deps.Rand == nil {
		return nil, errors.New("core: Deps.Rand is required")
	}
	if deps.Verifier == nil {
		return nil, errors.New("core: Deps.Verifier is required")
	}
	t, err := kbucket.NewTable(self, cfg.Table, deps.Resolver)
	if err != nil {
		return nil, fmt.Errorf("core: routing table: %w", err)
	}
	c := &Core{
		cfg:        cfg,
		self:       self,
		selfInfo:   wire.NodeInfo{ID: self, Addrs: cfg.Addrs},
		table:      t,
		rng:        deps.Rand,
		verifier:   deps.Verifier,
		signer:     deps.Signer,
		out:        make([]Action, 0, 32),
		peerBuf:    make([]kbucket.Peer, 0, cfg.K+1),
		refreshBuf: make([]int, 0, kbucket.NumBuckets/refreshChecks),
		probes:     make(map[ProbeID]*probe),
		evicting:   make(map[kbucket.ID]ProbeID),
		store:      newProviderStore(&cfg),
		values: valueStore{
			maxValue: cfg.StoreMaxValueBytes,
			maxTotal: cfg.StoreMaxTotalBytes,
			ttl:      int64(cfg.StoreValueTTL),
		},
		limits: newLimiter(&cfg),
	}
	return c, nil
}

// Self returns the node's ID.
func (c *Core) Self() kbucket.ID { return c.self }

// Config returns the core's configuration.
func (c *Core) Config() Config { return c.cfg }

// Table returns the routing table. The core is its single writer: callers
// may read it only from the core's goroutine, or use Table().Snapshot().
func (c *Core) Table() *kbucket.Table { return c.table }

// Stats returns the cumulative counters.
func (c *Core) Stats() Stats { return c.stats }

// Inflight is the number of outstanding outbound probes (dht_rpcs_inflight).
func (c *Core) Inflight() int { return len(c.probes) }

// Running is the number of operations in progress.
func (c *Core) Running() int { return c.ops }

// StoredRecords is the number of provider records held for other nodes.
func (c *Core) StoredRecords() int { return c.store.total }

// LocalProviders returns the unexpired provider records this node stores
// for key (for inspection; FIND_VALUE serves the same).
func (c *Core) LocalProviders(now time.Time, key kbucket.ID) []wire.ProviderRecord {
	return c.store.get(key, now.UnixNano(), nil)
}

// Start arms the periodic timers (expiry sweep, bucket-refresh checks).
// Call it once, before or after Bootstrap. The first bucket-refresh check
// comes one BucketRefreshInterval after Start plus a random phase of less
// than one check period (drawn from Deps.Rand), so that nodes started
// together do not check in step; until then the refresh that follows
// Bootstrap fills the table.
func (c *Core) Start(now time.Time) []Action {
	c.out = c.out[:0]
	if c.started {
		return c.out
	}
	c.started = true
	ns := now.UnixNano()
	c.sweepAt = ns + int64(c.cfg.SweepInterval)
	c.refreshAt = ns + int64(c.cfg.BucketRefreshInterval) + c.rng.Int64N(refreshPeriod(c.cfg.BucketRefreshInterval))
	c.arm(timerSweep, c.sweepAt)
	c.arm(timerRefresh, c.refreshAt)
	return c.out
}

// AddPeer records a successful exchange with p that happened outside the
// core (for example the runtime's first contact with a seed). p.Addr should
// be the observed address.
func (c *Core) AddPeer(now time.Time, p kbucket.Peer) []Action {
	c.out = c.out[:0]
	c.seen(p, now.UnixNano())
	return c.out
}

// HandleRequest serves one inbound request from peer from (ID from the TLS
// certificate, Addr the observed address, Addrs its dialable addresses) and
// fills resp, the reply to send back (its slices' capacity is reused, so the
// steady state does not allocate; the strings and records it references
// stay owned by the core and must not be modified). Quotas are checked
// first (1429); a request that passes them counts as a successful exchange
// for the routing table. The returned actions are ping-before-evict probes.
// The caller must not modify req.Record, req.Value or from.Addrs afterwards:
// the core keeps references to them.
func (c *Core) HandleRequest(now time.Time, from kbucket.Peer, req *Request, resp *Response) []Action {
	c.out = c.out[:0]
	ns := now.UnixNano()
	resp.reset(req.Op)
	if req.Op <= wire.OpStore {
		c.stats.Requests[req.Op]++
	}
	if code, reason := c.limits.admit(from.ID, ns); code != wire.CodeOK {
		c.stats.QuotaRejected++
		resp.Code, resp.Reason = code, reason
		return c.out
	}
	switch req.Op {
	case wire.OpPing:
		resp.Self = c.selfInfo
	case wire.OpFindNode:
		resp.Closest = c.closestInfo(req.Key, from.ID, resp.Closest)
	case wire.OpFindValue:
		resp.Providers = c.store.get(req.Key, ns, resp.Providers)
		if len(resp.Providers) == 0 {
			resp.Closest = c.closestInfo(req.Key, from.ID, resp.Closest)
		}
	case wire.OpProvide:
		c.handleProvide(now, req, resp)
	case wire.OpStore:
		if !c.cfg.EnableStore {
			resp.Code, resp.Reason = wire.CodeNotFound, "store: feature disabled"
			break
		}
		resp.Code, resp.Reason = c.values.put(req.Key, req.Value, ns)
		resp.Accepted = resp.Code == wire.CodeOK
	default:
		resp.Code, resp.Reason = wire.CodeMalformed, fmt.Sprintf("unknown opcode %#x", uint8(req.Op))
	}
	if resp.Code == wire.CodeMalformed {
		c.stats.BadRequests++
	} else {
		c.seen(from, ns)
	}
	return c.out
}

func (c *Core) handleProvide(now time.Time, req *Request, resp *Response) {
	rec := req.Record
	if rec == nil {
		resp.Code, resp.Reason = wire.CodeMalformed, "provide: no record"
		return
	}
	if _, code, reason := c.store.admit(rec); code != wire.CodeOK {
		c.stats.RecordsRefused++
		resp.Code, resp.Reason = code, reason
		return
	}
	if err := c.verifier.Verify(rec, now); err != nil {
		c.stats.RecordsRefused++
		resp.Code = wire.CodeOf(err)
		if resp.Code == 0 || resp.Code == wire.CodeOK {
			resp.Code = wire.CodeBadSignature
		}
		resp.Reason = err.Error()
		return
	}
	resp.Code, resp.Reason = c.store.put(rec, now.UnixNano())
	if resp.Accepted = resp.Code == wire.CodeOK; resp.Accepted {
		c.stats.RecordsStored++
	} else {
		c.stats.RecordsRefused++
	}
}

// closestInfo appends to dst the K peers of the table closest to target,
// leaving out exclude (the requester, who knows itself).
func (c *Core) closestInfo(target, exclude kbucket.ID, dst []wire.NodeInfo) []wire.NodeInfo {
	c.peerBuf = c.table.Closest(target, c.cfg.K+1, c.peerBuf[:0])
	n := 0
	for i := range c.peerBuf {
		p := &c.peerBuf[i]
		if p.ID == exclude {
			continue
		}
		if n == c.cfg.K {
			break
		}
		n++
		dst = append(dst, wire.NodeInfo{ID: p.ID, Addrs: p.Addrs, LastSeen: p.LastSeen / int64(time.Second)})
	}
	return dst
}

// HandleResponse delivers the answer to probe id, received from the
// observed address. Answers to unknown, finished or cancelled probes are
// ignored. The caller may reuse resp after the call, but must not modify the
// strings, Addrs slices and records it references (the core keeps them).
func (c *Core) HandleResponse(now time.Time, id ProbeID, observed netip.AddrPort, resp *Response) []Action {
	c.out = c.out[:0]
	p, ok := c.probes[id]
	if !ok {
		return c.out
	}
	delete(c.probes, id)
	ns := now.UnixNano()
	c.stats.ProbesAnswered++
	if observed.IsValid() {
		p.peer.Addr = observed
	}
	want := wire.OpPing
	switch p.kind {
	case probeLookup:
		want = lookupOpcode(p.op.op)
	case probeStore:
		want = wire.OpProvide
	}
	if resp.Op != want {
		// A confused or hostile responder: treat as a failed exchange.
		c.probeFailed(p, ns)
		c.releaseProbe(p)
		return c.out
	}
	if resp.Code != wire.CodeOK {
		c.stats.ProbesErrCode++
	}
	switch p.kind {
	case probeEvict:
		delete(c.evicting, p.peer.ID)
		_, promoted := c.table.PingResult(p.peer.ID, true, ns)
		c.notePromoted(promoted)
		c.table.NoteExchange(p.peer.ID, ns) // an entry of that (full) bucket answered
	case probeLookup:
		c.lookupAnswered(p, resp, ns)
	case probeStore:
		c.seen(p.peer, ns)
		c.storeAnswered(p, resp, ns)
	case probePing:
		c.seen(p.peer, ns)
		c.pingDone(p, resp.Code, ns)
	case probeCheck:
		delete(c.evicting, p.peer.ID)
		c.seen(p.peer, ns)
	}
	c.releaseProbe(p)
	return c.out
}

// HandleFailure reports that probe id failed (transport error, refused
// stream, connection lost). Failures of unknown probes are ignored.
func (c *Core) HandleFailure(now time.Time, id ProbeID, err error) []Action {
	c.out = c.out[:0]
	_ = err // the cause matters to the runtime's metrics, not to the protocol
	if p, ok := c.probes[id]; ok {
		delete(c.probes, id)
		c.probeFailed(p, now.UnixNano())
		c.releaseProbe(p)
	}
	return c.out
}

// HandleTimer fires timer id. Firings of timers that no longer matter (an
// answered probe, an early or duplicate periodic timer) are ignored.
func (c *Core) HandleTimer(now time.Time, id TimerID) []Action {
	c.out = c.out[:0]
	ns := now.UnixNano()
	switch id &^ timerProbeMask {
	case timerHedge:
		if p, ok := c.probes[ProbeID(id&timerProbeMask)]; ok {
			c.hedge(p, ns)
		}
	case timerTimeout:
		if p, ok := c.probes[ProbeID(id&timerProbeMask)]; ok {
			delete(c.probes, p.id)
			c.stats.ProbesTimedOut++
			c.out = append(c.out, Action{Kind: ActCancel, Probe: p.id})
			c.probeFailed(p, ns)
			c.releaseProbe(p)
		}
	case timerSweep:
		if c.started && ns >= c.sweepAt {
			c.stats.RecordsExpired += uint64(c.store.sweep(ns))
			c.values.sweep(ns)
			c.limits.sweep(ns)
			c.sweepAt = ns + int64(c.cfg.SweepInterval)
			c.arm(timerSweep, c.sweepAt)
		}
	case timerRefresh:
		if c.started && ns >= c.refreshAt {
			c.refreshStale(ns)
			c.refreshAt = ns + refreshPeriod(c.cfg.BucketRefreshInterval)
			c.arm(timerRefresh, c.refreshAt)
		}
	case timerRepublish:
		c.republish(ns)
	}
	return c.out
}

// seen records a successful exchange with p and starts a ping-before-evict
// probe when the table asks for one. An exchange that leaves p in a full
// bucket counts as a use of that bucket (kbucket.Table.NoteExchange): it
// needs no refresh lookup for a while.
func (c *Core) seen(p kbucket.Peer, ns int64) {
	r := c.table.Seen(p, ns)
	switch r.Outcome {
	case kbucket.Added:
		c.stats.RouteAdded++
		c.table.NoteExchange(p.ID, ns)
	case kbucket.Updated:
		c.stats.RouteUpdated++
		c.table.NoteExchange(p.ID, ns)
	case kbucket.Cached:
		c.stats.RouteCached++
	case kbucket.Rejected:
		c.stats.RouteRejected++
	}
	if r.PingCandidate == nil {
		return
	}
	cand := *r.PingCandidate
	if _, pending := c.evicting[cand.ID]; pending {
		return
	}
	if ns-cand.LastSeen < int64(c.cfg.EvictPingMinAge) {
		// Heard from recently: alive. It stays without a probe; the
		// table offers a candidate again after its PingTimeout.
		c.stats.EvictSkipped++
		return
	}
	c.stats.EvictPings++
	pr := c.newProbe(probeEvict, nil, cand, ns)
	c.evicting[cand.ID] = pr.id
	c.send(pr, Request{Op: wire.OpPing})
	c.arm(timerTimeout|TimerID(pr.id), ns+int64(c.cfg.RPCTimeout))
}

func (c *Core) notePromoted(p *kbucket.Peer) {
	if p != nil {
		c.stats.RouteEvicted++
	}
}

// probeFailed handles a failed or timed-out probe p (already removed from
// the probe map).
func (c *Core) probeFailed(p *probe, ns int64) {
	c.stats.ProbesFailed++
	switch p.kind {
	case probeEvict:
		delete(c.evicting, p.peer.ID)
		evicted, _ := c.table.PingResult(p.peer.ID, false, ns)
		if evicted {
			c.stats.RouteEvicted++
		}
	case probeLookup:
		if c.table.Failed(p.peer.ID, ns) {
			c.stats.RouteEvicted++
		}
		c.lookupFailed(p, ns)
	case probeStore:
		if c.table.Failed(p.peer.ID, ns) {
			c.stats.RouteEvicted++
		}
		c.storeAnswered(p, nil, ns)
	case probePing:
		if c.table.Failed(p.peer.ID, ns) {
			c.stats.RouteEvicted++
		}
		c.pingDone(p, wire.CodeTimeout, ns)
	case probeCheck:
		delete(c.evicting, p.peer.ID)
		if c.table.Failed(p.peer.ID, ns) {
			c.stats.RouteEvicted++
		}
	}
}

func (c *Core) newProbe(kind probeKind, op *operation, peer kbucket.Peer, ns int64) *probe {
	var p *probe
	if n := len(c.freeProbes); n > 0 {
		p = c.freeProbes[n-1]
		c.freeProbes = c.freeProbes[:n-1]
	} else {
		p = new(probe)
	}
	c.nextProbe++
	*p = probe{id: c.nextProbe, kind: kind, op: op, peer: peer, sent: ns}
	c.probes[p.id] = p
	return p
}

func (c *Core) releaseProbe(p *probe) {
	*p = probe{}
	c.freeProbes = append(c.freeProbes, p)
}

func (c *Core) send(p *probe, req Request) {
	c.stats.ProbesSent++
	c.out = append(c.out, Action{Kind: ActSend, Probe: p.id, Peer: p.peer, Req: req})
}

func (c *Core) arm(id TimerID, deadline int64) {
	c.out = append(c.out, Action{Kind: ActArmTimer, Timer: id, Deadline: time.Unix(0, deadline)})
}

// cancel abandons the outstanding probe p: it leaves the probe map and the
// runtime is told to drop it.
func (c *Core) cancel(p *probe) {
	delete(c.probes, p.id)
	c.out = append(c.out, Action{Kind: ActCancel, Probe: p.id})
}
