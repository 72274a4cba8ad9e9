package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/wire"
)

// Config describes the simulated network. The zero value of every field
// selects its default.
type Config struct {
	// Seed makes the run: the same seed and scenario give the same trace.
	Seed uint64
	// Core is the configuration of every node's core (core.DefaultConfig
	// when Core.K is 0). NodeOptions.Core overrides it per node.
	Core core.Config
	// RTTMin and RTTMax bound the base round-trip time of a link. Each pair
	// of nodes gets a fixed base RTT in that range, derived from a hash of
	// the pair and the seed. Defaults 20ms and 120ms.
	RTTMin, RTTMax time.Duration
	// Jitter is the largest extra one-way delay, drawn uniformly per
	// message. Default 4ms; negative disables it.
	Jitter time.Duration
	// Loss is the probability that a message (request or response) is
	// dropped. Default 0.
	Loss float64
	// Addresses assigns each node an IP (and its ASN, for reports).
	// Default: RandomIPv4 (one random public IPv4 per node; tables group
	// peers by /16 prefix).
	Addresses AddressPlan
	// Resolver is given to every routing table (for example ASNPlan's).
	Resolver kbucket.Resolver
	// Verifier checks provider records. Default: a structural verifier that
	// pairs with the simulator's signer (no cryptography).
	Verifier core.RecordVerifier
	// EncodeOnWire makes every request and response go through the real
	// codec (core.AppendRequest/DecodeRequest, AppendResponse/
	// DecodeResponse over wire envelopes) instead of being passed as
	// structs. Slower; the run is otherwise identical.
	EncodeOnWire bool
	// Epoch is the virtual wall-clock time at which the run starts.
	// Default 2025-01-01T00:00:00Z.
	Epoch time.Time
}

func (c *Config) fill() error {
	if c.Core.K == 0 {
		c.Core = core.DefaultConfig()
	}
	if c.RTTMin == 0 && c.RTTMax == 0 {
		c.RTTMin, c.RTTMax = 20*time.Millisecond, 120*time.Millisecond
	}
	if c.Jitter == 0 {
		c.Jitter = 4 * time.Millisecond
	}
	if c.Jitter < 0 {
		c.Jitter = 0
	}
	if c.Addresses == nil {
		c.Addresses = RandomIPv4{}
	}
	if c.Verifier == nil {
		c.Verifier = Verifier{}
	}
	if c.Epoch.IsZero() {
		c.Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	switch {
	case c.RTTMin < 0 || c.RTTMax < c.RTTMin:
		return fmt.Errorf("sim: rtt range %v-%v invalid", c.RTTMin, c.RTTMax)
	case c.Loss < 0 || c.Loss >= 1:
		return fmt.Errorf("sim: loss %v outside [0, 1)", c.Loss)
	}
	if err := c.Core.Validate(); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}

// Sim is a discrete-event simulation of many cores over a simulated
// network, in virtual time. It is not safe for concurrent use.
type Sim struct {
	cfg     Config
	epoch   int64 // unix ns of virtual time 0
	now     int64 // virtual ns since epoch
	seq     uint64
	events  eventHeap
	rng     *rand.Rand
	nodes   []*Node
	byID    map[kbucket.ID]int32
	seeds   []*Node
	ops     map[opKey]*Op
	pending int // registered ops not yet done
	free    []*message
	parts   []partition
	trace   uint64
	nEvents uint64
	wireErr error // first codec error in EncodeOnWire mode
	wireN   int   // codec errors
	wireB   int64 // bytes encoded
}

type opKey struct {
	node int32
	inc  uint32
	id   core.LookupID
}

// New returns an empty simulation.
func New(cfg Config) (*Sim, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	return &Sim{
		cfg:    cfg,
		epoch:  cfg.Epoch.UnixNano(),
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x5eed_5eed_5eed_5eed)),
		byID:   make(map[kbucket.ID]int32),
		ops:    make(map[opKey]*Op),
		trace:  fnvOffset,
		events: make(eventHeap, 0, 1024),
	}, nil
}

// Now is the virtual time elapsed since the start of the run.
func (s *Sim) Now() time.Duration { return time.Duration(s.now) }

// Time is the virtual wall-clock time (Epoch + Now).
func (s *Sim) Time() time.Time { return time.Unix(0, s.epoch+s.now) }

// Rand is the simulation's random source, for scenarios: drawing from it
// keeps runs reproducible.
func (s *Sim) Rand() *rand.Rand { return s.rng }

