package kbucket

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	bad := map[string]func(*Config){
		"k low":           func(c *Config) { c.K = 15 },
		"k high":          func(c *Config) { c.K = 33 },
		"cache negative":  func(c *Config) { c.ReplacementCache = -1 },
		"cache high":      func(c *Config) { c.ReplacementCache = MaxReplacement + 1 },
		"asn pct low":     func(c *Config) { c.ASNMaxPct = 0.2 },
		"asn pct high":    func(c *Config) { c.ASNMaxPct = 0.61 },
		"asn pct NaN":     func(c *Config) { c.ASNMaxPct = math.NaN() },
		"entropy low":     func(c *Config) { c.ASNEntropyMin = 0.9 },
		"entropy high":    func(c *Config) { c.ASNEntropyMin = 2.1 },
		"fail threshold":  func(c *Config) { c.FailThreshold = 0 },
		"fail high":       func(c *Config) { c.FailThreshold = MaxFailThreshold + 1 },
		"ping timeout":    func(c *Config) { c.PingTimeout = 0 },
		"entropy NaN min": func(c *Config) { c.ASNEntropyMin = math.NaN() },
	}
	for name, mut := range bad {
		c := DefaultConfig()
		mut(&c)
		err := c.Validate()
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Validate() = %v, want ErrConfig", name, err)
		}
		if _, err := NewTable(ID{}, c, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: NewTable error %v, want ErrConfig", name, err)
		}
	}
}

func TestGroupCap(t *testing.T) {
	for _, tc := range []struct {
		k    int
		pct  float64
		want int
	}{{20, 0.40, 8}, {16, 0.25, 4}, {32, 0.60, 19}, {30, 0.30, 9}, {20, 0.35, 7}} {
		c := DefaultConfig()
		c.K, c.ASNMaxPct = tc.k, tc.pct
		if got := c.GroupCap(); got != tc.want {
			t.Errorf("GroupCap(k=%d, pct=%v) = %d, want %d", tc.k, tc.pct, got, tc.want)
		}
	}
}

func TestGroups(t *testing.T) {
	r := testResolver{}
	for _, tc := range []struct {
		ip     string
		exempt bool // with ExemptPrivate
		want   Group
	}{
		{"127.0.0.1", true, PrefixGroup(netip.MustParseAddr("127.0.0.1"))},
		{"10.1.2.3", true, PrefixGroup(netip.MustParseAddr("10.1.0.0"))},
		{"172.16.9.9", true, PrefixGroup(netip.MustParseAddr("172.16.0.0"))},
		{"192.168.1.1", true, PrefixGroup(netip.MustParseAddr("192.168.0.0"))},
		{"169.254.0.7", true, PrefixGroup(netip.MustParseAddr("169.254.0.0"))},
		{"100.64.0.1", true, PrefixGroup(netip.MustParseAddr("100.64.0.0"))},
		{"100.127.255.1", true, PrefixGroup(netip.MustParseAddr("100.127.0.0"))},
		{"::1", true, PrefixGroup(netip.MustParseAddr("::"))},
		{"fe80::1", true, PrefixGroup(netip.MustParseAddr("fe80::"))},
		{"fd12:3456::1", true, PrefixGroup(netip.MustParseAddr("fd12:3456::"))},
		{"::ffff:10.0.0.1", true, PrefixGroup(netip.MustParseAddr("10.0.0.0"))},
		{"100.128.0.1", false, PrefixGroup(netip.MustParseAddr("100.128.0.0"))},
		{"8.8.8.8", false, PrefixGroup(netip.MustParseAddr("8.8.0.0"))},
		{"21.1.1.1", false, ASNGroup(64501)},
		{"::ffff:22.1.1.1", false, ASNGroup(64502)},
		{"2a00:5:2::1", false, ASNGroup(65002)},
		{"2001:db8:1:2::3", false, PrefixGroup(netip.MustParseAddr("2001:db8::"))},
		{"0.0.0.0", false, GroupNoAddr},
		{"::", false, GroupNoAddr},
	} {
		ip := netip.MustParseAddr(tc.ip)
		if got := IsSpecialPurpose(ip); got != tc.exempt {
			t.Errorf("IsSpecialPurpose(%s) = %v", tc.ip, got)
		}
		want := tc.want
		if tc.exempt {
			want = GroupExempt
		}
		if got := groupOf(ip, r, true); got != want {
			t.Errorf("group(%s, exempt private) = %v, want %v", tc.ip, got, want)
		}
		if got := groupOf(ip, r, false); got != tc.want {
			t.Errorf("group(%s, counted) = %v, want %v", tc.ip, got, tc.want)
		}
	}
	if g := groupOf(netip.Addr{}, nil, true); g != GroupNoAddr {
		t.Errorf("invalid address: %v", g)
	}
	// Without a resolver an address known to it falls back to its prefix.
	if g := groupOf(netip.MustParseAddr("21.1.1.1"), nil, true); g != PrefixGroup(netip.MustParseAddr("21.1.0.0")) {
		t.Errorf("no resolver: %v", g)
	}
	for g, s := range map[Group]string{
		GroupExempt: "exempt", GroupNoAddr: "noaddr", ASNGroup(64496): "AS64496",
		PrefixGroup(netip.MustParseAddr("192.0.2.1")):  "v4:192.0/16",
		PrefixGroup(netip.MustParseAddr("2001:db8::")): "v6:2001:db8::/32",
	} {
		if g.String() != s {
			t.Errorf("String() = %q, want %q", g.String(), s)
		}
	}
	if asn, ok := ASNGroup(7).ASN(); !ok || asn != 7 {
		t.Errorf("ASN() = %d, %v", asn, ok)
	}
	if _, ok := PrefixGroup(netip.MustParseAddr("7.0.0.0")).ASN(); ok {
		t.Error("prefix group reports an ASN")
	}
}

