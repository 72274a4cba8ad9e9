package core

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// candState is where a lookup candidate stands.
type candState uint8

const (
	candFresh    candState = iota // known, not asked
	candInflight                  // asked, no answer yet
	candAnswered                  // answered OK
	candFailed                    // failed, timed out or answered with an error code
	candCanceled                  // lost a hedge race or abandoned: neither asked again nor counted
)

// cand is a lookup candidate: a node and the depth of its discovery chain.
type cand struct {
	key   uint64 // the first 8 bytes of the XOR distance to the target: the fast sort key
	peer  kbucket.Peer
	depth uint8 // 1 = from the local table or a seed; d+1 = learned from a depth-d responder
	state candState
	probe ProbeID
}

// operation is one running lookup, provide or ping.
type operation struct {
	id      LookupID
	op      wire.Opcode
	purpose Purpose
	target  kbucket.ID
	tkey    uint64 // the first 8 bytes of target, big-endian
	started int64
	cands   []cand // ascending by XOR distance to target, unique IDs
	active  int    // unresolved probe groups (a hedged pair counts once)
	// final: the lookup has converged and is in its final round, which
	// keeps up to K probe groups in flight instead of Alpha, so every
	// unqueried candidate among the K closest in play is asked at once.
	// The lookup converges on an OK answer after which the closest
	// candidate in play (not failed or cancelled) is the same as before
	// the answer's contacts were added, and has answered itself: the
	// answer brought nothing closer than the closest seen, and the closest
	// seen confirmed it knows nothing closer either. The final round lasts
	// to the end of the lookup: a closer node learned in it is one of the
	// K closest and is asked at once, like the rest.
	final bool

	rpcs, hedges, canceled, failures int

	providers []wire.ProviderRecord // FIND_VALUE: distinct valid records
	valueHops int                   // depth of the first responder that gave records

	rec      *wire.ProviderRecord // PROVIDE: the signed record
	closest  []kbucket.Peer       // PROVIDE: the k closest found in phase 1
	findHops int                  // PROVIDE: hops of phase 1
	findErr  error                // PROVIDE: error of phase 1
	storing  bool                 // PROVIDE: phase 2 (storing) under way
	pending  int                  // PROVIDE: outstanding store probes
	replicas int                  // PROVIDE: accepted stores
}

// lookupOpcode is the RPC a lookup of kind op sends.
func lookupOpcode(op wire.Opcode) wire.Opcode {
	if op == wire.OpFindValue {
		return wire.OpFindValue
	}
	return wire.OpFindNode
}

// FindNode starts an iterative FIND_NODE lookup for target. The result
// arrives as an ActDone action.
func (c *Core) FindNode(now time.Time, target kbucket.ID) (LookupID, []Action, error) {
	return c.startLookup(now, wire.OpFindNode, PurposeUser, target, nil)
}

// FindValue starts a FIND_VALUE lookup for the providers of key. Records
// held locally answer it at once (Hops 0).
func (c *Core) FindValue(now time.Time, key kbucket.ID) (LookupID, []Action, error) {
	return c.startLookup(now, wire.OpFindValue, PurposeUser, key, nil)
}

// Bootstrap joins the network: a lookup of the node's own ID that asks the
// seeds (and whatever the table already holds). When it finishes, every
// bucket populatable at the estimated network size is refreshed at once
// (that is how a new node fills its table), whether or not the self-lookup
// already exchanged with some of its peers.
func (c *Core) Bootstrap(now time.Time, seeds []kbucket.Peer) (LookupID, []Action, error) {
	return c.startLookup(now, wire.OpFindNode, PurposeBootstrap, c.self, seeds)
}

// Provide publishes that this node provides key at addrs: it signs a record
// (ttl ProviderTTL), looks up the K closest nodes to key and sends them the
// record; the result reports the replicas stored. The record is republished
// every ProviderRefresh until StopProviding(key). ProvideWithTTL gives the
// record a ttl of its own.
func (c *Core) Provide(now time.Time, key kbucket.ID, addrs []string) (LookupID, []Action, error) {
	return c.ProvideWithTTL(now, key, addrs, 0)
}

