package config

import (
	"log/slog"
	"path/filepath"
	"slices"
	"time"
)

// Profile selects a set of defaults.
type Profile string

// The profiles. Micronode is the default.
const (
	Micronode Profile = "micronode" // lean: small caps, amnesia on
	Macronode Profile = "macronode" // servers: larger caps, state persisted
)

// Signature algorithm names of pq.algorithms.
const (
	algEd25519 = "ed25519"
	algMLDSA87 = "ml-dsa-87"
)

// DefaultKeyFileName is the key file's name inside data_dir when key_file
// is empty.
const DefaultKeyFileName = "node.key"

// Config is the daemon's configuration. The toml tag path of each field is
// its key; what each key means, its defaults, range and whether it can be
// reloaded are in the key table (Keys, rendered in docs/CONFIG.md). Build a
// Config with Load, Defaults or Reload; a Config is not modified after
// that, so it may be shared between goroutines.
type Config struct {
	Profile               Profile       `toml:"profile"`
	ListenAddr            string        `toml:"listen_addr"`
	AdvertiseAddrs        []string      `toml:"advertise_addrs"`
	OpsAddr               string        `toml:"ops_addr"`
	DataDir               string        `toml:"data_dir"`
	KeyFile               string        `toml:"key_file"`
	Alpha                 int           `toml:"alpha"`
	Beta                  int           `toml:"beta"`
	K                     int           `toml:"k"`
	HopBudget             int           `toml:"hop_budget"`
	RPCTimeout            time.Duration `toml:"rpc_timeout"`
	HedgeAfter            time.Duration `toml:"hedge_after"`
	BucketRefreshInterval time.Duration `toml:"bucket_refresh_interval"`
	FrameMax              Size          `toml:"frame_max"`
	ChunkSize             Size          `toml:"chunk_size"`
	MaxConns              int           `toml:"max_conns"`
	ConnIdleTimeout       time.Duration `toml:"conn_idle_timeout"`
	HappyEyeballsDelay    time.Duration `toml:"happy_eyeballs_delay"`
	EventLoops            int           `toml:"event_loops"`
	ShutdownTimeout       time.Duration `toml:"shutdown_timeout"`

	QueueCap  QueueCap  `toml:"queue_cap"`
	Limits    Limits    `toml:"limits"`
	Provider  Provider  `toml:"provider"`
	Bootstrap Bootstrap `toml:"bootstrap"`
	Diversity Diversity `toml:"diversity"`
	PQ        PQ        `toml:"pq"`
	Amnesia   Amnesia   `toml:"amnesia"`
	Log       Log       `toml:"log"`
	Store     Store     `toml:"store"`
	Runtime   Runtime   `toml:"runtime"`
}

// QueueCap holds the bounded queue depths (queue_cap.*).
type QueueCap struct {
	Work int `toml:"work"`
}

// Limits holds the inbound quotas checked before any heavy work (limits.*).
type Limits struct {
	MaxRPS      int `toml:"max_rps"`
	PeerRPS     int `toml:"peer_rps"`
	MaxInflight int `toml:"max_inflight"`
}

// Provider holds the provider-record lifetimes and store bounds (provider.*).
type Provider struct {
	TTL             time.Duration `toml:"ttl_secs"`
	Refresh         time.Duration `toml:"refresh_secs"`
	MaxRecordBytes  Size          `toml:"max_record_bytes"`
	MaxPerKey       int           `toml:"max_per_key"`
	MaxPerPublisher int           `toml:"max_per_publisher"`
	MaxTotal        int           `toml:"max_total"`
}

// Bootstrap holds the seeds and the readiness rule (bootstrap.*).
type Bootstrap struct {
	Seeds              []string      `toml:"seeds"`
	UseDefaultSeeds    bool          `toml:"use_default_seeds"`
	Required           int           `toml:"required"`
	ReadyBucketFillPct float64       `toml:"ready_bucket_fill_pct"`
	Timeout            time.Duration `toml:"timeout"`
}

// Diversity holds the routing table's anti-eclipse knobs (diversity.*).
type Diversity struct {
	ASNMaxPct     float64 `toml:"asn_max_pct"`
	ASNEntropyMin float64 `toml:"asn_entropy_min"`
	ExemptPrivate bool    `toml:"exempt_private"`
	ASNDB         string  `toml:"asn_db"`
}

// PQ holds the post-quantum policy (pq.*).
type PQ struct {
	DualSign    bool     `toml:"dual_sign"`
	Algorithms  []string `toml:"algorithms"`
	RequirePQOn string   `toml:"require_pq_on"`
	Enforce     bool     `toml:"enforce"`
	HybridKEX   bool     `toml:"hybrid_kex"`
}

// Amnesia holds the RAM-only switch (amnesia.*).
type Amnesia struct {
	Enabled bool `toml:"enabled"`
}

// Log holds the logging settings (log.*).
type Log struct {
	Format string `toml:"format"`
	Level  string `toml:"level"`
}

// Store holds the feature gate of the STORE operation (store.*).
type Store struct {
	Enabled bool `toml:"enabled"`
}

// Runtime holds the Go runtime settings the daemon applies at start
// (runtime.*).
type Runtime struct {
	MaxProcs int `toml:"max_procs"`
}

// Defaults returns the defaults of profile p, unvalidated (the micronode
// defaults are valid; the macronode ones need a data_dir).
func Defaults(p Profile) (*Config, error) {
	if p != Micronode && p != Macronode {
		return nil, &ValidationError{Problems: []Problem{{Key: "profile", Value: tomlString(string(p)),
			Reason: "must be one of " + string(Micronode) + ", " + string(Macronode)}}}
	}
	return defaults(p), nil
}

func defaults(p Profile) *Config {
	c := new(Config)
	for i := range table {
		k := &table[i]
		if err := k.setText(c, k.DefaultFor(p)); err != nil {
			panic("config: default of " + k.Name + ": " + err.Error()) // checked by buildTable
		}
	}
	return c
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	n := *c
	n.AdvertiseAddrs = slices.Clone(c.AdvertiseAddrs)
	n.Bootstrap.Seeds = slices.Clone(c.Bootstrap.Seeds)
	n.PQ.Algorithms = slices.Clone(c.PQ.Algorithms)
	return &n
}

// Validate checks every key against its range and rules and returns a
// *ValidationError listing every problem, or nil.
func (c *Config) Validate() error {
	var ps problems
	validate(c, &ps, nil, nil)
	return ps.err()
}

// KeyFilePath is where the identity key is kept: key_file, else node.key in
// data_dir; "" in amnesia mode.
func (c *Config) KeyFilePath() string {
	switch {
	case c.Amnesia.Enabled:
		return ""
	case c.KeyFile != "":
		return c.KeyFile
	case c.DataDir != "":
		return filepath.Join(c.DataDir, DefaultKeyFileName)
	}
	return ""
}

// HasAlgorithm reports whether pq.algorithms lists alg.
func (p PQ) HasAlgorithm(alg string) bool { return slices.Contains(p.Algorithms, alg) }

// RequireDate is pq.require_pq_on as a UTC midnight; ok is false when the
// key is empty (or, in an unvalidated Config, malformed).
func (p PQ) RequireDate() (t time.Time, ok bool) {
	t, err := time.Parse(time.DateOnly, p.RequirePQOn)
	return t, err == nil
}

// SlogLevel is log.level as a slog.Level.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
