package sim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/wire"
)

// NodeOptions shape one simulated node. The zero value is an honest node
// with a random ID and an address from Config.Addresses.
type NodeOptions struct {
	// ID is the node's ID; zero draws a random one.
	ID kbucket.ID
	// Addr is the node's IP; the zero Addr asks Config.Addresses. ASN is
	// reported in Node.ASN when Addr is set here (tables learn groups from
	// the address through Config.Resolver, never from this field).
	Addr netip.Addr
	ASN  uint32
	// Core overrides Config.Core for this node.
	Core *core.Config
	// ExtraDelay is added to every reply of the node (a slow peer).
	ExtraDelay time.Duration
	// FindNodeHook makes the node hostile: the closest list of each of its
	// FIND_NODE replies (and FIND_VALUE replies without providers) is
	// replaced by what the hook returns. honest is the list the node's core
	// computed; the hook may modify and return it or return another slice.
	FindNodeHook func(n *Node, target kbucket.ID, honest []wire.NodeInfo) []wire.NodeInfo
}

// Node is one simulated node.
type Node struct {
	ID   kbucket.ID
	Addr netip.AddrPort // the address other nodes observe
	ASN  uint32         // as assigned by the address plan or NodeOptions

	idx   int32
	inc   uint32 // incarnation: bumped by Kill and Revive
	alive bool
	opts  NodeOptions
	core  *core.Core
	peer  kbucket.Peer // how other nodes see this one
}

// Index is the node's position in Sim.Nodes.
func (n *Node) Index() int { return int(n.idx) }

// IP returns the node's IP address.
func (n *Node) IP() netip.Addr { return n.Addr.Addr() }

// Alive reports whether the node is up.
func (n *Node) Alive() bool { return n.alive }

// Core is the node's protocol core (nil while the node is down). Read it
// only between Run calls.
func (n *Node) Core() *core.Core { return n.core }

// Peer is the node as a routing-table entry.
func (n *Node) Peer() kbucket.Peer { return n.peer }

// Options returns the node's options.
func (n *Node) Options() NodeOptions { return n.opts }

// Nodes returns every node ever added, in order (dead ones included).
func (s *Sim) Nodes() []*Node { return s.nodes }

// Live returns the nodes that are up, in index order.
func (s *Sim) Live() []*Node {
	out := make([]*Node, 0, len(s.nodes))
	for _, n := range s.nodes {
		if n.alive {
			out = append(out, n)
		}
	}
	return out
}

// Node returns the node with the given ID.
func (s *Sim) Node(id kbucket.ID) (*Node, bool) {
	i, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	return s.nodes[i], true
}

// RandomID draws an ID from the simulation's random source.
func (s *Sim) RandomID() kbucket.ID {
	var id kbucket.ID
	for i := 0; i < len(id); i += 8 {
		binary.BigEndian.PutUint64(id[i:], s.rng.Uint64())
	}
	return id
}

// AddNode adds a live node with a started core. It knows nobody until it
// joins (Join) or is contacted.
func (s *Sim) AddNode(opts NodeOptions) (*Node, error) {
	id := opts.ID
	if id == (kbucket.ID{}) {
		id = s.RandomID()
	}
	if _, dup := s.byID[id]; dup {
		return nil, fmt.Errorf("sim: add node: duplicate id %s", id.Short())
	}
	ip, asn := opts.Addr, opts.ASN
	if !ip.IsValid() {
		ip, asn = s.cfg.Addresses.Assign(len(s.nodes), s.rng)
	}
	n := &Node{ID: id, Addr: netip.AddrPortFrom(ip, 4433), ASN: asn, idx: int32(len(s.nodes)), opts: opts}
	n.peer = kbucket.Peer{ID: id, Addr: n.Addr, Addrs: []string{"quic://" + n.Addr.String()}}
	if err := s.startCore(n); err != nil {
		return nil, err
	}
	s.nodes = append(s.nodes, n)
	s.byID[id] = n.idx
	s.apply(n, n.core.Start(s.Time()))
	return n, nil
}

func (s *Sim) startCore(n *Node) error {
	cfg := s.cfg.Core
	if n.opts.Core != nil {
		cfg = *n.opts.Core
	}
	cfg.Addrs = n.peer.Addrs
	c, err := core.New(n.ID, cfg, core.Deps{
		Rand:     rand.New(rand.NewPCG(s.cfg.Seed^uint64(n.idx), uint64(n.inc))),
		Resolver: s.cfg.Resolver,
		Verifier: s.cfg.Verifier,
		Signer:   Signer{ID: n.ID},
	})
	if err != nil {
		return fmt.Errorf("sim: node %d: %w", n.idx, err)
	}
	n.core, n.alive = c, true
	return nil
}

// Kill takes n down: it drops all its state, in-flight messages to it are
// lost, and its running operations finish with ErrNodeLeft.
func (s *Sim) Kill(n *Node) {
	if !n.alive {
		return
	}
	n.alive = false
	n.core = nil
	n.inc++
	s.mix(0xdead<<32 | uint64(uint32(n.idx)))
	for k, op := range s.ops {
		if k.node == n.idx {
			delete(s.ops, k)
			s.pending--
			op.Done, op.End, op.Err = true, s.Now(), ErrNodeLeft
		}
	}
}

// Revive brings n back with the same ID and address but empty state (a
// restart) and joins it through seeds.
func (s *Sim) Revive(n *Node, seeds []*Node) (*Op, error) {
	if n.alive {
		return nil, fmt.Errorf("sim: revive node %d: already up", n.idx)
	}
	n.inc++
	if err := s.startCore(n); err != nil {
		return nil, err
	}
	s.mix(0xa11e<<32 | uint64(uint32(n.idx)))
	s.apply(n, n.core.Start(s.Time()))
	return s.Join(n, seeds), nil
}

// TrueClosest returns the IDs of the k live nodes closest to target, by
// brute force over the whole network, ascending by distance. Nodes in
// exclude are left out.
func (s *Sim) TrueClosest(target kbucket.ID, k int, exclude ...kbucket.ID) []kbucket.ID {
	out := make([]kbucket.ID, 0, k+1)
	for _, n := range s.nodes {
		if !n.alive || (len(out) == k && !kbucket.CloserTo(target, n.ID, out[k-1])) {
			continue
		}
		skip := false
		for _, x := range exclude {
			skip = skip || x == n.ID
		}
		if skip {
			continue
		}
		i := len(out)
		for i > 0 && kbucket.CloserTo(target, n.ID, out[i-1]) {
			i--
		}
		out = append(out, kbucket.ID{})
		copy(out[i+1:], out[i:])
		out[i] = n.ID
		if len(out) > k {
			out = out[:k]
		}
	}
	return out
}
