package identity

import (
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/zeebo/blake3"

	"github.com/svc-dht/svc-dht/wire"
)

// Protocol limits of SPEC §3 that a Policy may tighten but not loosen.
const (
	// MaxTTL is the longest lifetime a record may declare.
	MaxTTL = 48 * time.Hour
	// DefaultMaxFutureSkew is how far in the future a record's ts may be.
	DefaultMaxFutureSkew = 5 * time.Minute
	// DefaultMaxRecordBytes is the default provider.max_record_bytes: the
	// largest encoded record (ProviderRecord.EncodedSize) accepted. A
	// dual-signed record without addresses takes 7498 bytes with present-day
	// timestamps (the ML-DSA-87 key and signature alone are 7219), so 8 KiB
	// leaves 694 bytes for addresses: a dozen 54-byte quic://[IPv6]:port
	// entries. An Ed25519-only record takes about 280 bytes.
	DefaultMaxRecordBytes = 8 << 10
)

// Policy configures record verification.
type Policy struct {
	// MaxTTL bounds a record's ttl (1441 above it); 0 < MaxTTL <= 48h.
	// Whole seconds count.
	MaxTTL time.Duration
	// MaxFutureSkew bounds how far a record's ts may lie ahead of now
	// (1441 beyond it); 0 <= MaxFutureSkew <= 1h. Whole seconds count.
	MaxFutureSkew time.Duration
	// MaxRecordBytes bounds a record's encoded size (1413 above it):
	// provider.max_record_bytes.
	MaxRecordBytes int
	// RequirePQOn is pq.require_pq_on: from this instant on, records
	// without an ML-DSA-87 signature are reported (VerifyInfo.PQOverdue).
	// The zero time means never.
	RequirePQOn time.Time
	// Enforce (pq.enforce) rejects overdue classical-only records with 1440
	// instead of only reporting them.
	Enforce bool
	// AllowedAlgs (pq.algorithms) lists the signature algorithms accepted;
	// a record declaring any other is rejected with 1440. It must include
	// wire.AlgEd25519. Nil means all supported algorithms.
	AllowedAlgs []wire.Alg
}

// DefaultPolicy returns the protocol defaults: ttl up to 48 h, 5 min future
// skew, 8 KiB records, both algorithms, no PQ deadline.
func DefaultPolicy() Policy {
	return Policy{
		MaxTTL:         MaxTTL,
		MaxFutureSkew:  DefaultMaxFutureSkew,
		MaxRecordBytes: DefaultMaxRecordBytes,
	}
}

// algBit maps a supported algorithm to its bit in a set; 0 if unsupported.
func algBit(a wire.Alg) uint8 {
	switch a {
	case wire.AlgEd25519:
		return 1
	case wire.AlgMLDSA87:
		return 2
	}
	return 0
}

// minDualRecordBytes is the encoded size of a dual-signed record without
// addresses, with a 24 h ttl and a present-day ts (7498 bytes).
func minDualRecordBytes() int {
	r := wire.ProviderRecord{
		ProtoVer: wire.ProtoVersion,
		TTL:      24 * 3600,
		TS:       1 << 31,
		Signers:  make([]wire.Signer, 2),
		Sigs: []wire.Signature{
			{Alg: wire.AlgEd25519, PublicKey: make([]byte, Ed25519PublicKeySize), Sig: make([]byte, Ed25519SignatureSize)},
			{Alg: wire.AlgMLDSA87, PublicKey: make([]byte, MLDSA87PublicKeySize), Sig: make([]byte, MLDSA87SignatureSize)},
		},
	}
	return r.EncodedSize()
}

// Validate checks the policy's ranges.
func (p *Policy) Validate() error {
	if p.MaxTTL < time.Second || p.MaxTTL > MaxTTL {
		return fmt.Errorf("policy: max ttl %v outside [1s, %v]", p.MaxTTL, MaxTTL)
	}
	if p.MaxFutureSkew < 0 || p.MaxFutureSkew > time.Hour {
		return fmt.Errorf("policy: max future skew %v outside [0, 1h]", p.MaxFutureSkew)
	}
	if p.MaxRecordBytes < 256 || p.MaxRecordBytes > wire.FrameMax {
		return fmt.Errorf("policy: max record bytes %d outside [256, %d]", p.MaxRecordBytes, wire.FrameMax)
	}
	allowed := p.allowed()
	for _, a := range p.AllowedAlgs {
		if algBit(a) == 0 {
			return fmt.Errorf("policy: unsupported signature algorithm %d", a)
		}
	}
	if allowed&algBit(wire.AlgEd25519) == 0 {
		return fmt.Errorf("policy: allowed algorithms must include ed25519 (%d)", wire.AlgEd25519)
	}
	pq := allowed&algBit(wire.AlgMLDSA87) != 0
	if p.Enforce && !p.RequirePQOn.IsZero() && !pq {
		return fmt.Errorf("policy: pq enforcement needs ml-dsa-87 (%d) among the allowed algorithms", wire.AlgMLDSA87)
	}
	if min := minDualRecordBytes(); pq && p.MaxRecordBytes < min {
		return fmt.Errorf("policy: max record bytes %d cannot hold a dual-signed record (%d bytes)", p.MaxRecordBytes, min)
	}
	return nil
}

