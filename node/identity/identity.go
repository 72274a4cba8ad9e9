package identity

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/zeebo/blake3"

	"github.com/svc-dht/svc-dht/kbucket"
)

// SeedSize is the size of the seed each key is derived from: Ed25519
// (RFC 8032) and ML-DSA-87 (FIPS 204 ξ) both use 32 bytes.
const SeedSize = 32

// Key and signature sizes of the supported algorithms.
const (
	Ed25519PublicKeySize = ed25519.PublicKeySize // 32
	Ed25519SignatureSize = ed25519.SignatureSize // 64
	MLDSA87PublicKeySize = mldsa87.PublicKeySize // 2592
	MLDSA87SignatureSize = mldsa87.SignatureSize // 4627
)

// NodeIDFromPublicKey returns the NodeID of an Ed25519 public key:
// BLAKE3-256 of its 32 bytes. It hashes whatever it is given; callers that
// take keys from the network check the length first.
func NodeIDFromPublicKey(pk ed25519.PublicKey) kbucket.ID {
	return blake3.Sum256(pk)
}

// KeyFromBytes returns the content key of data: its BLAKE3-256 digest.
func KeyFromBytes(data []byte) kbucket.ID {
	return blake3.Sum256(data)
}

// KeyString renders a content key or NodeID for humans: "b3:" followed by
// 64 lowercase hex digits. kbucket.ParseID parses it back.
func KeyString(k kbucket.ID) string {
	var b [3 + 2*kbucket.IDLen]byte
	copy(b[:], "b3:")
	hex.Encode(b[3:], k[:])
	return string(b[:])
}

// Identity is a node's signing identity: an Ed25519 key, whose public key
// defines the NodeID, and optionally an ML-DSA-87 key for post-quantum
// dual signing. An Identity is immutable and safe for concurrent use.
// Its String, GoString and LogValue methods never reveal key material.
type Identity struct {
	edSeed [SeedSize]byte
	ed     ed25519.PrivateKey
	edPub  ed25519.PublicKey
	id     kbucket.ID

	hasPQ  bool
	pqSeed [SeedSize]byte
	pq     *mldsa87.PrivateKey
	pqPub  []byte // packed, MLDSA87PublicKeySize bytes
	pqHash kbucket.ID

	// deterministicPQ selects FIPS 204 deterministic ML-DSA signing
	// instead of the hedged (randomised) default.
	deterministicPQ bool
}

// Generate creates an identity from the randomness in r (crypto/rand.Reader
// in production; a seeded reader makes it deterministic in tests). It reads
// 32 bytes for the Ed25519 seed and, when withPQ is set, 32 more for the
// ML-DSA-87 seed.
func Generate(r io.Reader, withPQ bool) (*Identity, error) {
	if r == nil {
		return nil, errors.New("generate identity: nil random source")
	}
	var seeds [2 * SeedSize]byte
	n := SeedSize
	if withPQ {
		n = 2 * SeedSize
	}
	if _, err := io.ReadFull(r, seeds[:n]); err != nil {
		return nil, fmt.Errorf("generate identity: read seed: %w", err)
	}
	var pqSeed []byte
	if withPQ {
		pqSeed = seeds[SeedSize:]
	}
	return FromSeeds(seeds[:SeedSize], pqSeed)
}

// FromSeeds derives an identity from fixed seeds: edSeed is the 32-byte
// Ed25519 private seed; pqSeed is the 32-byte ML-DSA-87 seed, or nil for an
// identity without a post-quantum key. The same seeds always give the same
// keys.
func FromSeeds(edSeed, pqSeed []byte) (*Identity, error) {
	if len(edSeed) != SeedSize {
		return nil, fmt.Errorf("identity from seeds: ed25519 seed is %d bytes, want %d", len(edSeed), SeedSize)
	}
	if pqSeed != nil && len(pqSeed) != SeedSize {
		return nil, fmt.Errorf("identity from seeds: ml-dsa-87 seed is %d bytes, want %d", len(pqSeed), SeedSize)
	}
	id := &Identity{}
	copy(id.edSeed[:], edSeed)
	id.ed = ed25519.NewKeyFromSeed(edSeed)
	id.edPub = id.ed.Public().(ed25519.PublicKey)
	id.id = NodeIDFromPublicKey(id.edPub)
	if pqSeed != nil {
		id.hasPQ = true
		copy(id.pqSeed[:], pqSeed)
		pk, sk := mldsa87.NewKeyFromSeed(&id.pqSeed)
		id.pq = sk
		id.pqPub = pk.Bytes()
		id.pqHash = blake3.Sum256(id.pqPub)
	}
	return id, nil
}

// WithDeterministicPQ returns a copy of id whose ML-DSA-87 signatures use
// the deterministic variant of FIPS 204 (same key and message give the same
// signature), as byte-exact test vectors need. By default ML-DSA-87
// signing is hedged: fresh randomness from crypto/rand is mixed in.
// Ed25519 signatures are deterministic either way.
func (id *Identity) WithDeterministicPQ() *Identity {
	c := *id
	c.deterministicPQ = true
	return &c
}

// ID returns the NodeID: BLAKE3-256 of the Ed25519 public key.
func (id *Identity) ID() kbucket.ID { return id.id }

// PublicKey returns a copy of the Ed25519 public key.
func (id *Identity) PublicKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), id.edPub...)
}

// PrivateKey returns a copy of the Ed25519 private key, for the TLS
// certificate of the transport.
func (id *Identity) PrivateKey() ed25519.PrivateKey {
	return append(ed25519.PrivateKey(nil), id.ed...)
}

// HasPQ reports whether the identity holds an ML-DSA-87 key.
func (id *Identity) HasPQ() bool { return id.hasPQ }

// PQPublicKey returns a copy of the packed ML-DSA-87 public key, or nil
// when the identity has none.
func (id *Identity) PQPublicKey() []byte {
	if !id.hasPQ {
		return nil
	}
	return append([]byte(nil), id.pqPub...)
}

// PQKeyHash returns BLAKE3-256 of the packed ML-DSA-87 public key (the
// value declared in a record's signer list) and whether there is one.
func (id *Identity) PQKeyHash() (kbucket.ID, bool) { return id.pqHash, id.hasPQ }

// String describes the identity by its NodeID only.
func (id *Identity) String() string {
	if id.hasPQ {
		return "identity " + KeyString(id.id) + " (ed25519+ml-dsa-87)"
	}
	return "identity " + KeyString(id.id) + " (ed25519)"
}

// GoString keeps %#v from printing key material.
func (id *Identity) GoString() string { return id.String() }

// LogValue makes slog log the NodeID only, never the keys.
func (id *Identity) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("node_id", KeyString(id.id)),
		slog.Bool("pq", id.hasPQ),
	)
}