// StopProviding stops republishing key. Records already stored elsewhere
// expire with their ttl.
func (c *Core) StopProviding(key kbucket.ID) {
	for i := range c.pubs {
		if c.pubs[i].key == key {
			c.pubs = append(c.pubs[:i], c.pubs[i+1:]...)
			return
		}
	}
}

// Ping sends a PING to peer; the result has Closest = [peer] on success.
func (c *Core) Ping(now time.Time, peer kbucket.Peer) (LookupID, []Action, error) {
	c.out = c.out[:0]
	ns := now.UnixNano()
	o, err := c.newOp(wire.OpPing, PurposeUser, peer.ID, ns)
	if err != nil {
		return 0, c.out, err
	}
	id := o.id
	p := c.newProbe(probePing, o, peer, ns)
	o.rpcs++
	c.send(p, Request{Op: wire.OpPing})
	c.arm(timerTimeout|TimerID(p.id), ns+int64(c.cfg.RPCTimeout))
	return id, c.out, nil
}

// newRecord signs a record of key at addrs with the given ttl (0:
// ProviderTTL).
func (c *Core) newRecord(key kbucket.ID, addrs []string, ttl time.Duration, ns int64) (*wire.ProviderRecord, error) {
	if c.signer == nil {
		return nil, errors.New("core: provide: no record signer configured")
	}
	rec := &wire.ProviderRecord{
		ProtoVer: wire.ProtoVersion,
		Key:      key,
		Addrs:    addrs,
		TTL:      uint32(cmp.Or(ttl, c.cfg.ProviderTTL) / time.Second),
		TS:       ns / int64(time.Second),
	}
	if err := c.signer.SignRecord(rec); err != nil {
		return nil, fmt.Errorf("core: provide %s: sign record: %w", key.Short(), err)
	}
	return rec, nil
}

func (c *Core) startLookup(now time.Time, op wire.Opcode, purpose Purpose, target kbucket.ID, seeds []kbucket.Peer) (LookupID, []Action, error) {
	c.out = c.out[:0]
	ns := now.UnixNano()
	o, err := c.newOp(op, purpose, target, ns)
	if err != nil {
		return 0, c.out, err
	}
	id := o.id // o is recycled as soon as it finishes
	if op == wire.OpFindValue {
		o.providers = c.store.get(target, ns, o.providers)
		if len(o.providers) >= c.cfg.ProviderEnough {
			c.finish(o, ns)
			return id, c.out, nil
		}
	}
	c.runLookup(o, seeds, ns)
	return id, c.out, nil
}

func (c *Core) newOp(op wire.Opcode, purpose Purpose, target kbucket.ID, ns int64) (*operation, error) {
	if c.cfg.MaxLookups > 0 && c.ops >= c.cfg.MaxLookups {
		return nil, fmt.Errorf("core: start %s: %d operations running: %w", opName(op), c.ops, wire.QuotaHit("lookups"))
	}
	var o *operation
	if n := len(c.freeOps); n > 0 {
		o = c.freeOps[n-1]
		c.freeOps = c.freeOps[:n-1]
	} else {
		o = new(operation)
	}
	c.nextOp++
	c.ops++
	c.stats.LookupsStarted++
	if o.cands == nil {
		// A lookup typically learns a few K candidates: size for it once.
		o.cands = make([]cand, 0, 4*c.cfg.K)
	}
	*o = operation{
		id: c.nextOp, op: op, purpose: purpose, target: target, started: ns,
		tkey:  binary.BigEndian.Uint64(target[:8]),
		cands: o.cands[:0], providers: o.providers[:0],
	}
	if b := kbucket.CommonPrefixLen(c.self, target); b < kbucket.IDLen*8 {
		c.table.Touch(b, ns)
	}
	return o, nil
}