func (p *Policy) allowed() uint8 {
	if p.AllowedAlgs == nil {
		return algBit(wire.AlgEd25519) | algBit(wire.AlgMLDSA87)
	}
	var s uint8
	for _, a := range p.AllowedAlgs {
		s |= algBit(a)
	}
	return s
}

// VerifyInfo reports what verification learnt about a record, for metrics.
// It is filled as far as verification got, also when it fails.
type VerifyInfo struct {
	// ClassicalOnly: the record declares no post-quantum (ML-DSA-87) signer.
	ClassicalOnly bool
	// PQOverdue: the record is classical-only and now is at or after the
	// policy's RequirePQOn. The caller counts it in pq_classical_only_total
	// and warns; with Policy.Enforce the record is also rejected.
	PQOverdue bool
	// FailedAlg is the algorithm of the signature or signer entry that made
	// verification fail (pq_verify_fail_total{alg}); 0 if none did. It may
	// be a value outside the supported set when the record declared one.
	FailedAlg wire.Alg
}

// Verifier checks a received provider record at time now. A nil error
// means the record may be stored or used; otherwise the error carries the
// wire code to answer with (see the package documentation).
type Verifier interface {
	Verify(rec *wire.ProviderRecord, now time.Time) (VerifyInfo, error)
}

// RecordVerifier is the default Verifier: it applies a Policy and checks
// every signature. It is safe for concurrent use.
type RecordVerifier struct {
	maxTTL   int64 // seconds
	skew     int64 // seconds
	maxBytes int
	pqOn     time.Time
	enforce  bool
	allowed  uint8

	msgs sync.Pool // *[]byte signed-message buffers
}

var _ Verifier = (*RecordVerifier)(nil)

// NewVerifier returns a RecordVerifier applying p, after validating it.
func NewVerifier(p Policy) (*RecordVerifier, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("new verifier: %w", err)
	}
	return &RecordVerifier{
		maxTTL:   int64(p.MaxTTL / time.Second),
		skew:     int64(p.MaxFutureSkew / time.Second),
		maxBytes: p.MaxRecordBytes,
		pqOn:     p.RequirePQOn,
		enforce:  p.Enforce,
		allowed:  p.allowed(),
	}, nil
}

