package kad

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
)

// Swarm is n kad-dht nodes in this process, on loopback, the first few of
// which are the seeds everyone else bootstraps from.
type Swarm struct {
	nodes []node
	keys  []kb.ID // Kademlia keys of the nodes, for checking lookup results
	seeds []peer.AddrInfo
}

// NewSwarm starts n nodes on 127.0.0.1 (ephemeral ports); the first seeds
// nodes are the bootstrap peers of the others. Nothing is connected yet.
func NewSwarm(n, seeds int, seed uint64) (*Swarm, error) {
	if n < 2 || seeds < 1 || seeds >= n {
		return nil, fmt.Errorf("swarm: need 1 <= seeds (%d) < nodes (%d)", seeds, n)
	}
	rng := rand.NewChaCha8(seedBytes(seed ^ 0x5a4a))
	ap := netip.MustParseAddrPort("127.0.0.1:0")
	s := &Swarm{}
	for i := range n {
		var boot []peer.AddrInfo
		if i >= seeds {
			boot = s.seeds
		}
		nd, err := startNode(ap, rng, boot, nil)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("swarm node %d: %w", i, err)
		}
		s.nodes = append(s.nodes, nd)
		s.keys = append(s.keys, kb.ConvertPeerID(nd.h.ID()))
		if i < seeds {
			s.seeds = append(s.seeds, addrInfo(nd.h))
		}
	}
	return s, nil
}

// Bootstrap connects the seeds to each other, then every node connects to the
// seeds and runs kad-dht's routing-table refresh (a self lookup plus one
// lookup per bucket), parallel nodes at a time (0: all at once). It returns
// when every node has finished and how many refreshes reported an error.
func (s *Swarm) Bootstrap(ctx context.Context, parallel int) (failed int, err error) {
	for i := 1; i < len(s.seeds); i++ {
		for j := range i {
			if err := s.nodes[i].h.Connect(ctx, s.seeds[j]); err != nil {
				return 0, fmt.Errorf("seed %d -> seed %d: %w", i, j, err)
			}
		}
	}
	if parallel <= 0 || parallel > len(s.nodes) {
		parallel = len(s.nodes)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, parallel)
	)
	for i := range s.nodes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := s.bootstrapNode(ctx, i)
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("node %d: %w", i, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return len(errs), fmt.Errorf("bootstrap: %w", err)
	}
	if len(errs) == len(s.nodes) {
		return len(errs), fmt.Errorf("bootstrap failed on every node: %w", errors.Join(errs[:1]...))
	}
	return len(errs), nil
}

func (s *Swarm) bootstrapNode(ctx context.Context, i int) error {
	nd := s.nodes[i]
	for j, sd := range s.seeds {
		if j == i {
			continue
		}
		if err := nd.h.Connect(ctx, sd); err != nil {
			return fmt.Errorf("connect seed %d: %w", j, err)
		}
	}
	if err := waitRT(ctx, nd.d, 1, 30*time.Second); err != nil {
		return err
	}
	select {
	case err := <-nd.d.RefreshRoutingTable():
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MeanRTSize is the mean routing table size over all nodes.
func (s *Swarm) MeanRTSize() float64 {
	sum := 0
	for _, nd := range s.nodes {
		sum += nd.d.RoutingTable().Size()
	}
	return float64(sum) / float64(len(s.nodes))
}

// Lookup runs GetClosestPeers for target from node origin and returns the
// number of FIND_NODE queries it sent (from kad-dht's query events) and
// whether the peers found include the swarm's closest node to target.
func (s *Swarm) Lookup(ctx context.Context, origin int, target [32]byte) (int, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	qctx, events := routing.RegisterForQueryEvents(ctx)
	sent := make(chan int, 1)
	go func() {
		n := 0
		for ev := range events {
			if ev.Type == routing.SendingQuery {
				n++
			}
		}
		sent <- n
	}()
	peers, err := s.nodes[origin].d.GetClosestPeers(qctx, string(target[:]))
	cancel()
	n := <-sent
	if err != nil {
		return n, false, fmt.Errorf("GetClosestPeers: %w", err)
	}
	if len(peers) == 0 {
		return n, false, errors.New("GetClosestPeers found no peers")
	}
	key := kb.ConvertKey(string(target[:]))
	best := -1
	for i, k := range s.keys {
		if i != origin && (best < 0 || closer(k, s.keys[best], key)) {
			best = i
		}
	}
	want := s.nodes[best].h.ID()
	return n, slices.Contains(peers, want), nil
}

// closer reports whether a is closer to key than b by XOR distance.
func closer(a, b, key kb.ID) bool {
	for i := range key {
		da, db := a[i]^key[i], b[i]^key[i]
		if da != db {
			return da < db
		}
	}
	return false
}

// Close stops every node.
func (s *Swarm) Close() error {
	errs := make([]error, len(s.nodes))
	var wg sync.WaitGroup
	for i, nd := range s.nodes {
		wg.Go(func() { errs[i] = nd.close() })
	}
	wg.Wait()
	return errors.Join(errs...)
}
