package persist

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

// recordTS is the ts of the test records; verification uses recordNow.
const (
	recordTS  = 1_790_000_000
	recordTTL = 24 * 3600
)

// testPeers returns n deterministic peers with IPv4, IPv6 and missing
// observed addresses and zero to three advertised addresses.
func testPeers(n int, seed uint64) []kbucket.Peer {
	r := rand.New(rand.NewPCG(seed, 1))
	peers := make([]kbucket.Peer, n)
	for i := range peers {
		p := &peers[i]
		for j := range p.ID {
			p.ID[j] = byte(r.Uint32())
		}
		switch i % 3 {
		case 0:
			p.Addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), 1, byte(i)}), uint16(r.Uint32()))
		case 1:
			var a [16]byte
			for j := range a {
				a[j] = byte(r.Uint32())
			}
			p.Addr = netip.AddrPortFrom(netip.AddrFrom16(a), 4433)
		}
		for j := range r.IntN(4) {
			p.Addrs = append(p.Addrs, fmt.Sprintf("quic://node-%d-%d.example:4433", i, j))
		}
		p.LastSeen = r.Int64()
	}
	return peers
}

// testIdentity returns a deterministic identity.
func testIdentity(t testing.TB, seed byte, pq bool) *identity.Identity {
	t.Helper()
	ed := make([]byte, identity.SeedSize)
	for i := range ed {
		ed[i] = seed + byte(i)
	}
	var pqSeed []byte
	if pq {
		pqSeed = make([]byte, identity.SeedSize)
		for i := range pqSeed {
			pqSeed[i] = seed ^ byte(3*i)
		}
	}
	id, err := identity.FromSeeds(ed, pqSeed)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// testRecords returns n records signed by a few Ed25519 identities; when
// dual is set the first record is dual-signed (Ed25519 + ML-DSA-87).
func testRecords(t testing.TB, n int, dual bool) []wire.ProviderRecord {
	t.Helper()
	first := testIdentity(t, 1, dual)
	if dual {
		first = first.WithDeterministicPQ() // reproducible bytes
	}
	ids := []*identity.Identity{first, testIdentity(t, 2, false), testIdentity(t, 3, false)}
	recs := make([]wire.ProviderRecord, n)
	for i := range recs {
		r := &recs[i]
		r.Key = identity.KeyFromBytes(fmt.Appendf(nil, "content-%d", i))
		r.Addrs = []string{fmt.Sprintf("quic://10.0.%d.%d:4433", i>>8&0xff, i&0xff)}
		if i%2 == 0 {
			r.Addrs = append(r.Addrs, "quic://[2001:db8::1]:4433")
		}
		r.TTL = recordTTL
		r.TS = recordTS + int64(i)
		if err := identity.Sign(r, ids[i%len(ids)], dual && i == 0); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

// listDir returns the names of the entries of dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

// walkAll returns every path under root except root itself.
func walkAll(t *testing.T, root string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// fileMode returns the permission bits of path.
func fileMode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
