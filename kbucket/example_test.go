package kbucket_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/svc-dht/svc-dht/kbucket"
)

// The caller owns the clock and the network: Seen asks for a probe of the
// least-recently-seen entry when a bucket is full, and PingResult applies
// the answer.
func Example_pingBeforeEvict() {
	rnd := rand.New(rand.NewPCG(1, 2))
	var self kbucket.ID
	tbl, err := kbucket.NewTable(self, kbucket.DefaultConfig(), nil)
	if err != nil {
		panic(err)
	}
	now := int64(1_000_000_000)
	for i := range 20 { // fill bucket 0 with peers from 20 different /16s
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{81, byte(i), 0, 1}), 4433)
		tbl.Seen(kbucket.Peer{ID: kbucket.RandomIDInBucket(self, 0, rnd), Addr: addr}, now)
		now++
	}
	newcomer := kbucket.Peer{ID: kbucket.RandomIDInBucket(self, 0, rnd), Addr: netip.MustParseAddrPort("198.51.100.7:4433")}
	res := tbl.Seen(newcomer, now)
	fmt.Println(res.Outcome, res.PingCandidate != nil)

	// The probe timed out: the stale entry goes, the newcomer takes its slot.
	evicted, promoted := tbl.PingResult(res.PingCandidate.ID, false, now+1)
	fmt.Println(evicted, promoted.ID == newcomer.ID, tbl.Len())

	closest := tbl.Closest(newcomer.ID, 3, nil)
	fmt.Println(len(closest), closest[0].ID == newcomer.ID)
	// Output:
	// cached true
	// true true 20
	// 3 true
}
