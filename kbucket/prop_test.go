package kbucket

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func drawID(t *rapid.T, label string) ID {
	return ID(rapid.SliceOfN(rapid.Byte(), IDLen, IDLen).Draw(t, label))
}

// drawNear returns a copy of a with a few bytes redrawn, so that the laws
// are also exercised on IDs sharing long prefixes.
func drawNear(t *rapid.T, a ID, label string) ID {
	b := a
	for range rapid.IntRange(0, 3).Draw(t, label+"-n") {
		b[rapid.IntRange(0, IDLen-1).Draw(t, label+"-i")] = rapid.Byte().Draw(t, label+"-v")
	}
	return b
}

func bigOf(d Distance) *big.Int { return new(big.Int).SetBytes(d[:]) }

func TestXorMetricLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := drawID(t, "a")
		b := drawNear(t, a, "b")
		if rapid.Bool().Draw(t, "far b") {
			b = drawID(t, "b2")
		}
		c := drawNear(t, b, "c")
		var zero Distance
		if Xor(a, a) != zero {
			t.Fatalf("d(a,a) != 0")
		}
		if Xor(a, b) != Xor(b, a) {
			t.Fatalf("d(a,b) != d(b,a)")
		}
		if (Xor(a, b) == zero) != (a == b) {
			t.Fatalf("d(a,b)=0 must hold exactly when a=b")
		}
		// Triangle inequality over the integers; the XOR identity behind it.
		sum := new(big.Int).Add(bigOf(Xor(a, b)), bigOf(Xor(b, c)))
		if sum.Cmp(bigOf(Xor(a, c))) < 0 {
			t.Fatalf("d(a,b)+d(b,c) < d(a,c)")
		}
		var x Distance
		dab, dbc := Xor(a, b), Xor(b, c)
		for i := range x {
			x[i] = dab[i] ^ dbc[i]
		}
		if x != Xor(a, c) {
			t.Fatalf("d(a,c) != d(a,b) xor d(b,c)")
		}
		// Uniqueness: for fixed a and d exactly one b has d(a,b) = d, namely a^d.
		d := Distance(drawID(t, "d"))
		var want ID
		for i := range want {
			want[i] = a[i] ^ d[i]
		}
		if Xor(a, want) != d {
			t.Fatalf("d(a, a^d) != d")
		}
		if (Xor(a, c) == d) != (c == want) {
			t.Fatalf("a second point at distance d")
		}
		// Cmp and CloserTo agree with integer order; the common prefix length
		// is the number of leading zero bits of the distance.
		if got, want := Xor(a, b).Cmp(Xor(a, c)), bigOf(Xor(a, b)).Cmp(bigOf(Xor(a, c))); got != want {
			t.Fatalf("Cmp = %d, big.Int says %d", got, want)
		}
		if CloserTo(a, b, c) != (bigOf(Xor(a, b)).Cmp(bigOf(Xor(a, c))) < 0) {
			t.Fatalf("CloserTo disagrees with the integer order")
		}
		if got, want := CommonPrefixLen(a, b), IDLen*8-bigOf(Xor(a, b)).BitLen(); got != want {
			t.Fatalf("CommonPrefixLen = %d, want %d", got, want)
		}
	})
}

func TestRandomIDInBucketProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		self := drawID(t, "self")
		i := rapid.IntRange(0, NumBuckets-1).Draw(t, "bucket")
		rnd := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 2))
		id := RandomIDInBucket(self, i, rnd)
		if got := CommonPrefixLen(self, id); got != i {
			t.Fatalf("RandomIDInBucket(%d) has common prefix %d", i, got)
		}
		tbl, err := NewTable(self, DefaultConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if tbl.BucketOf(id) != i || tbl.BucketOf(self) != -1 {
			t.Fatalf("BucketOf = %d, want %d", tbl.BucketOf(id), i)
		}
		// Bits after the fixed prefix are random: two draws differ there.
		if id2 := RandomIDInBucket(self, i, rnd); i < NumBuckets-40 && id2 == id {
			t.Fatalf("two equal random IDs")
		}
	})
	defer func() {
		if recover() == nil {
			t.Error("RandomIDInBucket(256) did not panic")
		}
	}()
	RandomIDInBucket(ID{}, NumBuckets, newRand())
}

