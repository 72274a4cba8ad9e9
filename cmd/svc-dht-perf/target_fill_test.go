package main

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
	"github.com/svc-dht/svc-dht/kbucket"
)

func TestFillIdentities(t *testing.T) {
	var target kbucket.ID
	r := rand.New(rand.NewPCG(3, 4))
	for i := range target {
		target[i] = byte(r.Uint32())
	}
	const n, k = 40, 16
	ids, buckets, tries, err := fillIdentities(target, n, k, 9, fillTries*n)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != n || tries < n {
		t.Fatalf("%d identities from %d tries, want %d", len(ids), tries, n)
	}
	seen := map[kbucket.ID]bool{}
	count := map[int]int{}
	for _, id := range ids {
		if seen[id.ID()] {
			t.Fatalf("identity %s twice", id)
		}
		seen[id.ID()] = true
		count[kbucket.CommonPrefixLen(target, id.ID())]++
	}
	total := 0
	for b, c := range count {
		if c > k {
			t.Errorf("bucket %d: %d identities, more than k = %d", b, c, k)
		}
		if buckets[b] != c {
			t.Errorf("bucket %d: reported %d, counted %d", b, buckets[b], c)
		}
		total += c
	}
	// Random IDs land in bucket 0 half the time: it fills first.
	if total != n || count[0] != k {
		t.Errorf("buckets %v: want %d in all, bucket 0 full", count, n)
	}
	again, _, _, _ := fillIdentities(target, n, k, 9, fillTries*n)
	for i := range again {
		if again[i].ID() != ids[i].ID() {
			t.Fatalf("identity %d differs between runs with the same seed", i)
		}
	}
	// A fill beyond what the try budget reaches stops short: 40 tries
	// cannot place 40 identities (half of them land in bucket 0, whose
	// room is k).
	few, _, tries, err := fillIdentities(target, n, k, 9, n)
	if err != nil || len(few) >= n || tries != n {
		t.Errorf("fill with %d tries: %d identities after %d tries, err %v; want fewer than %d", n, len(few), tries, err, n)
	}
}

func TestTargetRunFill(t *testing.T) {
	n := loneTarget(t, 2)
	// Not pinned: the harness learns the target's ID from a PING.
	res := runHarness(t, "--target", n.Addrs()[0], "--rps", "20", "--duration", "1s", "--fill", "30",
		"--records", "8", "--progress=false")
	if res.Mode != perfresult.ModeTarget {
		t.Fatalf("mode %s", res.Mode)
	}
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, "--fill: 30 identities") {
		t.Errorf("notes lack the fill:\n%s", notes)
	}
	peers, err := n.Peers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The 30 fill peers and the load client, as far as its bucket had room.
	if got := peers.Size; got < 30 {
		t.Errorf("the target's table holds %d peers after --fill 30", got)
	}
}
