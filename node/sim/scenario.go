package sim

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
)

// Build describes a network to construct with Sim.Build.
type Build struct {
	// Nodes is the network size, seeds included.
	Nodes int
	// Seeds is how many of the first nodes act as seeds (default 3): seed
	// 0 starts alone, each later seed joins through the earlier ones, every
	// other node joins through all the seeds.
	Seeds int
	// JoinEvery spaces the joins of the non-seed nodes in virtual time
	// (default 10ms).
	JoinEvery time.Duration
	// WarmUp is run after the last join (default two bucket-refresh
	// intervals), so that refreshes settle the tables.
	WarmUp time.Duration
	// Options returns the options of node i (nil: defaults).
	Options func(i int) NodeOptions
	// Oracle skips the protocol join: every routing table is filled
	// directly from the full membership, as a converged network would have
	// it (for each bucket, up to K random members of its ID range), and
	// every bucket is marked used now. It makes 10,000+ node networks cheap
	// to set up when the join itself is not under test. Seeds are still
	// registered (for churn rejoins); WarmUp then defaults to 0.
	Oracle bool
}

// Build adds b.Nodes nodes, joins them through the seeds and runs the
// warm-up. It returns the nodes in index order.
func (s *Sim) Build(b Build) ([]*Node, error) {
	if b.Nodes < 1 {
		return nil, fmt.Errorf("sim: build: %d nodes", b.Nodes)
	}
	if b.Seeds == 0 {
		b.Seeds = 3
	}
	b.Seeds = min(b.Seeds, b.Nodes)
	if b.JoinEvery == 0 {
		b.JoinEvery = 10 * time.Millisecond
	}
	if b.WarmUp == 0 && !b.Oracle {
		b.WarmUp = 2 * s.cfg.Core.BucketRefreshInterval
	}
	nodes := make([]*Node, b.Nodes)
	for i := range nodes {
		var opts NodeOptions
		if b.Options != nil {
			opts = b.Options(i)
		}
		n, err := s.AddNode(opts)
		if err != nil {
			return nil, fmt.Errorf("sim: build: %w", err)
		}
		nodes[i] = n
	}
	seeds := nodes[:b.Seeds]
	s.seeds = append(s.seeds, seeds...)
	if b.Oracle {
		s.oracleFill(nodes)
		s.Run(b.WarmUp)
		return nodes, nil
	}
	for i := 1; i < len(seeds); i++ {
		s.Join(seeds[i], seeds[:i])
	}
	for i, n := range nodes[b.Seeds:] {
		s.At(time.Duration(i+1)*b.JoinEvery, func() { s.Join(n, seeds) })
	}
	s.Run(time.Duration(len(nodes)-b.Seeds+1)*b.JoinEvery + b.WarmUp)
	return nodes, nil
}

// Seeds returns the seed nodes registered by Build.
func (s *Sim) Seeds() []*Node { return s.seeds }

// joinSeeds picks the seeds for a (re)joining node: the live registered
// seeds, or three random live nodes when none is up.
func (s *Sim) joinSeeds() []*Node {
	var out []*Node
	for _, n := range s.seeds {
		if n.alive {
			out = append(out, n)
		}
	}
	if len(out) > 0 {
		return out
	}
	live := s.Live()
	for range min(3, len(live)) {
		out = append(out, live[s.rng.IntN(len(live))])
	}
	return out
}

// KillRandom kills up to n random live nodes for which protect (may be nil)
// is false, and returns them.
func (s *Sim) KillRandom(n int, protect func(*Node) bool) []*Node {
	var cands []*Node
	for _, nd := range s.nodes {
		if nd.alive && (protect == nil || !protect(nd)) {
			cands = append(cands, nd)
		}
	}
	s.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	cands = cands[:min(n, len(cands))]
	for _, nd := range cands {
		s.Kill(nd)
	}
	return cands
}

// Churn describes continuous joins and leaves.
type Churn struct {
	// Rate is the fraction of the live nodes that leave per hour (0.10 =
	// 10%/h); joins happen at the same rate, so the size stays stable.
	// Leaves and joins are independent Poisson processes.
	Rate float64
	// Until is the virtual time (as Sim.Now) when churn stops; 0 = never.
	Until time.Duration
	// Rejoin makes joins restart dead nodes (same ID and address, empty
	// state) instead of adding new nodes.
	Rejoin bool
	// Protect (may be nil) marks nodes that never leave.
	Protect func(*Node) bool
	// Options gives the options of new nodes (nil: defaults).
	Options func(i int) NodeOptions
}

