package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

// fillTries bounds the identities generated per --fill peer wanted: the
// deep buckets need many tries each (bucket b takes 2^(b+1) on average), so
// a fill larger than a network of this machine's reach would hold stops
// short rather than run for minutes.
const fillTries = 512

// fillPeer is one identity of --fill: a QUIC transport on loopback that
// contacted the target once, so that the target's routing table holds it
// at the address its packets came from (the transport dials from its
// listening socket), and that answers the target's probes (PING with
// itself, lookups with an empty closest list) there for the rest of the
// run.
type fillPeer struct {
	id       *identity.Identity
	tr       *transport.Transport
	self     wire.NodeInfo
	answered atomic.Uint64 // probes of the target answered
}

// serve is the fill peer's transport handler.
func (p *fillPeer) serve(_ context.Context, _ transport.PeerInfo, req, dst []byte) ([]byte, error) {
	var env wire.Envelope
	if err := wire.DecodeEnvelope(req, &env); err != nil {
		return dst, fmt.Errorf("fill peer: %w", err)
	}
	resp := core.Response{Op: env.Op, Code: wire.CodeOK}
	switch env.Op {
	case wire.OpPing:
		resp.Self = p.self
	case wire.OpProvide, wire.OpStore:
		resp.Accepted = true
	}
	out, err := core.AppendResponse(append(dst, 0, 0, 0, 0), &env, &resp, time.Now().Unix())
	if err != nil {
		return dst, err
	}
	binary.BigEndian.PutUint32(out[len(dst):], uint32(len(out)-len(dst)-4))
	p.answered.Add(1)
	return out, nil
}

// fillSet is the --fill identities of a run.
type fillSet struct {
	peers   []*fillPeer
	buckets map[int]int // bucket index in the target's table → peers
	tries   int         // identities generated to get them
}

// answered is how many probes of the target the fill peers answered.
func (s *fillSet) answered() uint64 {
	var n uint64
	for _, p := range s.peers {
		n += p.answered.Load()
	}
	return n
}

func (s *fillSet) close() {
	for _, p := range s.peers {
		_ = p.tr.Close()
	}
}

// fillIdentities picks n identities (from seed: the same target ID and
// seed give the same ones) spread over the target's buckets the way a large
// network fills a routing table: at most k per bucket, so that every one of
// them finds a place, the shallow buckets full first. It stops early, with
// fewer, after maxTries identities.
func fillIdentities(target kbucket.ID, n, k int, seed uint64, maxTries int) ([]*identity.Identity, map[int]int, int, error) {
	var ent [32]byte
	binary.LittleEndian.PutUint64(ent[:], seed)
	copy(ent[8:], "svc-dht-perf fill")
	rng := rand.NewChaCha8(ent)
	buckets := make(map[int]int)
	out := make([]*identity.Identity, 0, n)
	tries := 0
	for len(out) < n && tries < maxTries {
		tries++
		id, err := identity.Generate(rng, false)
		if err != nil {
			return nil, nil, tries, fmt.Errorf("fill: %w", err)
		}
		b := kbucket.CommonPrefixLen(target, id.ID())
		if b >= kbucket.IDLen*8 || buckets[b] >= k {
			continue
		}
		buckets[b]++
		out = append(out, id)
	}
	return out, buckets, tries, nil
}

// fill brings up the --fill peers, a few at a time: each PINGs the target
// once from a fresh transport on 127.0.0.1 and, unless --fill-conns, then
// closes it (the target drops that connection, as it would drop an idle
// one) and listens again on the same address, so that it still answers the
// target's probes there. target is the target's NodeID (pinned, or learnt
// from the first answer).
func (g *loadgen) fill(ctx context.Context, target kbucket.ID) (*fillSet, error) {
	ids, buckets, tries, err := fillIdentities(target, g.o.fill, g.o.k, g.o.seed, fillTries*g.o.fill)
	if err != nil {
		return nil, err
	}
	s := &fillSet{buckets: buckets, tries: tries, peers: make([]*fillPeer, len(ids))}
	const parallel = 8
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		mu   sync.Mutex
		errs []error
	)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				p, err := g.fillOne(ctx, ids[i])
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("fill peer %d: %w", i, err))
				} else {
					s.peers[i] = p
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.peers = slices.DeleteFunc(s.peers, func(p *fillPeer) bool { return p == nil })
	if len(errs) > 0 {
		s.close()
		return nil, fmt.Errorf("fill: %d of %d peers failed: %w", len(errs), len(ids), errs[0])
	}
	return s, nil
}

// fillOne brings up one fill peer and has it contact the target.
func (g *loadgen) fillOne(ctx context.Context, id *identity.Identity) (*fillPeer, error) {
	p := &fillPeer{id: id}
	listen := func(addr string) error {
		tr, err := transport.New(id, transport.Config{ListenAddrs: []string{addr}, RPCTimeout: g.o.opTO, Pools: &g.pools}, p.serve)
		if err != nil {
			return err
		}
		p.tr = tr
		p.self = wire.NodeInfo{ID: id.ID(), Addrs: tr.Addrs()}
		return nil
	}
	if err := listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	if _, err := g.pingID(ctx, p.tr); err != nil {
		_ = p.tr.Close()
		return nil, err
	}
	if g.o.fillConns {
		return p, nil
	}
	addr := strings.TrimPrefix(p.self.Addrs[0], transport.Scheme)
	if err := p.tr.Close(); err != nil {
		return nil, err
	}
	if err := listen(addr); err != nil {
		return nil, fmt.Errorf("listen again on %s: %w", addr, err)
	}
	return p, nil
}

// pingID sends one PING to the target over tr and returns the NodeID that
// answered.
func (g *loadgen) pingID(ctx context.Context, tr *transport.Transport) (kbucket.ID, error) {
	ctx, cancel := context.WithTimeout(ctx, g.o.opTO)
	defer cancel()
	frame, err := appendRequestFrame(nil, &core.Request{Op: wire.OpPing}, 1, time.Now().Unix())
	if err != nil {
		return kbucket.ID{}, err
	}
	resp, peer, err := tr.Call(ctx, g.target.Addr, g.expect, frame, nil)
	if err != nil {
		return kbucket.ID{}, err
	}
	var env wire.Envelope
	if err := wire.DecodeEnvelope(resp, &env); err != nil {
		return kbucket.ID{}, fmt.Errorf("ping: %w", err)
	}
	if env.Code != wire.CodeOK {
		return kbucket.ID{}, fmt.Errorf("ping: answered %s: %w", env.Code, errors.New(env.Reason))
	}
	return peer.ID, nil
}
