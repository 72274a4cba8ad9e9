package api

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/seeds"
	"github.com/svc-dht/svc-dht/wire"
)

// ID is a NodeID or content key as the API writes it: "b3:<64 hex>" in
// JSON. Unmarshalling also accepts the bare 64 hex digits.
type ID kbucket.ID

// String renders the ID as "b3:<64 hex>".
func (id ID) String() string {
	b, _ := id.MarshalText()
	return string(b)
}

// MarshalText implements encoding.TextMarshaler: "b3:<64 hex>".
func (id ID) MarshalText() ([]byte, error) {
	b := make([]byte, 3+2*kbucket.IDLen)
	copy(b, "b3:")
	hex.Encode(b[3:], id[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler with kbucket.ParseID.
func (id *ID) UnmarshalText(b []byte) error {
	k, err := kbucket.ParseID(string(b))
	if err != nil {
		return err
	}
	*id = ID(k)
	return nil
}

// Millis is a duration written in JSON as a number of milliseconds, with up
// to microsecond precision (12.345).
type Millis time.Duration

// Duration returns m as a time.Duration.
func (m Millis) Duration() time.Duration { return time.Duration(m) }

// MarshalJSON writes m as fractional milliseconds, rounded to the microsecond.
func (m Millis) MarshalJSON() ([]byte, error) {
	us := time.Duration(m).Round(time.Microsecond) / time.Microsecond
	return strconv.AppendFloat(nil, float64(us)/1e3, 'f', -1, 64), nil
}

// UnmarshalJSON reads fractional milliseconds.
func (m *Millis) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("milliseconds: %w", err)
	}
	ns := math.Round(f * 1e6)
	if math.IsNaN(ns) || ns > math.MaxInt64 || ns < math.MinInt64 {
		return fmt.Errorf("milliseconds %s out of range", b)
	}
	*m = Millis(ns)
	return nil
}

// ProvideRequest is the body of POST /v1/provide: exactly one of Key and
// Data; Data is hashed (BLAKE3-256) by the node to give the key.
type ProvideRequest struct {
	Key   string   `json:"key,omitempty"`
	Data  string   `json:"data,omitempty"`
	Addrs []string `json:"addrs,omitempty"`
	TTL   string   `json:"ttl,omitempty"`
}

// PingRequest is the body of POST /v1/ping. An empty Peer pings the local
// node itself.
type PingRequest struct {
	Peer string `json:"peer,omitempty"`
}

// ProvideParams is a validated provide request, as the Backend receives it.
type ProvideParams struct {
	// Key is the content key to announce.
	Key kbucket.ID
	// Addrs are the canonical "quic://host:port" addresses to announce;
	// empty means the node's own advertised addresses.
	Addrs []string
	// TTL is the record's lifetime, whole seconds from MinTTL to MaxTTL;
	// 0 means the node's provider.ttl_secs.
	TTL time.Duration
}

// ProvideResult answers POST /v1/provide.
type ProvideResult struct {
	Key ID `json:"key"`
	// Replicas is the number of nodes that accepted the record.
	Replicas int `json:"replicas"`
	// Hops is the length of the lookup's discovery chain (SPEC §5).
	Hops    int    `json:"hops"`
	Latency Millis `json:"latency_ms"`
	// RPCs is the number of RPCs the operation sent: its lookup's, hedges
	// included, and the stores.
	RPCs int `json:"rpcs"`
	// DualSigned reports whether the record carries an ML-DSA-87 signature
	// besides the Ed25519 one.
	DualSigned bool `json:"dual_signed"`
}

// Provider is one provider record as the API shows it.
type Provider struct {
	Publisher ID       `json:"publisher"`
	Addrs     []string `json:"addrs"`
	// TTL is the record's lifetime in seconds, from TS.
	TTL uint32 `json:"ttl"`
	// TS is the record's signing time in unix seconds.
	TS int64 `json:"ts"`
	// Algs names the record's signature algorithms (AlgName).
	Algs []string `json:"algs"`
}

// ProviderFromRecord returns the API view of a provider record.
func ProviderFromRecord(rec *wire.ProviderRecord) Provider {
	p := Provider{
		Publisher: ID(rec.Publisher),
		Addrs:     append([]string(nil), rec.Addrs...),
		TTL:       rec.TTL,
		TS:        rec.TS,
		Algs:      make([]string, len(rec.Signers)),
	}
	for i := range rec.Signers {
		p.Algs[i] = AlgName(rec.Signers[i].Alg)
	}
	return p
}

// AlgName returns the configuration name of a signature algorithm
// ("ed25519", "ml-dsa-87"), or "alg(N)" for an unknown one.
func AlgName(a wire.Alg) string {
	switch a {
	case wire.AlgEd25519:
		return "ed25519"
	case wire.AlgMLDSA87:
		return "ml-dsa-87"
	}
	return "alg(" + strconv.Itoa(int(a)) + ")"
}

// ProvidersResult answers GET /v1/providers/{key}.
type ProvidersResult struct {
	Key       ID         `json:"key"`
	Providers []Provider `json:"providers"`
	Hops      int        `json:"hops"`
	Latency   Millis     `json:"latency_ms"`
	// RPCs is the number of RPCs the lookup sent, hedges included.
	RPCs int `json:"rpcs"`
}

// PeerInfo is one node as the API shows it.
type PeerInfo struct {
	ID    ID       `json:"id"`
	Addrs []string `json:"addrs"`
	// ASN is the ASN observed for the peer (0: unknown).
	ASN uint32 `json:"asn,omitempty"`
	// LastSeen is when the node last heard from the peer, unix seconds
	// (0: unknown).
	LastSeen int64 `json:"last_seen,omitempty"`
}

// ClosestResult answers GET /v1/closest/{id}.
type ClosestResult struct {
	Target  ID         `json:"target"`
	Peers   []PeerInfo `json:"peers"`
	Hops    int        `json:"hops"`
	Latency Millis     `json:"latency_ms"`
	// RPCs is the number of RPCs the lookup sent, hedges included.
	RPCs int `json:"rpcs"`
}

// PingResult answers POST /v1/ping.
type PingResult struct {
	// Peer is the NodeID the peer proved in its TLS handshake.
	Peer ID `json:"peer"`
	// Addr is the address that was dialed, if any.
	Addr string `json:"addr,omitempty"`
	RTT  Millis `json:"rtt_ms"`
	// Self is true when the local node answered a ping without a peer.
	Self bool `json:"self,omitempty"`
}

// Bucket summarises one non-empty routing-table bucket.
type Bucket struct {
	// Index is the bucket's common-prefix length with the local ID.
	Index int `json:"index"`
	// Size is len(Peers).
	Size int `json:"size"`
	// Replacements is the number of entries in the replacement cache.
	Replacements int `json:"replacements"`
	// ASNEntropyBits is the Shannon entropy of the bucket's ASN mix.
	ASNEntropyBits float64 `json:"asn_entropy_bits"`
	// ASNMaxPct is the share of the bucket's capacity held by its largest
	// ASN, in percent.
	ASNMaxPct float64    `json:"asn_max_pct"`
	Peers     []PeerInfo `json:"peers"`
}

// PeersResult answers GET /v1/peers: the routing table.
type PeersResult struct {
	Self ID `json:"self"`
	// K is the bucket capacity.
	K int `json:"k"`
	// Size is the number of entries in the table.
	Size int `json:"size"`
	// Buckets lists the non-empty buckets by ascending index.
	Buckets []Bucket `json:"buckets"`
}

// StoreStats gives the sizes of the provider store.
type StoreStats struct {
	// Records is the number of provider records held for other publishers.
	Records int `json:"records"`
	// Keys is the number of distinct keys among them.
	Keys int `json:"keys"`
	// Own is the number of records this node publishes and republishes.
	Own int `json:"own"`
}

// StatsResult answers GET /v1/stats.
type StatsResult struct {
	Self  ID   `json:"self"`
	Ready bool `json:"ready"`
	// Missing lists the readiness conditions not met yet (as /readyz).
	Missing    []string   `json:"missing,omitempty"`
	UptimeSecs int64      `json:"uptime_s"`
	TableSize  int        `json:"table_size"`
	Store      StoreStats `json:"store"`
	// Counters holds the node's counters by name (for example "rpcs_in",
	// "busy_rejections").
	Counters map[string]uint64 `json:"counters"`
}

// PeerRef names the peer of a ping: a NodeID, an address, or both.
// The zero PeerRef means the local node.
type PeerRef struct {
	// ID is the NodeID the peer must prove; meaningful when HasID.
	ID    kbucket.ID
	HasID bool
	// Addr is a canonical "quic://host:port", or empty to find the peer by
	// ID.
	Addr string
}

// IsZero reports whether p names the local node.
func (p PeerRef) IsZero() bool { return !p.HasID && p.Addr == "" }

// String renders p in the form ParsePeer accepts ("" for the local node).
func (p PeerRef) String() string {
	switch {
	case p.HasID && p.Addr != "":
		return ID(p.ID).String() + "@" + p.Addr
	case p.HasID:
		return ID(p.ID).String()
	}
	return p.Addr
}

// ParsePeer parses "<id>", "quic://host:port" or "<id>@quic://host:port";
// ids are 64 hex digits with an optional "b3:" prefix. The empty string is
// the local node.
func ParsePeer(s string) (PeerRef, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return PeerRef{}, nil
	}
	if strings.Contains(s, "://") || strings.Contains(s, "@") {
		sd, err := seeds.Parse(s)
		if err != nil {
			return PeerRef{}, fmt.Errorf("peer: %w", err)
		}
		return PeerRef{ID: sd.ID, HasID: sd.Pinned, Addr: sd.Addr}, nil
	}
	id, err := kbucket.ParseID(s)
	if err != nil {
		return PeerRef{}, fmt.Errorf("peer: %w", err)
	}
	return PeerRef{ID: id, HasID: true}, nil
}