// Events is the number of events processed so far.
func (s *Sim) Events() uint64 { return s.nEvents }

// TraceHash is the FNV-1a hash of every event processed so far (time,
// kind, endpoints, probe or timer ID) and of every operation result. Two
// runs of the same scenario with the same seed have the same hash.
func (s *Sim) TraceHash() uint64 { return s.trace }

// Config returns the simulation's configuration, defaults filled in.
func (s *Sim) Config() Config { return s.cfg }

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// mix folds v into the trace hash, byte by byte (FNV-1a).
func (s *Sim) mix(v uint64) {
	h := s.trace
	for range 8 {
		h ^= v & 0xff
		h *= fnvPrime
		v >>= 8
	}
	s.trace = h
}

func (s *Sim) schedule(e event) {
	if e.at < s.now {
		e.at = s.now
	}
	s.seq++
	e.seq = s.seq
	s.events.push(e)
}

// At runs fn at virtual time Now()+d, in order with the network's events.
func (s *Sim) At(d time.Duration, fn func()) {
	s.schedule(event{at: s.now + int64(d), kind: evFunc, fn: fn, node: -1, from: -1})
}

// Run processes every event up to virtual time Now()+d and then sets the
// clock to it.
func (s *Sim) Run(d time.Duration) {
	end := s.now + int64(d)
	for len(s.events) > 0 && s.events[0].at <= end {
		s.step()
	}
	s.now = end
}

// Wait runs until every operation started through the simulator has
// finished, or until limit of virtual time has passed. It reports whether
// all finished.
func (s *Sim) Wait(limit time.Duration) bool {
	end := s.now + int64(limit)
	for s.pending > 0 && len(s.events) > 0 && s.events[0].at <= end {
		s.step()
	}
	return s.pending == 0
}

func (s *Sim) step() {
	e := s.events.pop()
	s.now = e.at
	s.nEvents++
	s.mix(uint64(e.at))
	s.mix(uint64(e.kind) | uint64(uint32(e.node))<<8 | uint64(uint32(e.from))<<40)
	s.mix(e.id)
	switch e.kind {
	case evFunc:
		e.fn()
	case evTimer:
		if n := s.nodes[e.node]; n.alive && n.inc == e.inc {
			s.apply(n, n.core.HandleTimer(s.Time(), core.TimerID(e.id)))
		}
	case evRequest:
		s.deliverRequest(e)
	case evResponse:
		n := s.nodes[e.node]
		if n.alive && n.inc == e.inc {
			resp := &e.msg.resp
			if s.cfg.EncodeOnWire {
				resp = &e.msg.dec
			}
			s.apply(n, n.core.HandleResponse(s.Time(), core.ProbeID(e.id), s.nodes[e.from].Addr, resp))
		}
		s.release(e.msg)
	}
}

func (s *Sim) deliverRequest(e event) {
	to, from := s.nodes[e.node], s.nodes[e.from]
	m := e.msg
	if !to.alive || to.inc != e.inc {
		s.release(m)
		return
	}
	s.apply(to, to.core.HandleRequest(s.Time(), from.peer, &m.req, &m.resp))
	if hook := to.opts.FindNodeHook; hook != nil && m.resp.Code == wire.CodeOK &&
		(m.req.Op == wire.OpFindNode || (m.req.Op == wire.OpFindValue && len(m.resp.Providers) == 0)) {
		m.resp.Closest = hook(to, kbucket.ID(m.req.Key), m.resp.Closest)
	}
	if s.blocked(e.node, e.from) || s.lost() {
		s.release(m)
		return
	}
	if s.cfg.EncodeOnWire && !s.wireResponse(m) {
		s.release(m)
		return
	}
	delay := s.oneWay(e.node, e.from) + int64(to.opts.ExtraDelay)
	s.schedule(event{at: s.now + delay, kind: evResponse, node: e.from, inc: m.fromInc, from: e.node, id: e.id, msg: m})
}

// apply carries out the actions of node n's core.
func (s *Sim) apply(n *Node, acts []core.Action) {
	for i := range acts {
		a := &acts[i]
		switch a.Kind {
		case core.ActSend:
			s.send(n, a)
		case core.ActArmTimer:
			s.schedule(event{at: a.Deadline.UnixNano() - s.epoch, kind: evTimer, node: n.idx, inc: n.inc, from: -1, id: uint64(a.Timer)})
		case core.ActDone:
			s.finished(n, a.Result)
		case core.ActCancel:
			// The core ignores late answers; the network keeps no per-probe
			// state to release.
		}
	}
}