// runLookup seeds o with the table's closest peers (and seeds) and starts
// probing.
func (c *Core) runLookup(o *operation, seeds []kbucket.Peer, ns int64) {
	c.peerBuf = c.table.Closest(o.target, c.cfg.K, c.peerBuf[:0])
	for i := range c.peerBuf {
		o.insert(c.self, c.peerBuf[i], 1)
	}
	clear(c.peerBuf)
	for i := range seeds {
		o.insert(c.self, seeds[i], 1)
	}
	c.advance(o, ns)
}

// find returns the index of id among o's candidates, or -1.
func (o *operation) find(id kbucket.ID) int {
	i := o.searchPos(id)
	if i < len(o.cands) && o.cands[i].peer.ID == id {
		return i
	}
	return -1
}

// distKey is the ordering key of id: the first 8 bytes of its distance to
// the target, big-endian. Equal keys fall back to the full comparison.
func (o *operation) distKey(id kbucket.ID) uint64 {
	return binary.BigEndian.Uint64(id[:8]) ^ o.tkey
}

// searchPos is the index of the first candidate not closer to the target
// than id.
func (o *operation) searchPos(id kbucket.ID) int {
	key := o.distKey(id)
	lo, hi := 0, len(o.cands)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		cm := &o.cands[m]
		if cm.key < key || (cm.key == key && kbucket.CloserTo(o.target, cm.peer.ID, id)) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// insert adds p at depth unless it is self or known; a known fresh
// candidate found again through a shorter chain takes the shorter depth.
func (o *operation) insert(self kbucket.ID, p kbucket.Peer, depth int) {
	if p.ID == self || p.ID == (kbucket.ID{}) {
		return
	}
	d := uint8(min(depth, 255))
	i := o.searchPos(p.ID)
	if i < len(o.cands) && o.cands[i].peer.ID == p.ID {
		if cd := &o.cands[i]; cd.state == candFresh && d < cd.depth {
			cd.depth = d
		}
		return
	}
	o.cands = append(o.cands, cand{})
	copy(o.cands[i+1:], o.cands[i:])
	o.cands[i] = cand{key: o.distKey(p.ID), peer: p, depth: d}
}

// next returns the index of the best candidate to ask: the closest fresh
// candidate within the hop budget among the K closest candidates still in
// play (not failed or cancelled), or -1.
//
// For a hedge, silentAt is the latest send time of a probe that has been
// silent for HedgeAfter (0 otherwise). Such presumed-slow probes do not
// count towards the K: a hedge stands in for them, so it may go one place
// further out for each. Without this, a slow probe among the K closest
// near the end of a lookup would have nothing to hedge to and the lookup
// would wait for its RPCTimeout.
func (c *Core) next(o *operation, silentAt int64) int {
	live := 0
	for i := range o.cands {
		cd := &o.cands[i]
		if cd.state == candFailed || cd.state == candCanceled {
			continue
		}
		if live == c.cfg.K {
			break
		}
		if cd.state == candFresh && int(cd.depth) <= c.cfg.HopBudget {
			return i
		}
		if silentAt > 0 && cd.state == candInflight {
			if p, ok := c.probes[cd.probe]; ok && p.sent <= silentAt {
				continue
			}
		}
		live++
	}
	return -1
}

// topAnswered reports whether the K closest candidates in play have all
// answered (and at least one has). Superseded probes (silent for
// HedgeAfter with nowhere to hedge to, see hedge) do not count when a full
// K of other candidates have answered: those stand in for them, as a
// hedge that answered would.
func (c *Core) topAnswered(o *operation) bool {
	live, skipped := 0, false
	for i := range o.cands {
		cd := &o.cands[i]
		if cd.state == candFailed || cd.state == candCanceled {
			continue
		}
		if live == c.cfg.K {
			break
		}
		if cd.state == candInflight {
			if p, ok := c.probes[cd.probe]; ok && p.superseded {
				skipped = true
				continue
			}
		}
		if cd.state != candAnswered {
			return false
		}
		live++
	}
	return live > 0 && (!skipped || live == c.cfg.K)
}

// advance keeps Alpha probe groups in flight (K once the lookup has
// converged: the final round) and ends the lookup when its termination rule
// holds.
func (c *Core) advance(o *operation, ns int64) {
	limit := c.cfg.Alpha
	if o.final {
		limit = c.cfg.K
	}
	for o.active < limit && o.rpcs < c.cfg.LookupMaxRPCs {
		i := c.next(o, 0)
		if i < 0 {
			break
		}
		c.launch(o, i, nil, ns)
		o.active++
	}
	if o.active == 0 || c.topAnswered(o) {
		c.finish(o, ns)
	}
}

// launch sends the lookup RPC to candidate i. Primary probes (group nil)
// arm a hedge timer when hedging is on; hedges arm only their timeout.
func (c *Core) launch(o *operation, i int, g *hedgeGroup, ns int64) *probe {
	cd := &o.cands[i]
	cd.state = candInflight
	p := c.newProbe(probeLookup, o, cd.peer, ns)
	cd.probe = p.id
	p.group = g
	o.rpcs++
	c.send(p, Request{Op: lookupOpcode(o.op), Key: o.target, Hedge: g != nil})
	if g == nil && c.cfg.Beta > 0 && c.cfg.HedgeAfter < c.cfg.RPCTimeout {
		c.arm(timerHedge|TimerID(p.id), ns+int64(c.cfg.HedgeAfter))
	} else {
		c.arm(timerTimeout|TimerID(p.id), ns+int64(c.cfg.RPCTimeout))
	}
	return p
}

// hedge runs when primary probe p has been silent for HedgeAfter: it arms
// p's timeout for the rest of RPCTimeout and spawns up to Beta hedged probes
// to the next-best unqueried candidates. When there is none (every
// candidate a hedge could stand in with has been asked already, typically
// in the final round), p is marked superseded instead.
func (c *Core) hedge(p *probe, ns int64) {
	c.arm(timerTimeout|TimerID(p.id), p.sent+int64(c.cfg.RPCTimeout))
	o := p.op
	if p.kind != probeLookup || p.group != nil {
		return
	}
	for n := 0; n < c.cfg.Beta && o.rpcs < c.cfg.LookupMaxRPCs; n++ {
		i := c.next(o, ns-int64(c.cfg.HedgeAfter))
		if i < 0 {
			break
		}
		if p.group == nil {
			p.group = &hedgeGroup{}
			p.group.members[0] = p.id
			p.group.n = 1
		}
		h := c.launch(o, i, p.group, ns)
		p.group.members[p.group.n] = h.id
		p.group.n++
		o.hedges++
		c.stats.HedgesSpawned++
	}
	if p.group == nil {
		// Nowhere to hedge to: the candidates a hedge would stand in with
		// have all been asked already. p no longer holds the lookup up once
		// a full K of others have answered (topAnswered).
		p.superseded = true
		c.advance(o, ns)
	}
}

// groupAnswered resolves p's probe group after p answered: the other
// members still in flight lose the race and are cancelled.
func (c *Core) groupAnswered(p *probe) {
	o := p.op
	if g := p.group; g != nil {
		for _, m := range g.members[:g.n] {
			if m == p.id {
				continue
			}
			if q, ok := c.probes[m]; ok {
				c.cancel(q)
				if i := o.find(q.peer.ID); i >= 0 {
					o.cands[i].state = candCanceled
				}
				o.canceled++
				c.stats.HedgesCanceled++
				c.releaseProbe(q)
			}
		}
	}
	o.active--
}

// groupFailed accounts for failed probe p: its group stays in flight while
// another member is outstanding.
func (c *Core) groupFailed(p *probe) {
	if g := p.group; g != nil {
		for _, m := range g.members[:g.n] {
			if _, ok := c.probes[m]; ok && m != p.id {
				return
			}
		}
	}
	p.op.active--
}

func (c *Core) lookupAnswered(p *probe, resp *Response, ns int64) {
	o := p.op
	c.seen(p.peer, ns) // the peer is alive, whatever its answer
	i := o.find(p.peer.ID)
	if resp.Code != wire.CodeOK {
		if i >= 0 {
			o.cands[i].state = candFailed
		}
		o.failures++
		c.groupAnswered(p)
		c.advance(o, ns)
		return
	}
	depth := 1
	if i >= 0 {
		o.cands[i].state = candAnswered
		o.cands[i].peer.Addr = p.peer.Addr
		depth = int(o.cands[i].depth)
	}
	c.groupAnswered(p)
	// The closest candidate in play before the answer's contacts are
	// added, to tell whether the answer brought anything closer.
	best := -1
	var bestID kbucket.ID
	if !o.final {
		if best = o.closestInPlay(); best >= 0 {
			bestID = o.cands[best].peer.ID
		}
	}
	if o.op == wire.OpFindValue && len(resp.Providers) > 0 {
		c.takeProviders(o, resp.Providers, depth, ns)
		if len(o.providers) >= c.cfg.ProviderEnough {
			c.finish(o, ns)
			return
		}
	}
	for j := range resp.Closest {
		if j == c.cfg.K {
			break // more than asked for: ignore the excess
		}
		ni := &resp.Closest[j]
		o.insert(c.self, kbucket.Peer{ID: ni.ID, Addrs: ni.Addrs}, depth+1)
	}
	if best >= 0 {
		if i := o.closestInPlay(); o.cands[i].peer.ID == bestID && o.cands[i].state == candAnswered {
			o.final = true // converged (see operation.final)
		}
	}
	c.advance(o, ns)
}

// closestInPlay returns the index of the closest candidate in play (not
// failed or cancelled), or -1.
func (o *operation) closestInPlay() int {
	for i := range o.cands {
		if s := o.cands[i].state; s != candFailed && s != candCanceled {
			return i
		}
	}
	return -1
}

// takeProviders keeps the valid records for o's key, one per publisher.
func (c *Core) takeProviders(o *operation, recs []wire.ProviderRecord, depth int, ns int64) {
	now := time.Unix(0, ns)
	for j := range recs {
		r := &recs[j]
		if r.Key != o.target || c.hasPublisher(o, r.Publisher) {
			continue
		}
		if c.verifier.Verify(r, now) != nil {
			continue
		}
		if len(o.providers) == 0 {
			o.valueHops = depth
		}
		o.providers = append(o.providers, *r)
	}
}

func (c *Core) hasPublisher(o *operation, pub [wire.IDLen]byte) bool {
	for i := range o.providers {
		if o.providers[i].Publisher == pub {
			return true
		}
	}
	return false
}

func (c *Core) lookupFailed(p *probe, ns int64) {
	o := p.op
	if i := o.find(p.peer.ID); i >= 0 {
		o.cands[i].state = candFailed
	}
	o.failures++
	c.groupFailed(p)
	c.advance(o, ns)
}

// finish ends the lookup phase of o: outstanding probes are abandoned and
// the result is computed. A PROVIDE goes on to its store phase.
func (c *Core) finish(o *operation, ns int64) {
	for i := range o.cands {
		cd := &o.cands[i]
		if cd.state != candInflight {
			continue
		}
		if q, ok := c.probes[cd.probe]; ok {
			c.cancel(q)
			c.releaseProbe(q)
		}
		cd.state = candCanceled
	}
	closest := make([]kbucket.Peer, 0, c.cfg.K)
	hops := 0
	for i := range o.cands {
		if cd := &o.cands[i]; cd.state == candAnswered {
			if len(closest) == 0 {
				hops = int(cd.depth)
			}
			closest = append(closest, cd.peer)
			if len(closest) == c.cfg.K {
				break
			}
		}
	}
	var err error
	switch {
	case o.op == wire.OpFindValue && len(o.providers) > 0:
		hops = o.valueHops
	case len(o.cands) == 0:
		err = fmt.Errorf("core: %s %s: no peer to ask: %w", opName(o.op), o.target.Short(), wire.ErrNoBootstrap)
	case c.beyondBudget(o):
		err = fmt.Errorf("core: %s %s: closest candidate beyond hop budget %d: %w",
			opName(o.op), o.target.Short(), c.cfg.HopBudget, wire.ErrHopExceeded)
	case len(closest) == 0:
		err = fmt.Errorf("core: %s %s: all %d peers asked failed: %w", opName(o.op), o.target.Short(), o.failures, wire.ErrTimeout)
	case o.op == wire.OpFindValue:
		err = fmt.Errorf("core: find value %s: %w", o.target.Short(), wire.ErrNotFound)
	}
	if err == nil && o.op != wire.OpFindValue {
		c.noteDensity(o.target, closest)
	}
	if o.op == wire.OpProvide {
		o.closest, o.findHops, o.findErr = closest, hops, err
		c.startStores(o, ns)
		return
	}
	c.done(o, closest, hops, err, ns)
}

// beyondBudget reports whether the closest candidate in play was never
// asked because its discovery chain exceeds the hop budget.
func (c *Core) beyondBudget(o *operation) bool {
	for i := range o.cands {
		cd := &o.cands[i]
		if cd.state == candFailed || cd.state == candCanceled {
			continue
		}
		return cd.state == candFresh && int(cd.depth) > c.cfg.HopBudget
	}
	return false
}

// startStores sends the record of o to the k closest nodes found.
func (c *Core) startStores(o *operation, ns int64) {
	o.storing = true
	if len(o.closest) == 0 {
		c.done(o, o.closest, o.findHops, o.findErr, ns)
		return
	}
	for i := range o.closest {
		p := c.newProbe(probeStore, o, o.closest[i], ns)
		o.rpcs++
		o.pending++
		c.send(p, Request{Op: wire.OpProvide, Key: o.target, Record: o.rec})
		c.arm(timerTimeout|TimerID(p.id), ns+int64(c.cfg.RPCTimeout))
	}
}

// storeAnswered accounts one store probe's outcome (resp nil: failed).
func (c *Core) storeAnswered(p *probe, resp *Response, ns int64) {
	o := p.op
	if resp != nil && resp.Code == wire.CodeOK && resp.Accepted {
		o.replicas++
	} else {
		o.failures++
	}
	if o.pending--; o.pending > 0 {
		return
	}
	err := o.findErr
	if err == nil && o.replicas == 0 {
		err = fmt.Errorf("core: provide %s: no replica accepted the record: %w", o.target.Short(), wire.ErrTimeout)
	}
	if o.purpose == PurposeRepublish {
		if err == nil {
			c.stats.Republished++
		} else {
			c.stats.RepublishFail++
		}
	}
	c.done(o, o.closest, o.findHops, err, ns)
}

func (c *Core) pingDone(p *probe, code wire.Code, ns int64) {
	o := p.op
	var closest []kbucket.Peer
	var err error
	if code == wire.CodeOK {
		closest = []kbucket.Peer{p.peer}
	} else {
		o.failures++
		err = fmt.Errorf("core: ping %s: %w", p.peer.ID.Short(), wire.ErrorFromCode(code, ""))
	}
	c.done(o, closest, 1, err, ns)
}

// done emits o's result and recycles o.
func (c *Core) done(o *operation, closest []kbucket.Peer, hops int, err error, ns int64) {
	r := &Result{
		ID: o.id, Op: o.op, Purpose: o.purpose, Target: o.target, Err: err,
		Closest: closest, Replicas: o.replicas, Hops: hops,
		RPCs: o.rpcs, Hedges: o.hedges, Canceled: o.canceled, Failures: o.failures,
		Started: time.Unix(0, o.started), Finished: time.Unix(0, ns),
	}
	if len(o.providers) > 0 {
		r.Providers = append([]wire.ProviderRecord(nil), o.providers...)
	}
	if err != nil {
		c.stats.LookupsFailed++
	}
	c.out = append(c.out, Action{Kind: ActDone, Result: r})
	bootstrap := o.purpose == PurposeBootstrap
	clear(o.cands)
	clear(o.providers)
	*o = operation{cands: o.cands[:0], providers: o.providers[:0]}
	c.ops--
	c.freeOps = append(c.freeOps, o)
	if bootstrap && c.table.Len() > 0 {
		for b := range kbucket.PopulatableBuckets(c.NetworkSizeEstimate()) {
			if !c.refreshBucket(b, ns) {
				break
			}
		}
	}
}

// refreshChecks is how many bucket-refresh checks a node makes per
// BucketRefreshInterval.
const refreshChecks = 8

// refreshPeriod is the time between two bucket-refresh checks.
func refreshPeriod(interval time.Duration) int64 {
	return int64(interval) / refreshChecks
}

// refreshStale is one periodic bucket-refresh check: of the buckets that
// can be populated at the estimated network size and were not used for
// BucketRefreshInterval, it refreshes the stalest ceil(P/refreshChecks) (P
// populatable buckets). Over the refreshChecks checks of an interval that
// is enough to refresh every bucket once, so a bucket waits less than one
// interval after it goes stale, and the refreshes of a node whose buckets
// all went stale together (after its join) come spread over the interval
// rather than in one burst. It then checks up to as many silent entries
// of full buckets (checkSilent).
func (c *Core) refreshStale(ns int64) {
	if c.table.Len() == 0 {
		return
	}
	est := c.NetworkSizeEstimate()
	pop := kbucket.PopulatableBuckets(est)
	limit := (pop + refreshChecks - 1) / refreshChecks
	c.refreshBuf = c.table.StalestBuckets(c.refreshBuf[:0], ns, int64(c.cfg.BucketRefreshInterval), est, limit)
	for _, b := range c.refreshBuf {
		if !c.refreshBucket(b, ns) {
			return // at the lookup cap: the next check catches up
		}
	}
	c.checkSilent(ns, pop, limit)
}

// checkSilent pings up to limit entries, stalest first: the
// least-recently-seen entry of each full bucket among the first pop, when
// it has been silent for BucketRefreshInterval. Traffic keeps a full
// bucket in use (kbucket.Table.NoteExchange) without telling whether its
// silent entries are still alive; one PING tells for the price of one RPC
// instead of a refresh lookup's dozen or more. An answer refreshes the
// entry (and counts as a use of the bucket); a failure counts towards its
// eviction (kbucket Config.FailThreshold), so a dead entry goes after that
// many checks, and the bucket's replacement cache fills its place.
func (c *Core) checkSilent(ns int64, pop, limit int) {
	interval := int64(c.cfg.BucketRefreshInterval)
	for range limit {
		var cand kbucket.Peer
		found := false
		for b := range pop {
			p, ok := c.table.LeastRecentlySeen(b)
			if !ok || c.table.BucketLen(b) < c.cfg.K || ns-p.LastSeen < interval {
				continue
			}
			if _, pending := c.evicting[p.ID]; pending {
				continue
			}
			if !found || p.LastSeen < cand.LastSeen {
				cand, found = p, true
			}
		}
		if !found {
			return
		}
		c.stats.SilentChecks++
		pr := c.newProbe(probeCheck, nil, cand, ns)
		c.evicting[cand.ID] = pr.id
		c.send(pr, Request{Op: wire.OpPing})
		c.arm(timerTimeout|TimerID(pr.id), ns+int64(c.cfg.RPCTimeout))
	}
}

// refreshBucket starts a FIND_NODE lookup of a random ID in bucket b (the
// lookup marks the bucket used). It reports false at the lookup cap, when
// the next check has to catch up.
func (c *Core) refreshBucket(b int, ns int64) bool {
	target := kbucket.RandomIDInBucket(c.self, b, c.rng)
	o, err := c.newOp(wire.OpFindNode, PurposeRefresh, target, ns)
	if err != nil {
		return false
	}
	c.stats.Refreshes++
	c.runLookup(o, nil, ns)
	return true
}

// noteDensity folds the network size implied by a complete lookup result
// into the running estimate: with N nodes spread uniformly, the K-th closest
// node to any target lies at a distance of about K/N of the ID space.
func (c *Core) noteDensity(target kbucket.ID, closest []kbucket.Peer) {
	if len(closest) < c.cfg.K {
		return
	}
	d := kbucket.Xor(closest[len(closest)-1].ID, target)
	frac := math.Ldexp(float64(binary.BigEndian.Uint64(d[:8]))+1, -64)
	est := float64(c.cfg.K) / frac
	if c.sizeEst == 0 {
		c.sizeEst = est
	} else {
		c.sizeEst += (est - c.sizeEst) / 4
	}
}

// NetworkSizeEstimate estimates the number of nodes in the network: the
// larger of the routing table's estimate (bucket occupancy, which runs low
// while the table is still filling) and a running average of the density
// seen by complete FIND_NODE lookups.
func (c *Core) NetworkSizeEstimate() int {
	return max(c.table.EstimateNetworkSize(), int(min(c.sizeEst, math.MaxInt32)))
}

// addPublication registers (or renews) key for republishing with the
// record ttl (0: ProviderTTL).
func (c *Core) addPublication(key kbucket.ID, addrs []string, ttl time.Duration, ns int64) {
	due := ns + int64(c.refreshFor(ttl))
	found := false
	for i := range c.pubs {
		if c.pubs[i].key == key {
			c.pubs[i].addrs, c.pubs[i].ttl, c.pubs[i].due = addrs, ttl, due
			found = true
		}
	}
	if !found {
		c.pubs = append(c.pubs, publication{key: key, addrs: addrs, ttl: ttl, due: due})
	}
	c.armRepublish(ns)
}

// armRepublish arms the republish timer for the earliest due publication
// unless an earlier or equal deadline is already armed.
func (c *Core) armRepublish(ns int64) {
	next := int64(0)
	for i := range c.pubs {
		if next == 0 || c.pubs[i].due < next {
			next = c.pubs[i].due
		}
	}
	if next == 0 || (c.republishAt != 0 && c.republishAt <= next && c.republishAt > ns) {
		return
	}
	c.republishAt = next
	c.arm(timerRepublish, next)
}

// republish re-signs and re-provides every publication that is due.
func (c *Core) republish(ns int64) {
	if ns >= c.republishAt {
		c.republishAt = 0
	}
	for i := range c.pubs {
		pub := &c.pubs[i]
		if pub.due > ns {
			continue
		}
		pub.due = ns + int64(c.refreshFor(pub.ttl))
		rec, err := c.newRecord(pub.key, pub.addrs, pub.ttl, ns)
		if err != nil {
			c.stats.RepublishFail++
			continue
		}
		o, err := c.newOp(wire.OpProvide, PurposeRepublish, pub.key, ns)
		if err != nil {
			c.stats.RepublishFail++
			continue
		}
		o.rec = rec
		c.runLookup(o, nil, ns)
	}
	c.armRepublish(ns)
}

func opName(op wire.Opcode) string {
	switch op {
	case wire.OpPing:
		return "ping"
	case wire.OpFindNode:
		return "find node"
	case wire.OpFindValue:
		return "find value"
	case wire.OpProvide:
		return "provide"
	case wire.OpStore:
		return "store"
	}
	return fmt.Sprintf("op %#x", uint8(op))
}