// fill adds k peers with distinct public /16 groups to bucket i, at times
// 1..k, and returns them.
func fill(t *testing.T, tbl *Table, i, k int, start int64) []Peer {
	t.Helper()
	rnd := rand.New(rand.NewPCG(uint64(i)+100, uint64(start)+3)) // not the test's own sequence
	var out []Peer
	for j := range k {
		p := Peer{ID: RandomIDInBucket(tbl.Self(), i, rnd), Addr: ap(fmt.Sprintf("%d.%d.0.1", 41+j, j))}
		if r := tbl.Seen(p, start+int64(j)); r.Outcome != Added {
			t.Fatalf("fill %d: %v %s", j, r.Outcome, r.Reason)
		}
		p.LastSeen = start + int64(j)
		out = append(out, p)
	}
	return out
}

func TestSeenOutcomes(t *testing.T) {
	rnd := newRand()
	self := randID(rnd)
	cfg := DefaultConfig()
	tbl := mustTable(t, self, cfg, nil)
	if r := tbl.Seen(Peer{ID: self, Addr: ap("8.8.8.8")}, 1); r.Outcome != Rejected || r.Reason != ReasonSelf {
		t.Fatalf("self: %+v", r)
	}
	ps := fill(t, tbl, 0, cfg.K, 10)
	// Updated: moved to most recent, timestamp and address refreshed.
	r := tbl.Seen(Peer{ID: ps[0].ID, Addr: ap("41.0.0.2"), Addrs: []string{"quic://41.0.0.2:4433"}}, 100)
	if r.Outcome != Updated {
		t.Fatalf("repeat: %+v", r)
	}
	if got := tbl.peersOf(0)[cfg.K-1]; got.ID != ps[0].ID || got.LastSeen != 100 || got.Addr != ap("41.0.0.2") || len(got.Addrs) != 1 {
		t.Fatalf("updated entry %+v", got)
	}
	// An update without address keeps the stored one.
	tbl.Seen(Peer{ID: ps[0].ID}, 101)
	if got, _ := tbl.Find(ps[0].ID); got.Addr != ap("41.0.0.2") || len(got.Addrs) != 1 || got.LastSeen != 101 {
		t.Fatalf("address-less update lost data: %+v", got)
	}
	// Full bucket: cached, and the least-recently-seen entry (ps[1]) is the ping candidate.
	c1 := Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("90.1.0.1")}
	r = tbl.Seen(c1, 200)
	if r.Outcome != Cached || r.PingCandidate == nil || r.PingCandidate.ID != ps[1].ID {
		t.Fatalf("full bucket: %+v", r)
	}
	// One probe per bucket at a time...
	c2 := Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("90.2.0.1")}
	if r = tbl.Seen(c2, 201); r.Outcome != Cached || r.PingCandidate != nil {
		t.Fatalf("second candidate: %+v", r)
	}
	// ...re-issued once the first is overdue.
	late := 200 + int64(cfg.PingTimeout)
	if r = tbl.Seen(c2, late); r.Outcome != Cached || r.PingCandidate == nil || r.PingCandidate.ID != ps[1].ID {
		t.Fatalf("after ping timeout: %+v", r)
	}
	if st := tbl.Bucket(0); st.Occupancy != cfg.K || st.Cached != 2 {
		t.Fatalf("stats %+v", st)
	}
	if _, ok := tbl.Find(c1.ID); ok {
		t.Fatal("cached candidate found in bucket")
	}
	checkInvariants(t, tbl)
}