func (s *Sim) send(from *Node, a *core.Action) {
	ti, ok := s.byID[a.Peer.ID]
	if !ok {
		return // no such node (a made-up ID): the probe times out
	}
	if s.blocked(from.idx, ti) || s.lost() {
		return
	}
	m := s.message()
	m.req = a.Req
	m.fromInc = from.inc
	if s.cfg.EncodeOnWire && !s.wireRequest(m, a.Probe) {
		s.release(m)
		return
	}
	s.schedule(event{at: s.now + s.oneWay(from.idx, ti), kind: evRequest, node: ti, inc: s.nodes[ti].inc, from: from.idx, id: uint64(a.Probe), msg: m})
}

// WireBytes is the number of envelope bytes encoded in EncodeOnWire mode.
func (s *Sim) WireBytes() int64 { return s.wireB }

// WireErrors reports the codec errors met in EncodeOnWire mode (the
// messages concerned were dropped) and the first of them.
func (s *Sim) WireErrors() (int, error) { return s.wireN, s.wireErr }

func (s *Sim) wireFail(err error) bool {
	if s.wireN++; s.wireErr == nil {
		s.wireErr = err
	}
	return false
}

// wireRequest replaces m.req by its encode-decode round trip.
func (s *Sim) wireRequest(m *message, probe core.ProbeID) bool {
	var err error
	if m.buf, err = core.AppendRequest(m.buf[:0], &m.req, uint64(probe), s.Time().Unix()); err != nil {
		return s.wireFail(err)
	}
	s.wireB += int64(len(m.buf))
	if err = wire.DecodeEnvelope(m.buf, &m.env); err != nil {
		return s.wireFail(err)
	}
	if err = core.DecodeRequest(&m.env, &m.req); err != nil {
		return s.wireFail(err)
	}
	return true
}

// wireResponse encodes m.resp answering m.env and decodes it into m.dec.
func (s *Sim) wireResponse(m *message) bool {
	var err error
	if m.buf, err = core.AppendResponse(m.buf[:0], &m.env, &m.resp, s.Time().Unix()); err != nil {
		return s.wireFail(err)
	}
	s.wireB += int64(len(m.buf))
	if err = wire.DecodeEnvelope(m.buf, &m.env); err != nil {
		return s.wireFail(err)
	}
	if err = core.DecodeResponse(&m.env, &m.dec); err != nil {
		return s.wireFail(err)
	}
	return true
}

func (s *Sim) message() *message {
	if n := len(s.free); n > 0 {
		m := s.free[n-1]
		s.free = s.free[:n-1]
		return m
	}
	return new(message)
}

func (s *Sim) release(m *message) {
	m.req = core.Request{}
	s.free = append(s.free, m)
}

// linkRTT is the fixed base RTT of the link between nodes a and b.
func (s *Sim) linkRTT(a, b int32) int64 {
	lo, hi := min(a, b), max(a, b)
	h := splitmix(s.cfg.Seed ^ uint64(uint32(lo))<<32 ^ uint64(uint32(hi)))
	span := uint64(s.cfg.RTTMax-s.cfg.RTTMin) + 1
	return int64(s.cfg.RTTMin) + int64(h%span)
}

// oneWay is the delay of one message from a to b: half the link's RTT plus
// jitter.
func (s *Sim) oneWay(a, b int32) int64 {
	d := s.linkRTT(a, b) / 2
	if s.cfg.Jitter > 0 {
		d += s.rng.Int64N(int64(s.cfg.Jitter))
	}
	return d
}

func (s *Sim) lost() bool { return s.cfg.Loss > 0 && s.rng.Float64() < s.cfg.Loss }

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// partition separates two sets of nodes until a virtual time.
type partition struct {
	side  map[int32]uint8 // 1 or 2
	until int64
}

// Partition cuts every link between the nodes of a and those of b, both
// ways, for d of virtual time. Messages already in flight are delivered.
func (s *Sim) Partition(a, b []*Node, d time.Duration) {
	p := partition{side: make(map[int32]uint8, len(a)+len(b)), until: s.now + int64(d)}
	for _, n := range a {
		p.side[n.idx] = 1
	}
	for _, n := range b {
		p.side[n.idx] |= 2
	}
	s.parts = append(s.parts, p)
}

