package kbucket

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

func TestSnapshotCopyOnWrite(t *testing.T) {
	tbl := network(t, 500, 11)
	s1 := tbl.Snapshot()
	if s2 := tbl.Snapshot(); s2 != s1 {
		t.Fatal("snapshot rebuilt without a mutation")
	}
	rnd := newRand()
	target := randID(rnd)
	before := idsOf(s1.Closest(target, 20, nil))
	beforeLen := s1.Len()
	victim := before[0]
	tbl.Remove(victim)
	s3 := tbl.Snapshot()
	if s3 == s1 {
		t.Fatal("snapshot not rebuilt after a mutation")
	}
	if s1.Len() != beforeLen || !slices.Equal(idsOf(s1.Closest(target, 20, nil)), before) {
		t.Fatal("an old snapshot changed under a mutation")
	}
	if slices.Contains(idsOf(s3.Closest(target, 20, nil)), victim) {
		t.Fatal("new snapshot still has the removed peer")
	}
	// Untouched buckets are shared, not copied; the changed one is copied.
	changed := tbl.BucketOf(victim)
	for i := range NumBuckets {
		if len(s1.Bucket(i)) == 0 || len(s3.Bucket(i)) == 0 {
			continue
		}
		shared := &s1.Bucket(i)[0] == &s3.Bucket(i)[0]
		if shared == (i == changed) {
			t.Fatalf("bucket %d: shared=%v (changed bucket %d)", i, shared, changed)
		}
	}
	// The snapshot never aliases the table's own arrays.
	for i := range NumBuckets {
		if len(s3.Bucket(i)) > 0 && &s3.Bucket(i)[0] == &tbl.peersOf(i)[0] {
			t.Fatalf("bucket %d aliases the table", i)
		}
	}
	// Touch changes only statistics.
	tbl.Touch(changed, 99)
	s4 := tbl.Snapshot()
	if s4 == s3 || s4.Buckets()[changed].LastUsed != 99 || s3.Buckets()[changed].LastUsed == 99 {
		t.Fatal("Touch not reflected in a new snapshot only")
	}
	if len(s4.Bucket(changed)) > 0 && &s4.Bucket(changed)[0] != &s3.Bucket(changed)[0] {
		t.Fatal("Touch copied the peers")
	}
	// Buckets returns a copy.
	b := s4.Buckets()
	b[0].Occupancy = -1
	if s4.Buckets()[0].Occupancy == -1 {
		t.Fatal("Buckets exposes the snapshot's array")
	}
	checkInvariants(t, tbl)
}

// TestSnapshotConcurrentReaders runs readers on published snapshots while
// the owner mutates the table; with -race it proves snapshots share nothing
// mutable with the table.
func TestSnapshotConcurrentReaders(t *testing.T) {
	tbl := network(t, 300, 5)
	var cur atomic.Pointer[Snapshot]
	cur.Store(tbl.Snapshot())
	var wg sync.WaitGroup
	done := make(chan struct{})
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := newRand()
			rnd.Uint64()
			dst := make([]Peer, 0, 20)
			for k := 0; ; k++ {
				select {
				case <-done:
					return
				default:
				}
				s := cur.Load()
				target := randID(rnd)
				got := s.Closest(target, 20, dst[:0])
				for j := 1; j < len(got); j++ {
					if CloserTo(target, got[j].ID, got[j-1].ID) {
						t.Errorf("reader %d: unsorted result", r)
						return
					}
				}
				if len(got) != min(20, s.Len()) {
					t.Errorf("reader %d: %d results of %d", r, len(got), s.Len())
					return
				}
				_ = s.Buckets()
			}
		}()
	}
	rnd := newRand()
	for k := range 3000 {
		p := Peer{ID: randID(rnd), Addr: publicAddr(rnd), Addrs: []string{"quic://a"}}
		tbl.Seen(p, int64(1000+k))
		if k%3 == 0 {
			all := tbl.Snapshot().Peers(nil)
			tbl.Failed(all[rnd.IntN(len(all))].ID, int64(1000+k))
		}
		cur.Store(tbl.Snapshot())
	}
	close(done)
	wg.Wait()
	checkInvariants(t, tbl)
}

func TestClosestAllocations(t *testing.T) {
	tbl := bigTable(t, 2000)
	rnd := newRand()
	dst := make([]Peer, 0, 20)
	targets := make([]ID, 64)
	for i := range targets {
		targets[i] = randID(rnd)
	}
	targets[0] = tbl.Self()
	k := 0
	s := tbl.Snapshot()
	if a := testing.AllocsPerRun(200, func() {
		dst = tbl.Closest(targets[k%len(targets)], 20, dst[:0])
		dst = s.Closest(targets[k%len(targets)], 20, dst[:0])
		k++
	}); a != 0 {
		t.Fatalf("Closest allocates %v times per call with a large enough dst", a)
	}
	if len(dst) != 20 {
		t.Fatalf("got %d peers", len(dst))
	}
	// Seen on a known peer (the hot update path) does not allocate either.
	all := s.Peers(nil)
	now := int64(1 << 40)
	if a := testing.AllocsPerRun(200, func() {
		now++
		tbl.Seen(all[int(now)%len(all)], now)
	}); a != 0 {
		t.Fatalf("Seen(update) allocates %v times", a)
	}
}