func TestPingBeforeEvict(t *testing.T) {
	for _, alive := range []bool{true, false} {
		t.Run(fmt.Sprint("alive=", alive), func(t *testing.T) {
			rnd := newRand()
			self := randID(rnd)
			tbl := mustTable(t, self, DefaultConfig(), nil)
			ps := fill(t, tbl, 1, 20, 0)
			cand := Peer{ID: RandomIDInBucket(self, 1, rnd), Addr: ap("95.5.5.5")}
			r := tbl.Seen(cand, 50)
			if r.PingCandidate == nil || r.PingCandidate.ID != ps[0].ID {
				t.Fatalf("ping candidate: %+v", r)
			}
			evicted, promoted := tbl.PingResult(ps[0].ID, alive, 60)
			if alive {
				if evicted || promoted != nil {
					t.Fatalf("alive entry evicted: %v %v", evicted, promoted)
				}
				got, ok := tbl.Find(ps[0].ID)
				if !ok || got.LastSeen != 60 || tbl.peersOf(1)[19].ID != ps[0].ID {
					t.Fatalf("alive entry not refreshed: %+v %v", got, ok)
				}
				if tbl.Bucket(1).Cached != 1 {
					t.Fatal("candidate left the cache")
				}
				// The next newcomer triggers a probe of the new least-recently-seen entry.
				r = tbl.Seen(Peer{ID: RandomIDInBucket(self, 1, rnd), Addr: ap("96.5.5.5")}, 70)
				if r.PingCandidate == nil || r.PingCandidate.ID != ps[1].ID {
					t.Fatalf("next probe: %+v", r)
				}
			} else {
				if !evicted || promoted == nil || promoted.ID != cand.ID {
					t.Fatalf("dead entry: evicted=%v promoted=%v", evicted, promoted)
				}
				if _, ok := tbl.Find(ps[0].ID); ok {
					t.Fatal("dead entry still present")
				}
				if _, ok := tbl.Find(cand.ID); !ok || tbl.Bucket(1).Cached != 0 {
					t.Fatal("candidate not promoted")
				}
			}
			// Reporting an unknown ID changes nothing.
			if e, p := tbl.PingResult(randID(rnd), false, 80); e || p != nil {
				t.Fatal("unknown ID evicted something")
			}
			checkInvariants(t, tbl)
		})
	}
}

