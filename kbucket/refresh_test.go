package kbucket

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestStalestBuckets(t *testing.T) {
	tbl, err := NewTable(ID{1}, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1 << 10 // 9 populatable buckets: 0-8
	interval := int64(30 * time.Second)
	now := int64(1000 * time.Second)
	// Buckets 0-8 last used at now-40s, now-31s, now-10s, now-40s, never,
	// now-35s, now, now-31s, now-50s; bucket 9 (not populatable) never.
	for i, ago := range []int64{40, 31, 10, 40, -1, 35, 0, 31, 50} {
		if ago >= 0 {
			tbl.Touch(i, now-ago*int64(time.Second))
		}
	}
	all := []int{4, 8, 0, 3, 5, 1, 7} // oldest first, ties by index
	for limit := range len(all) + 2 {
		got := tbl.StalestBuckets(nil, now, interval, n, limit)
		if want := all[:min(limit, len(all))]; !slices.Equal(got, want) {
			t.Errorf("limit %d: %v, want %v", limit, got, want)
		}
	}
	// It appends: dst's contents stay in front.
	if got := tbl.StalestBuckets([]int{-7}, now, interval, n, 2); !slices.Equal(got, []int{-7, 4, 8}) {
		t.Errorf("append to [-7]: %v", got)
	}
	if got := tbl.StalestBuckets(nil, now, interval, 1, 5); len(got) != 0 {
		t.Errorf("lone node: %v", got)
	}
	dst := make([]int, 0, 4)
	if a := testing.AllocsPerRun(100, func() { dst = tbl.StalestBuckets(dst[:0], now, interval, n, 4) }); a != 0 {
		t.Errorf("StalestBuckets allocates %v times", a)
	}
}

// TestStalestBucketsProperty checks StalestBuckets against StaleBuckets
// sorted by last use: the same buckets, oldest first, cut at the limit.
func TestStalestBucketsProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tbl, err := NewTable(ID{0x80}, DefaultConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for range rapid.IntRange(0, 40).Draw(t, "touched") {
			tbl.Touch(rapid.IntRange(0, 40).Draw(t, "bucket"), rapid.Int64Range(0, 100).Draw(t, "at"))
		}
		now := rapid.Int64Range(0, 150).Draw(t, "now")
		interval := rapid.Int64Range(1, 60).Draw(t, "interval")
		size := rapid.IntRange(0, 1<<30).Draw(t, "size")
		limit := rapid.IntRange(0, 40).Draw(t, "limit")

		want := tbl.StaleBuckets(now, interval, size)
		slices.SortStableFunc(want, func(a, b int) int {
			return int(tbl.lastUsed[a] - tbl.lastUsed[b])
		})
		want = want[:min(limit, len(want))]
		if got := tbl.StalestBuckets(nil, now, interval, size, limit); !slices.Equal(got, want) {
			t.Fatalf("StalestBuckets = %v, want %v", got, want)
		}
	})
}

func TestNoteExchange(t *testing.T) {
	self := ID{0x55}
	tbl, err := NewTable(self, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(9, 9))
	peer := func(b, j int) Peer {
		return Peer{ID: RandomIDInBucket(self, b, rnd), Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{11, byte(j), byte(b), 1}), 4433)}
	}
	// Bucket 0 full, bucket 3 with one entry.
	var full []Peer
	for j := range DefaultK {
		full = append(full, peer(0, j))
		tbl.Seen(full[j], 1)
	}
	one := peer(3, 0)
	tbl.Seen(one, 1)
	if !tbl.NoteExchange(full[5].ID, 50) || tbl.Bucket(0).LastUsed != 50 {
		t.Errorf("exchange with an entry of the full bucket 0: last used %d, want 50", tbl.Bucket(0).LastUsed)
	}
	if tbl.NoteExchange(one.ID, 60) || tbl.Bucket(3).LastUsed != 0 {
		t.Errorf("exchange with an entry of bucket 3, which has room, counted as a use (last used %d)", tbl.Bucket(3).LastUsed)
	}
	if tbl.NoteExchange(self, 70) {
		t.Error("exchange with self counted")
	}
	if a := testing.AllocsPerRun(100, func() { tbl.NoteExchange(full[1].ID, 80) }); a != 0 {
		t.Errorf("NoteExchange allocates %v times", a)
	}

	if tbl.BucketLen(0) != DefaultK || tbl.BucketLen(3) != 1 || tbl.BucketLen(4) != 0 || tbl.BucketLen(-1) != 0 || tbl.BucketLen(NumBuckets) != 0 {
		t.Errorf("BucketLen: %d %d %d", tbl.BucketLen(0), tbl.BucketLen(3), tbl.BucketLen(4))
	}
	if p, ok := tbl.LeastRecentlySeen(0); !ok || p.ID != full[0].ID {
		t.Errorf("least recently seen of bucket 0: %v %v, want the first inserted", p.ID.Short(), ok)
	}
	tbl.Seen(full[0], 90)
	if p, _ := tbl.LeastRecentlySeen(0); p.ID != full[1].ID {
		t.Errorf("least recently seen of bucket 0 after the first one was seen again: %v, want the second", p.ID.Short())
	}
	if _, ok := tbl.LeastRecentlySeen(4); ok {
		t.Error("empty bucket 4 has a least recently seen entry")
	}
	if _, ok := tbl.LeastRecentlySeen(NumBuckets); ok {
		t.Error("bucket out of range has a least recently seen entry")
	}
}
