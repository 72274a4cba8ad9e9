package core

import (
	"errors"
	"fmt"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
)

// Config holds the protocol knobs of a core. The defaults (DefaultConfig) are
// those of seed/PERFORMANCE.md §3 and SPEC §5-7; Validate checks every knob
// against its documented range.
type Config struct {
	// Lookups (SPEC §5).
	K          int           // result-set size and bucket width, default 20, range 16-32
	Alpha      int           // parallel probes per lookup, default 3, range 1-8
	Beta       int           // hedged probes per slow probe, default 1, range 0-4
	HopBudget  int           // deepest discovery chain queried, default 5, range 3-8
	RPCTimeout time.Duration // per-probe deadline, default 1500ms, range 800ms-2500ms
	HedgeAfter time.Duration // silence before hedging a probe, default 250ms, range 100-600ms
	// LookupMaxRPCs caps the probes one lookup may send (hedges included),
	// a guard against hostile responders feeding endless fake candidates.
	// Default 10*K; range K..100*K.
	LookupMaxRPCs int
	// MaxLookups caps concurrently running lookups started by the caller
	// (internal refresh/republish lookups included). Over it, a new lookup
	// is refused with a 1429 QuotaHit{"lookups"}. Default 256, 0 = no cap.
	MaxLookups int

	// EvictPingMinAge: a full bucket's least-recently-seen entry is pinged
	// before eviction only when it has been silent for at least this long;
	// a fresher entry is known to be alive and simply stays (the newcomer
	// waits in the replacement cache). It stops ping cascades in busy
	// networks, where every inbound request from a newcomer would
	// otherwise ping someone. Default 1m, range 0 (always ping) to 10m.
	EvictPingMinAge time.Duration

	// Routing table maintenance (SPEC §4). Buckets not used for
	// BucketRefreshInterval are refreshed by a lookup of a random ID in their
	// range (only buckets populatable at the estimated network size); the
	// core checks for them every BucketRefreshInterval/8 and refreshes a few
	// per check (see the package documentation).
	BucketRefreshInterval time.Duration // default 30s, range 10s-120s

	// Providers (SPEC §6).
	ProviderTTL     time.Duration // ttl of records this node publishes, default 24h, max 48h
	ProviderRefresh time.Duration // republish period of own records, default 12h, < ProviderTTL
	// ProviderEnough is how many distinct valid provider records end a
	// FIND_VALUE lookup early. Default 1.
	ProviderEnough       int
	StoreMaxPerKey       int           // records kept per key, default 64
	StoreMaxPerPublisher int           // records kept per publisher, default 1024
	StoreMaxTotal        int           // records kept in total, default 65536
	SweepInterval        time.Duration // expiry sweep period, default 1m

	// STORE (feature-gated, off by default). When off, STORE is answered
	// with 1404 NotFound. When on, a value is accepted only when its key is
	// BLAKE3-256(value) (content addressed), within the size bounds.
	EnableStore        bool
	StoreMaxValueBytes int           // default 64 KiB
	StoreMaxTotalBytes int           // default 16 MiB
	StoreValueTTL      time.Duration // default 24h

	// Inbound quotas (SPEC §7), checked before any heavy work; over them a
	// request is answered with 1429 QuotaExceeded. Rates are requests per
	// second with a burst allowance; 0 disables a limit.
	MaxRPS          float64 // all peers together, default 0 (the runtime's queue bounds load)
	MaxBurst        int     // default 2*MaxRPS
	PeerRPS         float64 // per peer, default 200
	PeerBurst       int     // default 400
	MaxTrackedPeers int     // per-peer limiter entries, default 4096; over it new peers get 1429

	// Addrs are the quic:// addresses this node advertises in PING replies.
	Addrs []string

	// Table configures the routing table. Table.K must equal K (New copies K
	// into it when Table.K is zero).
	Table kbucket.Config
}

// DefaultConfig returns the defaults of seed/PERFORMANCE.md §3 and SPEC §5-7.
func DefaultConfig() Config {
	return Config{
		K:                     20,
		Alpha:                 3,
		Beta:                  1,
		HopBudget:             5,
		RPCTimeout:            1500 * time.Millisecond,
		HedgeAfter:            250 * time.Millisecond,
		LookupMaxRPCs:         200,
		MaxLookups:            256,
		EvictPingMinAge:       time.Minute,
		BucketRefreshInterval: 30 * time.Second,
		ProviderTTL:           24 * time.Hour,
		ProviderRefresh:       12 * time.Hour,
		ProviderEnough:        1,
		StoreMaxPerKey:        64,
		StoreMaxPerPublisher:  1024,
		StoreMaxTotal:         65536,
		SweepInterval:         time.Minute,
		StoreMaxValueBytes:    64 << 10,
		StoreMaxTotalBytes:    16 << 20,
		StoreValueTTL:         24 * time.Hour,
		PeerRPS:               200,
		PeerBurst:             400,
		MaxTrackedPeers:       4096,
		Table:                 kbucket.DefaultConfig(),
	}
}