func TestFailedThreshold(t *testing.T) {
	rnd := newRand()
	self := randID(rnd)
	tbl := mustTable(t, self, DefaultConfig(), nil)
	ps := fill(t, tbl, 0, 20, 0)
	cand := Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("95.5.5.5")}
	tbl.Seen(cand, 30)
	if tbl.Failed(ps[5].ID, 31) {
		t.Fatal("evicted after one failure")
	}
	tbl.Seen(ps[5], 32) // success resets the count
	if tbl.Failed(ps[5].ID, 33) {
		t.Fatal("evicted: success did not reset the failure count")
	}
	if !tbl.Failed(ps[5].ID, 34) {
		t.Fatal("not evicted after two consecutive failures")
	}
	if _, ok := tbl.Find(ps[5].ID); ok {
		t.Fatal("evicted entry still present")
	}
	if _, ok := tbl.Find(cand.ID); !ok {
		t.Fatal("replacement not promoted")
	}
	// A failed cached candidate is dropped from the cache.
	c2 := Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("96.5.5.5")}
	tbl.Seen(c2, 40)
	if tbl.Failed(c2.ID, 41) || tbl.Bucket(0).Cached != 0 {
		t.Fatal("failed candidate kept")
	}
	if tbl.Failed(randID(rnd), 42) || tbl.Failed(self, 42) {
		t.Fatal("unknown ID evicted")
	}
	checkInvariants(t, tbl)
}

func TestRemove(t *testing.T) {
	rnd := newRand()
	self := randID(rnd)
	tbl := mustTable(t, self, DefaultConfig(), nil)
	ps := fill(t, tbl, 2, 20, 0)
	cand := Peer{ID: RandomIDInBucket(self, 2, rnd), Addr: ap("95.5.5.5")}
	tbl.Seen(cand, 30)
	if !tbl.Remove(ps[3].ID) || tbl.Len() != 20 {
		t.Fatal("remove did not promote")
	}
	if _, ok := tbl.Find(cand.ID); !ok {
		t.Fatal("candidate not promoted")
	}
	c2 := Peer{ID: RandomIDInBucket(self, 2, rnd), Addr: ap("96.5.5.5")}
	tbl.Seen(c2, 31)
	if !tbl.Remove(c2.ID) || tbl.Bucket(2).Cached != 0 {
		t.Fatal("remove from cache failed")
	}
	if tbl.Remove(c2.ID) || tbl.Remove(self) {
		t.Fatal("removed twice")
	}
	checkInvariants(t, tbl)
}

func TestASNCapAndDisplacement(t *testing.T) {
	rnd := newRand()
	self := randID(rnd)
	tbl := mustTable(t, self, DefaultConfig(), testResolver{})
	capN := tbl.cfg.GroupCap()
	var asA []Peer
	for j := range capN {
		p := Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap(fmt.Sprintf("24.%d.0.1", j))} // all AS64500
		if r := tbl.Seen(p, int64(j)); r.Outcome != Added {
			t.Fatalf("asn peer %d: %+v", j, r)
		}
		asA = append(asA, p)
	}
	over := Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("28.9.9.9")} // AS64500 again
	if r := tbl.Seen(over, 20); r.Outcome != Rejected || r.Reason != ReasonASNCap {
		t.Fatalf("over cap: %+v", r)
	}
	if r := tbl.Seen(Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("25.1.1.1")}, 21); r.Outcome != Added {
		t.Fatalf("other ASN: %+v", r)
	}
	// A same-group entry with a failed RPC can be displaced.
	tbl.Failed(asA[3].ID, 22)
	r := tbl.Seen(over, 23)
	if r.Outcome != Added || r.Displaced == nil || r.Displaced.ID != asA[3].ID {
		t.Fatalf("displacement: %+v", r)
	}
	if st := tbl.Bucket(0); st.MaxGroup != ASNGroup(64500) || st.MaxASNPct != float64(capN)/20 {
		t.Fatalf("stats %+v", st)
	}
	// Same rule in a full bucket: the capped group is rejected, not cached.
	for j := range 20 - tbl.Len() {
		tbl.Seen(Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap(fmt.Sprintf("%d.1.1.1", 50+j))}, int64(30+j))
	}
	if r := tbl.Seen(Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("32.1.1.1")}, 60); r.Outcome != Rejected || r.Reason != ReasonASNCap {
		t.Fatalf("capped group into full bucket: %+v", r)
	}
	checkInvariants(t, tbl)
}