// Verify checks rec at time now, cheapest checks first: size (1413),
// structure (1422), lifetime (1441), signer and signature lists, key hashes
// and publisher (1440), the PQ policy (1440 when enforced), the Ed25519 and
// ML-DSA-87 signatures (1440), and last proto_ver (1400).
func (v *RecordVerifier) Verify(rec *wire.ProviderRecord, now time.Time) (VerifyInfo, error) {
	var info VerifyInfo
	if rec == nil {
		return info, reject(wire.CodeMalformed, "nil record")
	}
	if n := rec.EncodedSize(); n > v.maxBytes {
		return info, reject(wire.CodeFrameTooLarge, "record is %d bytes, limit %d", n, v.maxBytes)
	}
	if rec.TTL == 0 {
		return info, reject(wire.CodeMalformed, "ttl is 0")
	}

	// Lifetime, in whole seconds. now.Unix() rounds down, which keeps both
	// comparisons exact for integral ts and ttl.
	nowS := now.Unix()
	ttl := int64(rec.TTL)
	if ttl > v.maxTTL {
		return info, reject(wire.CodeStaleRecord, "ttl %ds exceeds %ds", ttl, v.maxTTL)
	}
	if rec.TS > nowS+v.skew {
		return info, reject(wire.CodeStaleRecord, "ts %d is more than %ds ahead of now %d", rec.TS, v.skew, nowS)
	}
	if rec.TS+ttl <= nowS { // no overflow: ts <= now+skew and 0 < ttl <= 48h
		return info, reject(wire.CodeStaleRecord, "expired at %d, now %d", rec.TS+ttl, nowS)
	}

	// Signer list: known, allowed, distinct algorithms; Ed25519 present.
	var declared uint8
	for i := range rec.Signers {
		a := rec.Signers[i].Alg
		bit := algBit(a)
		switch {
		case bit == 0:
			info.FailedAlg = a
			return info, reject(wire.CodeBadSignature, "signer %d: unknown algorithm %d", i, a)
		case bit&v.allowed == 0:
			info.FailedAlg = a
			return info, reject(wire.CodeBadSignature, "signer %d: algorithm %d not allowed", i, a)
		case bit&declared != 0:
			info.FailedAlg = a
			return info, reject(wire.CodeBadSignature, "signer %d: algorithm %d declared twice", i, a)
		}
		declared |= bit
	}
	if declared&algBit(wire.AlgEd25519) == 0 {
		return info, reject(wire.CodeBadSignature, "no ed25519 signer")
	}
	info.ClassicalOnly = declared&algBit(wire.AlgMLDSA87) == 0
	info.PQOverdue = info.ClassicalOnly && !v.pqOn.IsZero() && !now.Before(v.pqOn)

	// Signatures: exactly one per declared signer, none undeclared, each
	// with a key of the right length hashing to the declared hash.
	var ed, pq *wire.Signature
	var edHash *[wire.IDLen]byte
	for i := range rec.Signers {
		s := &rec.Signers[i]
		var sig *wire.Signature
		for j := range rec.Sigs {
			if rec.Sigs[j].Alg == s.Alg {
				if sig != nil {
					info.FailedAlg = s.Alg
					return info, reject(wire.CodeBadSignature, "two signatures of algorithm %d", s.Alg)
				}
				sig = &rec.Sigs[j]
			}
		}
		if sig == nil {
			info.FailedAlg = s.Alg
			return info, reject(wire.CodeBadSignature, "missing signature of algorithm %d", s.Alg)
		}
		pkLen, sigLen := Ed25519PublicKeySize, Ed25519SignatureSize
		if s.Alg == wire.AlgMLDSA87 {
			pkLen, sigLen = MLDSA87PublicKeySize, MLDSA87SignatureSize
		}
		if len(sig.PublicKey) != pkLen || len(sig.Sig) != sigLen {
			info.FailedAlg = s.Alg
			return info, reject(wire.CodeBadSignature, "algorithm %d: key %d bytes, signature %d bytes, want %d and %d",
				s.Alg, len(sig.PublicKey), len(sig.Sig), pkLen, sigLen)
		}
		if blake3.Sum256(sig.PublicKey) != s.KeyHash {
			info.FailedAlg = s.Alg
			return info, reject(wire.CodeBadSignature, "algorithm %d: public key does not match the declared hash", s.Alg)
		}
		if s.Alg == wire.AlgEd25519 {
			ed, edHash = sig, &s.KeyHash
		} else {
			pq = sig
		}
	}
	if len(rec.Sigs) != len(rec.Signers) {
		for j := range rec.Sigs {
			if algBit(rec.Sigs[j].Alg)&declared == 0 {
				info.FailedAlg = rec.Sigs[j].Alg
				break
			}
		}
		return info, reject(wire.CodeBadSignature, "%d signatures for %d signers", len(rec.Sigs), len(rec.Signers))
	}
	if rec.Publisher != *edHash { // edHash == BLAKE3(ed.PublicKey), checked above
		info.FailedAlg = wire.AlgEd25519
		return info, reject(wire.CodeBadSignature, "publisher is not BLAKE3 of the ed25519 key")
	}
	if info.PQOverdue && v.enforce {
		return info, reject(wire.CodeBadSignature, "classical-only record after require_pq_on %s", v.pqOn.UTC().Format(time.RFC3339))
	}

	// Cryptography last.
	bp := v.getBuf(rec.SignedMessageSize())
	defer v.msgs.Put(bp)
	msg, err := rec.SignedMessage((*bp)[:0])
	*bp = msg[:0]
	if err != nil {
		return info, reject(wire.CodeMalformed, "signed message: %v", err)
	}
	if !ed25519.Verify(ed.PublicKey, msg, ed.Sig) {
		info.FailedAlg = wire.AlgEd25519
		return info, reject(wire.CodeBadSignature, "ed25519 signature does not verify")
	}
	if pq != nil {
		var pk mldsa87.PublicKey
		if err := pk.UnmarshalBinary(pq.PublicKey); err != nil {
			info.FailedAlg = wire.AlgMLDSA87
			return info, reject(wire.CodeBadSignature, "ml-dsa-87 public key: %v", err)
		}
		if !mldsa87.Verify(&pk, msg, nil, pq.Sig) {
			info.FailedAlg = wire.AlgMLDSA87
			return info, reject(wire.CodeBadSignature, "ml-dsa-87 signature does not verify")
		}
	}
	// proto_ver is signed, so it is checked once the signatures hold: a
	// tampered proto_ver is a bad signature, a signed foreign one is 1400.
	if rec.ProtoVer != wire.ProtoVersion {
		return info, reject(wire.CodeBadVersion, "proto_ver %d, want %d", rec.ProtoVer, wire.ProtoVersion)
	}
	return info, nil
}

func (v *RecordVerifier) getBuf(n int) *[]byte {
	if bp, ok := v.msgs.Get().(*[]byte); ok && cap(*bp) >= n {
		return bp
	}
	b := make([]byte, 0, max(n, 512))
	return &b
}