func (s *Sim) blocked(a, b int32) bool {
	for i := 0; i < len(s.parts); {
		p := &s.parts[i]
		if p.until <= s.now {
			s.parts = append(s.parts[:i], s.parts[i+1:]...)
			continue
		}
		if p.side[a]|p.side[b] == 3 && p.side[a] != p.side[b] {
			return true
		}
		i++
	}
	return false
}

// Op is an operation a scenario started on a node; Done and Result are set
// when it finishes.
type Op struct {
	Node   *Node
	Kind   wire.Opcode // OpFindNode, OpFindValue, OpProvide, or OpFindNode for a join
	Target kbucket.ID
	Start  time.Duration // virtual start time
	End    time.Duration // virtual end time, once Done
	Done   bool
	// Err is the operation's error: Result.Err, a refusal to start, or
	// ErrNodeLeft when the node was killed first.
	Err    error
	Result *core.Result
}

// Latency is End - Start.
func (o *Op) Latency() time.Duration { return o.End - o.Start }

// ErrNodeLeft finishes the operations of a node that was killed.
var ErrNodeLeft = errors.New("sim: node left before the operation finished")

func (s *Sim) register(n *Node, kind wire.Opcode, target kbucket.ID, id core.LookupID, acts []core.Action, err error) *Op {
	op := &Op{Node: n, Kind: kind, Target: target, Start: s.Now()}
	if err != nil {
		op.Done, op.Err, op.End = true, err, s.Now()
		return op
	}
	s.ops[opKey{n.idx, n.inc, id}] = op
	s.pending++
	s.apply(n, acts)
	return op
}

// finished records a core's result for the operation it belongs to.
func (s *Sim) finished(n *Node, r *core.Result) {
	s.mix(uint64(r.ID)<<32 | uint64(r.Hops)<<16 | uint64(r.RPCs))
	k := opKey{n.idx, n.inc, r.ID}
	op, ok := s.ops[k]
	if !ok {
		return // an internal operation (refresh, republish)
	}
	delete(s.ops, k)
	s.pending--
	op.Done, op.End, op.Result, op.Err = true, s.Now(), r, r.Err
}

func (s *Sim) nodeOp(n *Node, kind wire.Opcode, target kbucket.ID) (*Op, bool) {
	if !n.alive {
		return &Op{Node: n, Kind: kind, Target: target, Start: s.Now(), End: s.Now(), Done: true, Err: ErrNodeLeft}, false
	}
	return nil, true
}

// FindNode starts a FIND_NODE lookup for target on node n.
func (s *Sim) FindNode(n *Node, target kbucket.ID) *Op {
	if op, ok := s.nodeOp(n, wire.OpFindNode, target); !ok {
		return op
	}
	id, acts, err := n.core.FindNode(s.Time(), target)
	return s.register(n, wire.OpFindNode, target, id, acts, err)
}

// FindValue starts a FIND_VALUE lookup for key on node n.
func (s *Sim) FindValue(n *Node, key kbucket.ID) *Op {
	if op, ok := s.nodeOp(n, wire.OpFindValue, key); !ok {
		return op
	}
	id, acts, err := n.core.FindValue(s.Time(), key)
	return s.register(n, wire.OpFindValue, key, id, acts, err)
}

// Provide makes node n publish key (and republish it on schedule).
func (s *Sim) Provide(n *Node, key kbucket.ID) *Op {
	if op, ok := s.nodeOp(n, wire.OpProvide, key); !ok {
		return op
	}
	id, acts, err := n.core.Provide(s.Time(), key, n.peer.Addrs)
	return s.register(n, wire.OpProvide, key, id, acts, err)
}

// Join bootstraps node n from seeds (the live ones other than n). Its
// result has Purpose core.PurposeBootstrap.
func (s *Sim) Join(n *Node, seeds []*Node) *Op {
	if op, ok := s.nodeOp(n, wire.OpFindNode, n.ID); !ok {
		return op
	}
	peers := make([]kbucket.Peer, 0, len(seeds))
	for _, sd := range seeds {
		if sd != n && sd.alive {
			peers = append(peers, sd.peer)
		}
	}
	id, acts, err := n.core.Bootstrap(s.Time(), peers)
	return s.register(n, wire.OpFindNode, n.ID, id, acts, err)
}