func TestExemptPrivate(t *testing.T) {
	rnd := newRand()
	self := randID(rnd)
	for _, exempt := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.ExemptPrivate = exempt
		tbl := mustTable(t, self, cfg, testResolver{})
		added := 0
		for j := range cfg.K {
			r := tbl.Seen(Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap(fmt.Sprintf("10.0.%d.1", j))}, int64(j))
			if r.Outcome == Added {
				added++
			}
		}
		want := cfg.K
		if !exempt {
			want = cfg.GroupCap() // all in 10.0/16
		}
		if added != want {
			t.Errorf("ExemptPrivate=%v: %d private peers added, want %d", exempt, added, want)
		}
		st := tbl.Bucket(0)
		if exempt && (st.EntropyBits != math.Log2(float64(cfg.K)) || st.MaxASNPct != 0 || st.LowDiversity) {
			t.Errorf("exempt peers must count as singletons: %+v", st)
		}
		checkInvariants(t, tbl)
	}
}

// entropyWith returns the entropy of bucket i after adding one peer of group g.
func entropyWith(tbl *Table, i int, g Group) float64 {
	counts := map[Group]int{}
	var scratch []int
	for _, m := range tbl.b[i].meta {
		if m.group == GroupExempt {
			scratch = append(scratch, 1)
		} else {
			counts[m.group]++
		}
	}
	if g == GroupExempt {
		scratch = append(scratch, 1)
	} else {
		counts[g]++
	}
	for _, c := range counts {
		scratch = append(scratch, c)
	}
	return Entropy(scratch)
}

func TestPromotionPrefersEntropy(t *testing.T) {
	rnd := newRand()
	self := randID(rnd)
	cfg := DefaultConfig()
	cfg.ReplacementCache = 2
	tbl := mustTable(t, self, cfg, testResolver{})
	// 7 × AS64500, 6 × AS64501, 7 × distinct prefixes.
	var victim Peer
	for j := range 20 {
		var a netip.AddrPort
		switch {
		case j < 7:
			a = ap(fmt.Sprintf("24.%d.0.1", j))
		case j < 13:
			a = ap(fmt.Sprintf("25.%d.0.1", j))
		default:
			a = ap(fmt.Sprintf("%d.1.0.1", 50+j))
		}
		p := Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: a}
		if r := tbl.Seen(p, int64(j)); r.Outcome != Added {
			t.Fatalf("fill %d: %+v", j, r)
		}
		victim = p
	}
	sameASN := Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("28.7.7.7")} // AS64500: 7 in the bucket
	newASN := Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("22.7.7.7")}  // AS64502: new to the bucket
	fresh := Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("33.7.7.7")}   // AS64501: 6 in the bucket
	for k, p := range []Peer{sameASN, newASN} {
		if r := tbl.Seen(p, int64(100+k)); r.Outcome != Cached {
			t.Fatalf("%+v", r)
		}
	}
	// Cache full: the newcomer evicts the cached candidate that would raise
	// entropy least (the crowdest group), although that one is not the oldest.
	if r := tbl.Seen(fresh, 102); r.Outcome != Cached {
		t.Fatalf("cache overflow: %+v", r)
	}
	if tbl.b[0].cacheIndex(sameASN.ID) >= 0 || tbl.b[0].cacheIndex(newASN.ID) < 0 || tbl.b[0].cacheIndex(fresh.ID) < 0 {
		t.Fatal("cache overflow dropped the wrong candidate")
	}
	// A newcomer from the crowdest group is itself the worst: rejected.
	if r := tbl.Seen(Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("32.7.7.7")}, 103); r.Outcome != Rejected || r.Reason != ReasonCacheFull {
		t.Fatalf("worst candidate: %+v", r)
	}
	hNew, hFresh := entropyWith(tbl, 0, tbl.Group(newASN.Addr.Addr())), entropyWith(tbl, 0, tbl.Group(fresh.Addr.Addr()))
	if hNew <= hFresh {
		t.Fatalf("test setup: new ASN should raise entropy more (%v vs %v)", hNew, hFresh)
	}
	// The freshest candidate is not the one promoted: the entropy-raising one is.
	evicted, promoted := tbl.PingResult(victim.ID, false, 110)
	if !evicted || promoted == nil || promoted.ID != newASN.ID {
		t.Fatalf("promoted %v, want the new ASN", promoted)
	}
	checkInvariants(t, tbl)
}