// drawTable builds a table from a drawn mix of uniform IDs and IDs in drawn
// (often deep) buckets, all with distinct public prefixes.
func drawTable(t *rapid.T) *Table {
	cfg := DefaultConfig()
	cfg.K = rapid.IntRange(MinK, MaxK).Draw(t, "k")
	self := drawID(t, "self")
	tbl, err := NewTable(self, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 7))
	uniform := rapid.IntRange(0, 400).Draw(t, "uniform")
	for j := range uniform {
		tbl.Seen(Peer{ID: randID(rnd), Addr: publicAddr(rnd)}, int64(j))
	}
	deep := rapid.IntRange(0, 300).Draw(t, "deep")
	maxBucket := rapid.SampledFrom([]int{8, 40, NumBuckets - 1}).Draw(t, "max bucket")
	for j := range deep {
		tbl.Seen(Peer{ID: RandomIDInBucket(self, rnd.IntN(maxBucket+1), rnd), Addr: publicAddr(rnd)}, int64(uniform+j))
	}
	return tbl
}

func TestClosestMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tbl := drawTable(t)
		all := tbl.Snapshot().Peers(nil)
		if len(all) != tbl.Len() {
			t.Fatalf("Peers returned %d of %d", len(all), tbl.Len())
		}
		var target ID
		switch rapid.IntRange(0, 3).Draw(t, "target kind") {
		case 0:
			target = drawID(t, "target")
		case 1:
			target = tbl.Self()
		case 2:
			if len(all) > 0 {
				target = all[rapid.IntRange(0, len(all)-1).Draw(t, "entry")].ID
			}
		case 3:
			target = drawNear(t, tbl.Self(), "near self")
		}
		n := rapid.IntRange(0, 70).Draw(t, "n")
		want := idsOf(bruteClosest(all, target, n))
		prefix := []Peer{{ID: ID{1}}}
		got := tbl.Closest(target, n, slices.Clone(prefix))
		if got[0].ID != prefix[0].ID {
			t.Fatalf("Closest overwrote dst")
		}
		if !slices.Equal(idsOf(got[1:]), want) {
			t.Fatalf("Closest(n=%d) of %d:\n got %x\nwant %x", n, len(all), idsOf(got[1:]), want)
		}
		if s := tbl.Snapshot().Closest(target, n, nil); !slices.Equal(idsOf(s), want) {
			t.Fatalf("Snapshot.Closest differs from brute force")
		}
	})
}

// netClasses are the observed-address families the state machine draws
// from: exempt ranges, resolver-known ASNs, shared and distinct prefixes.
var netClasses = []func(a, b byte) string{
	func(a, b byte) string { return fmt.Sprintf("10.0.%d.%d", a, b) },
	func(a, b byte) string { return "127.0.0.1" },
	func(a, b byte) string { return fmt.Sprintf("fe80::%x", uint16(a)<<8|uint16(b)) },
	func(a, b byte) string { return fmt.Sprintf("100.64.%d.%d", a, b) },
	func(a, b byte) string { return fmt.Sprintf("24.%d.%d.1", a%3, b) },    // AS64500 / 3 prefixes
	func(a, b byte) string { return fmt.Sprintf("25.7.%d.%d", a, b) },      // AS64501 / 1 prefix
	func(a, b byte) string { return fmt.Sprintf("41.7.%d.%d", a, b) },      // one /16
	func(a, b byte) string { return fmt.Sprintf("2a00:%x::%x", a%4, b) },   // AS65001-65003
	func(a, b byte) string { return fmt.Sprintf("2001:db8:%x::1", a) },     // one /32
	func(a, b byte) string { return fmt.Sprintf("%d.%d.1.1", 42+a%50, b) }, // many /16s
	func(a, b byte) string { return "0.0.0.0" },
}

type tableMachine struct {
	tbl     *Table
	now     int64
	pool    []Peer
	pending []ID
	seed    uint64
	stats   map[string]int // what happened, over all runs
}

func (m *tableMachine) drawAddr(t *rapid.T) netip.AddrPort {
	class := rapid.IntRange(0, len(netClasses)-1).Draw(t, "class")
	a, b := rapid.Byte().Draw(t, "a"), rapid.Byte().Draw(t, "b")
	return ap(netClasses[class](a, b))
}