// Limits of a provide request.
const (
	MinTTL   = time.Minute
	MaxTTL   = 48 * time.Hour
	MaxAddrs = 16
)

// ParseTTL parses a provide ttl: a Go duration ("24h", "90m") or a bare
// number of seconds, whole seconds from MinTTL to MaxTTL.
func ParseTTL(s string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else {
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("ttl %q: want a duration such as 24h or a number of seconds", s)
		}
	}
	switch {
	case d < MinTTL:
		return 0, fmt.Errorf("ttl %q: below the minimum %v", s, MinTTL)
	case d > MaxTTL:
		return 0, fmt.Errorf("ttl %q: above the maximum %v", s, MaxTTL)
	case d%time.Second != 0:
		return 0, fmt.Errorf("ttl %q: not a whole number of seconds", s)
	}
	return d, nil
}

// ParseAddr parses a provider address "quic://host:port" and returns its
// canonical form; a pinned "<id>@" prefix is refused.
func ParseAddr(s string) (string, error) {
	sd, err := seeds.Parse(s)
	if err != nil {
		return "", fmt.Errorf("addr: %w", err)
	}
	if sd.Pinned {
		return "", fmt.Errorf("addr %q: a provider address takes no id@ prefix", s)
	}
	return sd.Addr, nil
}