func TestAddressChangeIntoFullGroup(t *testing.T) {
	rnd := newRand()
	self := randID(rnd)
	tbl := mustTable(t, self, DefaultConfig(), testResolver{})
	for j := range tbl.groupCap {
		tbl.Seen(Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap(fmt.Sprintf("24.%d.0.1", j))}, int64(j))
	}
	mover := Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("60.1.1.1")}
	tbl.Seen(mover, 20)
	// Its observed address moves into the capped AS64500: it cannot stay.
	mover.Addr = ap("28.1.1.1")
	if r := tbl.Seen(mover, 21); r.Outcome != Rejected || r.Reason != ReasonASNCap {
		t.Fatalf("move into capped group: %+v", r)
	}
	if _, ok := tbl.Find(mover.ID); ok {
		t.Fatal("peer kept with an over-cap address")
	}
	// Moving into an uncapped group just regroups it.
	mover.Addr = ap("61.1.1.1")
	tbl.Seen(mover, 22)
	mover.Addr = ap("25.1.1.1")
	if r := tbl.Seen(mover, 23); r.Outcome != Updated {
		t.Fatalf("move: %+v", r)
	}
	if tbl.Bucket(0).Occupancy != tbl.groupCap+1 {
		t.Fatal("occupancy changed")
	}
	checkInvariants(t, tbl)
}

func TestLowDiversityFlag(t *testing.T) {
	rnd := newRand()
	self := randID(rnd)
	cfg := DefaultConfig()
	cfg.ASNMaxPct = 0.60 // cap 12: 12 + 8 from two ASNs fills the bucket
	tbl := mustTable(t, self, cfg, testResolver{})
	for j := range 12 {
		tbl.Seen(Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap(fmt.Sprintf("24.%d.0.1", j))}, int64(j))
	}
	for j := range 7 {
		tbl.Seen(Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap(fmt.Sprintf("25.%d.0.1", j))}, int64(20+j))
	}
	if st := tbl.Bucket(0); st.LowDiversity || st.Occupancy != 19 {
		t.Fatalf("not full yet: %+v", st)
	}
	tbl.Seen(Peer{ID: RandomIDInBucket(self, 0, rnd), Addr: ap("29.9.0.1")}, 30)
	st := tbl.Bucket(0)
	want := Entropy([]int{12, 8})
	if !st.LowDiversity || math.Abs(st.EntropyBits-want) > 1e-9 || st.MaxASNPct != 0.6 {
		t.Fatalf("full low-diversity bucket: %+v, want entropy %v", st, want)
	}
	checkInvariants(t, tbl)
}

func TestRefreshScheduling(t *testing.T) {
	rnd := newRand()
	self := randID(rnd)
	tbl := mustTable(t, self, DefaultConfig(), nil)
	interval := int64(30 * time.Second)
	now := int64(100 * time.Second)
	n := 1001 // floor(log2(1000)) = 9 populatable buckets
	if got := tbl.StaleBuckets(now, interval, n); len(got) != PopulatableBuckets(n) {
		t.Fatalf("never-used buckets: %v", got)
	}
	for i := range 9 {
		tbl.Touch(i, now-int64(i)*int64(5*time.Second))
	}
	tbl.Touch(-1, now)
	tbl.Touch(NumBuckets, now)
	got := tbl.StaleBuckets(now, interval, n)
	want := []int{6, 7, 8} // used 30, 35 and 40 s ago
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stale = %v, want %v", got, want)
	}
	if tbl.Snapshot().Buckets()[3].LastUsed != now-int64(15*time.Second) {
		t.Fatal("LastUsed not in snapshot")
	}
}