func (m *tableMachine) pick(t *rapid.T) Peer {
	return m.pool[rapid.IntRange(0, len(m.pool)-1).Draw(t, "peer")]
}

func (m *tableMachine) seen(t *rapid.T, p Peer) {
	m.now += 1 + rapid.Int64Range(0, int64(3e9)).Draw(t, "dt")
	r := m.tbl.Seen(p, m.now)
	i := CommonPrefixLen(m.tbl.self, p.ID)
	found, ok := m.tbl.Find(p.ID)
	inCache := i < NumBuckets && m.tbl.b[i].cacheIndex(p.ID) >= 0
	m.stats[r.Outcome.String()]++
	if r.Displaced != nil {
		m.stats["displaced"]++
	}
	switch r.Outcome {
	case Added, Updated:
		ps := m.tbl.peersOf(i)
		if !ok || found.LastSeen != m.now || ps[len(ps)-1].ID != p.ID {
			t.Fatalf("%v but not the most recent entry (found=%v)", r.Outcome, ok)
		}
		if p.Addr.IsValid() && found.Addr != p.Addr {
			t.Fatalf("%v with a stale address", r.Outcome)
		}
	case Cached:
		if ok || !inCache {
			t.Fatalf("cached: in bucket %v, in cache %v", ok, inCache)
		}
	case Rejected:
		if ok || inCache {
			t.Fatalf("rejected (%s) but kept: bucket %v cache %v", r.Reason, ok, inCache)
		}
	default:
		t.Fatalf("outcome %v", r.Outcome)
	}
	if r.PingCandidate != nil {
		if len(m.tbl.peersOf(i)) != m.tbl.cfg.K {
			t.Fatalf("ping candidate for a bucket that is not full")
		}
		if m.tbl.peersOf(i)[0].ID != r.PingCandidate.ID {
			t.Fatalf("ping candidate is not the least recently seen entry")
		}
		m.pending = append(m.pending, r.PingCandidate.ID)
	}
}

func (m *tableMachine) Check(t *rapid.T) { checkInvariants(t, m.tbl) }

func (m *tableMachine) SeenNew(t *rapid.T) {
	bucket := rapid.IntRange(0, 1).Draw(t, "bucket")
	if rapid.IntRange(0, 9).Draw(t, "deep") == 0 {
		bucket = rapid.IntRange(0, NumBuckets-1).Draw(t, "bucket deep")
	}
	m.seed++
	p := Peer{
		ID:    RandomIDInBucket(m.tbl.self, bucket, rand.New(rand.NewPCG(m.seed, rapid.Uint64().Draw(t, "id seed")))),
		Addr:  m.drawAddr(t),
		Addrs: []string{"quic://x"},
	}
	m.pool = append(m.pool, p)
	m.seen(t, p)
}

func (m *tableMachine) SeenKnown(t *rapid.T) {
	if len(m.pool) == 0 {
		t.Skip("no peer yet")
	}
	p := m.pick(t)
	switch rapid.IntRange(0, 3).Draw(t, "variant") {
	case 0:
		p.Addr = m.drawAddr(t) // observed address changed
	case 1:
		p.Addr = netip.AddrPort{} // exchange without an observed address
	}
	m.seen(t, p)
}

func (m *tableMachine) SeenSelf(t *rapid.T) {
	if r := m.tbl.Seen(Peer{ID: m.tbl.self, Addr: m.drawAddr(t)}, m.now); r.Outcome != Rejected {
		t.Fatalf("self: %v", r.Outcome)
	}
}

