package api

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
)

// fakeBackend answers with fixed results (or err), records what it was
// asked, and with block set waits for the request's context to end.
type fakeBackend struct {
	mu    sync.Mutex
	err   error
	block bool

	provide   ProvideResult
	providers ProvidersResult
	closest   ClosestResult
	ping      PingResult
	peers     PeersResult
	stats     StatsResult

	calls       int
	gotProvide  ProvideParams
	gotKey      kbucket.ID
	gotTarget   kbucket.ID
	gotPeer     PeerRef
	deadline    time.Time
	hasDeadline bool
}

// testID returns a fixed ID derived from name.
func testID(name string) kbucket.ID { return identity.KeyFromBytes([]byte(name)) }

// newFake returns a backend with a full set of non-trivial results.
func newFake() *fakeBackend {
	peer := func(name string, asn uint32) PeerInfo {
		return PeerInfo{ID: ID(testID(name)), Addrs: []string{"quic://192.0.2.1:4433", "quic://[2001:db8::1]:4433"}, ASN: asn, LastSeen: 1700000000}
	}
	return &fakeBackend{
		provide: ProvideResult{Key: ID(testID("key")), Replicas: 17, Hops: 3, Latency: Millis(45678 * time.Microsecond), DualSigned: true},
		providers: ProvidersResult{
			Key: ID(testID("key")),
			Providers: []Provider{
				{Publisher: ID(testID("pub1")), Addrs: []string{"quic://198.51.100.7:4433"}, TTL: 86400, TS: 1700000000, Algs: []string{"ed25519", "ml-dsa-87"}},
				{Publisher: ID(testID("pub2")), Addrs: []string{}, TTL: 3600, TS: 1700000100, Algs: []string{"ed25519"}},
			},
			Hops: 2, Latency: Millis(33 * time.Millisecond),
		},
		closest: ClosestResult{Target: ID(testID("target")), Peers: []PeerInfo{peer("a", 64500), peer("b", 0)}, Hops: 4, Latency: Millis(1500 * time.Microsecond)},
		ping:    PingResult{Peer: ID(testID("a")), Addr: "quic://192.0.2.1:4433", RTT: Millis(812 * time.Microsecond)},
		peers: PeersResult{Self: ID(testID("self")), K: 20, Size: 3, Buckets: []Bucket{
			{Index: 0, Size: 2, Replacements: 1, ASNEntropyBits: 1, ASNMaxPct: 5, Peers: []PeerInfo{peer("a", 64500), peer("b", 64501)}},
			{Index: 3, Size: 1, ASNEntropyBits: 0, ASNMaxPct: 5, Peers: []PeerInfo{peer("c", 0)}},
		}},
		stats: StatsResult{Self: ID(testID("self")), Ready: false, Missing: []string{"seeds"}, UptimeSecs: 3725, TableSize: 3,
			Store:    StoreStats{Records: 12, Keys: 5, Own: 2},
			Counters: map[string]uint64{"rpcs_in": 1234, "busy_rejections": 7}},
	}
}

// enter records a call and returns the error to answer, if any.
func (f *fakeBackend) enter(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	f.deadline, f.hasDeadline = ctx.Deadline()
	err, block := f.err, f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return fmt.Errorf("fake: %w", ctx.Err())
	}
	return err
}

func (f *fakeBackend) Provide(ctx context.Context, p ProvideParams) (ProvideResult, error) {
	f.mu.Lock()
	f.gotProvide = p
	f.mu.Unlock()
	return f.provide, f.enter(ctx)
}

func (f *fakeBackend) FindProviders(ctx context.Context, key kbucket.ID) (ProvidersResult, error) {
	f.mu.Lock()
	f.gotKey = key
	f.mu.Unlock()
	return f.providers, f.enter(ctx)
}

func (f *fakeBackend) FindClosest(ctx context.Context, target kbucket.ID) (ClosestResult, error) {
	f.mu.Lock()
	f.gotTarget = target
	f.mu.Unlock()
	return f.closest, f.enter(ctx)
}

func (f *fakeBackend) Ping(ctx context.Context, peer PeerRef) (PingResult, error) {
	f.mu.Lock()
	f.gotPeer = peer
	f.mu.Unlock()
	return f.ping, f.enter(ctx)
}

func (f *fakeBackend) Peers(ctx context.Context) (PeersResult, error) {
	return f.peers, f.enter(ctx)
}

func (f *fakeBackend) Stats(ctx context.Context) (StatsResult, error) {
	return f.stats, f.enter(ctx)
}

func (f *fakeBackend) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}