// MaxProviderTTL is the largest ttl a provider record may carry (SPEC §3).
const MaxProviderTTL = 48 * time.Hour

// maxBeta bounds Beta so that a hedge group fits a fixed array.
const maxBeta = 4

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("invalid core config")

// Validate checks every knob against its documented range.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	switch {
	case c.K < kbucket.MinK || c.K > kbucket.MaxK:
		return bad("k = %d, want %d-%d", c.K, kbucket.MinK, kbucket.MaxK)
	case c.Alpha < 1 || c.Alpha > 8:
		return bad("alpha = %d, want 1-8", c.Alpha)
	case c.Beta < 0 || c.Beta > maxBeta:
		return bad("beta = %d, want 0-%d", c.Beta, maxBeta)
	case c.HopBudget < 3 || c.HopBudget > 8:
		return bad("hop_budget = %d, want 3-8", c.HopBudget)
	case c.RPCTimeout < 800*time.Millisecond || c.RPCTimeout > 2500*time.Millisecond:
		return bad("rpc_timeout = %v, want 800ms-2500ms", c.RPCTimeout)
	case c.HedgeAfter < 100*time.Millisecond || c.HedgeAfter > 600*time.Millisecond:
		return bad("hedge_after = %v, want 100ms-600ms", c.HedgeAfter)
	case c.LookupMaxRPCs < c.K || c.LookupMaxRPCs > 100*c.K:
		return bad("lookup_max_rpcs = %d, want %d-%d", c.LookupMaxRPCs, c.K, 100*c.K)
	case c.MaxLookups < 0:
		return bad("max_lookups = %d, want >= 0", c.MaxLookups)
	case c.EvictPingMinAge < 0 || c.EvictPingMinAge > 10*time.Minute:
		return bad("evict_ping_min_age = %v, want 0-10m", c.EvictPingMinAge)
	case c.BucketRefreshInterval < 10*time.Second || c.BucketRefreshInterval > 120*time.Second:
		return bad("bucket_refresh_interval = %v, want 10s-120s", c.BucketRefreshInterval)
	case c.ProviderTTL < time.Minute || c.ProviderTTL > MaxProviderTTL:
		return bad("provider.ttl_secs = %v, want 1m-48h", c.ProviderTTL)
	case c.ProviderRefresh < time.Minute || c.ProviderRefresh >= c.ProviderTTL:
		return bad("provider.refresh_secs = %v, want >= 1m and < ttl %v", c.ProviderRefresh, c.ProviderTTL)
	case c.ProviderEnough < 1:
		return bad("provider.enough = %d, want >= 1", c.ProviderEnough)
	case c.StoreMaxPerKey < 1, c.StoreMaxPerPublisher < 1, c.StoreMaxTotal < 1:
		return bad("provider store bounds (%d per key, %d per publisher, %d total) must be >= 1",
			c.StoreMaxPerKey, c.StoreMaxPerPublisher, c.StoreMaxTotal)
	case c.SweepInterval < time.Second:
		return bad("provider.sweep_interval = %v, want >= 1s", c.SweepInterval)
	case c.EnableStore && (c.StoreMaxValueBytes < 1 || c.StoreMaxTotalBytes < c.StoreMaxValueBytes || c.StoreValueTTL <= 0):
		return bad("store bounds (%d value bytes, %d total bytes, ttl %v) invalid",
			c.StoreMaxValueBytes, c.StoreMaxTotalBytes, c.StoreValueTTL)
	case c.MaxRPS < 0 || c.PeerRPS < 0 || c.MaxBurst < 0 || c.PeerBurst < 0:
		return bad("rate limits must be >= 0 (max_rps %v, peer_rps %v)", c.MaxRPS, c.PeerRPS)
	case c.PeerRPS > 0 && c.MaxTrackedPeers < 1:
		return bad("max_tracked_peers = %d, want >= 1 when peer_rps is set", c.MaxTrackedPeers)
	case c.Table.K != 0 && c.Table.K != c.K:
		return bad("table k = %d differs from k = %d", c.Table.K, c.K)
	}
	t := c.Table
	if t.K == 0 {
		t.K = c.K
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("core config: %w", err)
	}
	return nil
}
