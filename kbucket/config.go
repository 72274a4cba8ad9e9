package kbucket

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Limits of the configuration knobs (seed/PERFORMANCE.md §3).
const (
	MinK             = 16
	MaxK             = 32
	DefaultK         = 20
	MaxReplacement   = 128
	MinASNMaxPct     = 0.25
	MaxASNMaxPct     = 0.60
	MinASNEntropyMin = 1.0
	MaxASNEntropyMin = 2.0
	MaxFailThreshold = 16
)

// Config holds the routing-table knobs.
type Config struct {
	K                int           // bucket size, default 20, range 16-32
	ReplacementCache int           // per-bucket replacement cache size, default = K, range 0-128
	ASNMaxPct        float64       // 0.40: max share of a bucket's capacity (K) one ASN may hold, range 0.25-0.60
	ASNEntropyMin    float64       // 1.5 bits: below it a full bucket is flagged low-diversity, range 1.0-2.0
	ExemptPrivate    bool          // default true: loopback/private/link-local/ULA/CGNAT peers bypass ASN caps
	FailThreshold    int           // consecutive failed RPCs that evict an entry, default 2, range 1-16
	PingTimeout      time.Duration // a ping-before-evict not answered within it may be re-issued, default 5s
}

// DefaultConfig returns the defaults of SPEC §4 and seed/PERFORMANCE.md §3.
func DefaultConfig() Config {
	return Config{
		K:                DefaultK,
		ReplacementCache: DefaultK,
		ASNMaxPct:        0.40,
		ASNEntropyMin:    1.5,
		ExemptPrivate:    true,
		FailThreshold:    2,
		PingTimeout:      5 * time.Second,
	}
}

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("invalid kbucket config")

// Validate checks every knob against its documented range.
func (c Config) Validate() error {
	switch {
	case c.K < MinK || c.K > MaxK:
		return fmt.Errorf("%w: k = %d, want %d-%d", ErrConfig, c.K, MinK, MaxK)
	case c.ReplacementCache < 0 || c.ReplacementCache > MaxReplacement:
		return fmt.Errorf("%w: replacement cache = %d, want 0-%d", ErrConfig, c.ReplacementCache, MaxReplacement)
	case math.IsNaN(c.ASNMaxPct) || c.ASNMaxPct < MinASNMaxPct || c.ASNMaxPct > MaxASNMaxPct:
		return fmt.Errorf("%w: asn_max_pct = %v, want %v-%v", ErrConfig, c.ASNMaxPct, MinASNMaxPct, MaxASNMaxPct)
	case math.IsNaN(c.ASNEntropyMin) || c.ASNEntropyMin < MinASNEntropyMin || c.ASNEntropyMin > MaxASNEntropyMin:
		return fmt.Errorf("%w: asn_entropy_min = %v, want %v-%v", ErrConfig, c.ASNEntropyMin, MinASNEntropyMin, MaxASNEntropyMin)
	case c.FailThreshold < 1 || c.FailThreshold > MaxFailThreshold:
		return fmt.Errorf("%w: fail threshold = %d, want 1-%d", ErrConfig, c.FailThreshold, MaxFailThreshold)
	case c.PingTimeout <= 0:
		return fmt.Errorf("%w: ping timeout = %v, want > 0", ErrConfig, c.PingTimeout)
	}
	return nil
}

// GroupCap is the most entries one non-exempt group may hold in a bucket:
// floor(ASNMaxPct*K), at least 1.
func (c Config) GroupCap() int {
	// The epsilon absorbs binary rounding (0.3*30 must give 9, not 8).
	n := int(math.Floor(c.ASNMaxPct*float64(c.K) + 1e-9))
	return max(n, 1)
}