func (m *tableMachine) Ping(t *rapid.T) {
	if len(m.pending) == 0 {
		t.Skip("no ping outstanding")
	}
	k := rapid.IntRange(0, len(m.pending)-1).Draw(t, "pending")
	id := m.pending[k]
	m.pending = slices.Delete(m.pending, k, k+1)
	alive := rapid.Bool().Draw(t, "alive")
	m.now++
	_, was := m.tbl.Find(id)
	evicted, promoted := m.tbl.PingResult(id, alive, m.now)
	if evicted {
		m.stats["ping evicted"]++
	}
	if promoted != nil {
		m.stats["promoted"]++
	}
	p, ok := m.tbl.Find(id)
	switch {
	case alive && was && (!ok || p.LastSeen != m.now || evicted):
		t.Fatalf("alive entry not refreshed")
	case !alive && (ok || evicted != was):
		t.Fatalf("dead entry: still present %v, evicted %v (was %v)", ok, evicted, was)
	}
	if promoted != nil {
		if _, ok := m.tbl.Find(promoted.ID); !ok {
			t.Fatalf("promoted peer not in the table")
		}
	}
}

func (m *tableMachine) Failed(t *rapid.T) {
	if len(m.pool) == 0 {
		t.Skip("no peer yet")
	}
	p := m.pick(t)
	m.now++
	if m.tbl.Failed(p.ID, m.now) {
		m.stats["failed evicted"]++
		if _, ok := m.tbl.Find(p.ID); ok {
			t.Fatalf("evicted peer still present")
		}
	}
}

func (m *tableMachine) Remove(t *rapid.T) {
	if len(m.pool) == 0 {
		t.Skip("no peer yet")
	}
	p := m.pick(t)
	m.tbl.Remove(p.ID)
	i := CommonPrefixLen(m.tbl.self, p.ID)
	if _, ok := m.tbl.Find(p.ID); ok || m.tbl.b[i].cacheIndex(p.ID) >= 0 {
		t.Fatalf("removed peer still known")
	}
}

func (m *tableMachine) Touch(t *rapid.T) {
	m.tbl.Touch(rapid.IntRange(-1, NumBuckets).Draw(t, "touch"), m.now)
}

func (m *tableMachine) Closest(t *rapid.T) {
	target := RandomIDInBucket(m.tbl.self, rapid.IntRange(0, 4).Draw(t, "near"), rand.New(rand.NewPCG(m.seed, 9)))
	n := rapid.IntRange(1, 40).Draw(t, "n")
	all := m.tbl.Snapshot().Peers(nil)
	if got, want := idsOf(m.tbl.Closest(target, n, nil)), idsOf(bruteClosest(all, target, n)); !slices.Equal(got, want) {
		t.Fatalf("Closest differs from brute force")
	}
}

func TestTableStateMachine(t *testing.T) {
	stats := map[string]int{}
	rapid.Check(t, func(t *rapid.T) {
		cfg := DefaultConfig()
		cfg.K = rapid.IntRange(MinK, 20).Draw(t, "k")
		cfg.ReplacementCache = rapid.IntRange(0, 5).Draw(t, "cache")
		cfg.ASNMaxPct = rapid.SampledFrom([]float64{0.25, 0.40, 0.60}).Draw(t, "asn pct")
		cfg.FailThreshold = rapid.IntRange(1, 3).Draw(t, "fail threshold")
		cfg.ExemptPrivate = rapid.Bool().Draw(t, "exempt private")
		var r Resolver
		if rapid.Bool().Draw(t, "resolver") {
			r = testResolver{}
		}
		tbl, err := NewTable(drawID(t, "self"), cfg, r)
		if err != nil {
			t.Fatal(err)
		}
		m := &tableMachine{tbl: tbl, stats: stats}
		// Weighted: insertions dominate so that buckets fill and overflow.
		t.Repeat(map[string]func(*rapid.T){
			"":          m.Check,
			"seen new":  m.SeenNew,
			"seen new2": m.SeenNew,
			"seen new3": m.SeenNew,
			"seen new4": m.SeenNew,
			"seen old":  m.SeenKnown,
			"seen old2": m.SeenKnown,
			"seen self": m.SeenSelf,
			"ping":      m.Ping,
			"ping2":     m.Ping,
			"failed":    m.Failed,
			"remove":    m.Remove,
			"touch":     m.Touch,
			"closest":   m.Closest,
		})
	})
	// The generators must reach every path, or the invariants prove little.
	for _, k := range []string{"added", "updated", "cached", "rejected", "displaced", "ping evicted", "promoted", "failed evicted"} {
		if stats[k] == 0 {
			t.Errorf("no %q in any run: %v", k, stats)
		}
	}
	t.Logf("outcomes over all runs: %v", stats)
}