// StartChurn starts c from now on. Joining nodes bootstrap through the
// live seeds.
func (s *Sim) StartChurn(c Churn) error {
	if c.Rate <= 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		return fmt.Errorf("sim: churn rate %v must be > 0", c.Rate)
	}
	s.At(s.churnGap(c), func() { s.churnLeave(c) })
	s.At(s.churnGap(c), func() { s.churnJoin(c) })
	return nil
}

// churnGap draws the time to the next churn event.
func (s *Sim) churnGap(c Churn) time.Duration {
	live := 0
	for _, n := range s.nodes {
		if n.alive {
			live++
		}
	}
	perSec := c.Rate * float64(max(live, 1)) / 3600
	return time.Duration(s.rng.ExpFloat64() / perSec * float64(time.Second))
}

func (s *Sim) churnOver(c Churn) bool { return c.Until > 0 && s.Now() >= c.Until }

func (s *Sim) churnLeave(c Churn) {
	if s.churnOver(c) {
		return
	}
	s.KillRandom(1, c.Protect)
	s.At(s.churnGap(c), func() { s.churnLeave(c) })
}

func (s *Sim) churnJoin(c Churn) {
	if s.churnOver(c) {
		return
	}
	var dead []*Node
	if c.Rejoin {
		for _, n := range s.nodes {
			if !n.alive {
				dead = append(dead, n)
			}
		}
	}
	if len(dead) > 0 {
		// Revive cannot fail for a dead node with a valid config.
		_, _ = s.Revive(dead[s.rng.IntN(len(dead))], s.joinSeeds())
	} else {
		var opts NodeOptions
		if c.Options != nil {
			opts = c.Options(len(s.nodes))
		}
		if n, err := s.AddNode(opts); err == nil {
			s.Join(n, s.joinSeeds())
		}
	}
	s.At(s.churnGap(c), func() { s.churnJoin(c) })
}

// oracleFill fills the routing table of each of nodes from the membership
// of the whole (live) network.
func (s *Sim) oracleFill(nodes []*Node) {
	all := s.Live()
	slices.SortFunc(all, func(a, b *Node) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	// span returns the indices [lo, hi) of the nodes whose ID starts with
	// the first bits bits of id, with bit number bits-1 flipped when flip.
	span := func(id kbucket.ID, bits int, flip bool) (int, int) {
		lo, hi := id, id
		if flip {
			lo[(bits-1)/8] ^= 0x80 >> ((bits - 1) % 8)
			hi = lo
		}
		for b := bits; b < kbucket.IDLen*8; b++ {
			lo[b/8] &^= 0x80 >> (b % 8)
			hi[b/8] |= 0x80 >> (b % 8)
		}
		l, _ := slices.BinarySearchFunc(all, lo, func(n *Node, t kbucket.ID) int { return bytes.Compare(n.ID[:], t[:]) })
		h, found := slices.BinarySearchFunc(all, hi, func(n *Node, t kbucket.ID) int { return bytes.Compare(n.ID[:], t[:]) })
		if found {
			h++
		}
		return l, h
	}
	k := s.cfg.Core.K
	now := s.Time()
	pick := make([]int, 0, k)
	for _, n := range nodes {
		if !n.alive {
			continue
		}
		c := n.core
		for i := 0; i < kbucket.NumBuckets; i++ {
			if lo, hi := span(n.ID, i, false); hi-lo <= 1 {
				break // nobody else shares i bits with n: deeper buckets are empty
			}
			lo, hi := span(n.ID, i+1, true)
			if hi-lo <= k {
				for _, m := range all[lo:hi] {
					s.apply(n, c.AddPeer(now, m.peer))
				}
			} else {
				// k distinct random members of the range.
				pick = pick[:0]
				for len(pick) < k {
					if j := lo + s.rng.IntN(hi-lo); !slices.Contains(pick, j) {
						pick = append(pick, j)
					}
				}
				for _, j := range pick {
					s.apply(n, c.AddPeer(now, all[j].peer))
				}
			}
			c.Table().Touch(i, now.UnixNano())
		}
	}
}
