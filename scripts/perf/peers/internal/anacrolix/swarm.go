package anacrolix

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	dht "github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/int160"
	k_nearest_nodes "github.com/anacrolix/dht/v2/k-nearest-nodes"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/dht/v2/traversal"
)

// lookupK is the number of closest nodes a lookup converges on: anacrolix's
// bucket size and its traversal default.
const lookupK = 8

// Swarm is n anacrolix/dht servers in this process, on loopback, the first
// few of which are the starting nodes of the others.
type Swarm struct {
	nodes []*dht.Server
	seeds []dht.Addr // written before Bootstrap, read-only after
}

// NewSwarm starts n servers on 127.0.0.1 (ephemeral ports); the first seeds
// servers are the StartingNodes of every server (seeds list the other seeds).
// Nothing is contacted yet.
func NewSwarm(n, seeds int, seed uint64) (*Swarm, error) {
	if n < 2 || seeds < 1 || seeds >= n {
		return nil, fmt.Errorf("swarm: need 1 <= seeds (%d) < nodes (%d)", seeds, n)
	}
	rng := newRand(seed, 0x5a4a)
	ap := netip.MustParseAddrPort("127.0.0.1:0")
	s := &Swarm{}
	for i := range n {
		srv, err := newServer(ap, rng, func() []dht.Addr { return s.startingFor(i) }, nil)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("swarm node %d: %w", i, err)
		}
		s.nodes = append(s.nodes, srv)
		if i < seeds {
			s.seeds = append(s.seeds, udpAddr(srv))
		}
	}
	return s, nil
}

func (s *Swarm) startingFor(i int) []dht.Addr {
	if i >= len(s.seeds) {
		return s.seeds
	}
	out := make([]dht.Addr, 0, len(s.seeds)-1)
	for j, a := range s.seeds {
		if j != i {
			out = append(out, a)
		}
	}
	return out
}

// Bootstrap runs the library's own bootstrap (a find_node traversal toward the
// node's own ID, starting from the seeds) on every node, parallel nodes at a
// time (0: all at once), then starts the library's table maintainer on every
// node, whose first pass runs in the background (the swarm command waits for
// it in its settle phase). It returns when every bootstrap has finished and
// how many reported an error.
func (s *Swarm) Bootstrap(ctx context.Context, parallel int) (failed int, err error) {
	if parallel <= 0 || parallel > len(s.nodes) {
		parallel = len(s.nodes)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, parallel)
	)
	for i, srv := range s.nodes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			st, err := srv.BootstrapContext(ctx)
			if err == nil && st.NumResponses == 0 {
				err = errors.New("no responses")
			}
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
		return len(errs), fmt.Errorf("bootstrap failed on every node: %w", errs[0])
	}
	// The library's table maintenance: its first pass pings the questionable
	// nodes (those that only queried us) so that they become good and can be
	// handed out, and refreshes buckets; then it sleeps a minute between passes.
	// It runs until the server is closed.
	for _, srv := range s.nodes {
		go srv.TableMaintainer()
	}
	return len(errs), nil
}

// MeanRTSize is the mean routing table size over all nodes.
func (s *Swarm) MeanRTSize() float64 {
	sum := 0
	for _, srv := range s.nodes {
		sum += srv.NumNodes()
	}
	return float64(sum) / float64(len(s.nodes))
}

// Lookup runs an iterative find_node traversal for target (its first 20
// bytes) from node origin, converging on the lookupK closest nodes, as the
// library's bootstrap and announce do, and returns the queries it sent and
// whether the nodes found include the swarm's closest node to target.
func (s *Swarm) Lookup(ctx context.Context, origin int, target [32]byte) (int, bool, error) {
	srv := s.nodes[origin]
	var id krpc.ID
	copy(id[:], target[:])
	op := traversal.Start(traversal.OperationInput{
		Target: id,
		K:      lookupK,
		DoQuery: func(qctx context.Context, addr krpc.NodeAddr) traversal.QueryResult {
			res := srv.Query(qctx, dht.NewAddr(addr.UDP()), "find_node", dht.QueryInput{
				MsgArgs: krpc.MsgArgs{Target: id, Want: []krpc.Want{krpc.WantNodes}},
			})
			return res.TraversalQueryResult(addr)
		},
		NodeFilter: srv.TraversalNodeFilter,
	})
	start, err := srv.TraversalStartingNodes()
	if err != nil {
		op.Stop()
		<-op.Stopped()
		return 0, false, fmt.Errorf("starting nodes: %w", err)
	}
	op.AddNodes(start)
	select {
	case <-op.Stalled():
	case <-ctx.Done():
		err = ctx.Err()
	}
	op.Stop()
	<-op.Stopped()
	st := op.Stats()
	tried := int(atomic.LoadUint32(&st.NumAddrsTried))
	if err != nil {
		return tried, false, fmt.Errorf("lookup: %w", err)
	}
	if atomic.LoadUint32(&st.NumResponses) == 0 || op.Closest().Len() == 0 {
		return tried, false, errors.New("lookup got no responses")
	}
	tgt := int160.FromByteArray(id)
	var (
		want int160.T
		have bool
	)
	for i, srv := range s.nodes {
		nid := int160.FromByteArray(srv.ID())
		if i != origin && (!have || nid.Distance(tgt).Cmp(want.Distance(tgt)) < 0) {
			want, have = nid, true
		}
	}
	found := false
	op.Closest().Range(func(e k_nearest_nodes.Elem) {
		if int160.FromByteArray(e.ID) == want {
			found = true
		}
	})
	return tried, found, nil
}

// Close stops every server.
func (s *Swarm) Close() error {
	for _, srv := range s.nodes {
		srv.Close()
	}
	return nil
}