func TestPopulatableBuckets(t *testing.T) {
	for n, want := range map[int]int{-5: 0, 0: 0, 1: 0, 2: 1, 3: 1, 5: 2, 9: 3, 1001: 9, 1 << 20: 19} {
		if got := PopulatableBuckets(n); got != want {
			t.Errorf("PopulatableBuckets(%d) = %d, want %d", n, got, want)
		}
	}
}

// network returns a table filled from a random network of n nodes (self included).
func network(t testing.TB, n int, seed uint64) *Table {
	rnd := rand.New(rand.NewPCG(seed, 2))
	self := randID(rnd)
	tbl := mustTable(t, self, DefaultConfig(), nil)
	for j := range n - 1 {
		tbl.Seen(Peer{ID: randID(rnd), Addr: publicAddr(rnd)}, int64(j))
	}
	return tbl
}

func TestNetworkSizeAndFill(t *testing.T) {
	for _, n := range []int{2, 10, 21} {
		if est := network(t, n, 1).EstimateNetworkSize(); est != n {
			t.Errorf("n=%d: a table holding the whole network must count it exactly, got %d", n, est)
		}
	}
	const seeds = 10
	for _, n := range []int{200, 1000, 5000} {
		sum := 0.0
		for seed := range uint64(seeds) {
			tbl := network(t, n, seed+1)
			r := float64(tbl.EstimateNetworkSize()) / float64(n)
			if r < 0.6 || r > 1.7 {
				t.Errorf("n=%d seed=%d: estimate off by a factor %.2f", n, seed+1, r)
			}
			sum += r
			if fill := tbl.BucketFillPct(n); fill < 0.75 {
				t.Errorf("n=%d seed=%d: fill %.2f", n, seed+1, fill)
			}
		}
		// Full buckets are censored, not dropped: no systematic bias.
		if mean := sum / seeds; mean < 0.88 || mean > 1.12 {
			t.Errorf("n=%d: mean estimate/true = %.3f over %d networks", n, mean, seeds)
		}
	}
	empty := mustTable(t, ID{}, DefaultConfig(), nil)
	if empty.EstimateNetworkSize() != 1 || empty.BucketFillPct(1) != 0 || empty.BucketFillPct(100) != 0 {
		t.Fatal("empty table")
	}
	// Only the populatable buckets count: one of two filled.
	tbl := mustTable(t, ID{}, DefaultConfig(), nil)
	rnd := newRand()
	tbl.Seen(Peer{ID: RandomIDInBucket(ID{}, 0, rnd), Addr: publicAddr(rnd)}, 1)
	tbl.Seen(Peer{ID: RandomIDInBucket(ID{}, 7, rnd), Addr: publicAddr(rnd)}, 1)
	if got := tbl.BucketFillPct(6); got != 0.5 {
		t.Fatalf("fill = %v, want 0.5", got)
	}
}

// TestPoissonHazard checks the closed forms against a numerical derivative
// of log P(X ≥ k), the tail summed term by term.
func TestPoissonHazard(t *testing.T) {
	logSurv := func(k int, mu float64) float64 { // Σ_{x≥k} pmf(x), summed directly
		s := 0.0
		for x := k; x < k+2000; x++ {
			lg, _ := math.Lgamma(float64(x + 1))
			s += math.Exp(float64(x)*math.Log(mu) - mu - lg)
		}
		return math.Log(s)
	}
	for _, k := range []int{MinK, DefaultK, MaxK} {
		for _, mu := range []float64{2, 5, 10, 15.5, 19.9, 20, 25, 40, 80} {
			h := 1e-5 * mu
			want := (logSurv(k, mu+h) - logSurv(k, mu-h)) / (2 * h)
			if got := poissonHazard(k, mu); math.Abs(got-want) > 1e-5*max(1, want) {
				t.Errorf("hazard(k=%d, μ=%v) = %v, numerical %v", k, mu, got, want)
			}
		}
	}
}
