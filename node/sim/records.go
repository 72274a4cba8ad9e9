package sim

import (
	"fmt"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/wire"
)

// simSig is the marker signature of records signed by Signer.
const simSig = "sim-signature"

// Signer signs provider records for the simulator without cryptography: it
// sets the publisher and a marker signature that Verifier accepts. It keeps
// the simulator fast; pass a real identity-based signer and verifier
// through NodeOptions.Core / Config.Verifier to exercise the real checks.
type Signer struct{ ID kbucket.ID }

var _ core.RecordSigner = Signer{}

// SignRecord implements core.RecordSigner.
func (s Signer) SignRecord(rec *wire.ProviderRecord) error {
	rec.Publisher = s.ID
	rec.Signers = []wire.Signer{{Alg: wire.AlgEd25519, KeyHash: s.ID}}
	rec.Sigs = []wire.Signature{{Alg: wire.AlgEd25519, Sig: []byte(simSig)}}
	return nil
}

// Verifier is the structural counterpart of Signer: it requires the marker
// signature and declared signer, and applies SPEC §3's freshness rules (ts
// at most 5 min in the future, ts+ttl after now, ttl at most 48 h).
type Verifier struct{}

var _ core.RecordVerifier = Verifier{}

// Verify implements core.RecordVerifier.
func (Verifier) Verify(rec *wire.ProviderRecord, now time.Time) error {
	if len(rec.Sigs) != 1 || string(rec.Sigs[0].Sig) != simSig ||
		len(rec.Signers) != 1 || rec.Signers[0].KeyHash != rec.Publisher {
		return fmt.Errorf("sim verifier: %w", wire.ErrBadSignature)
	}
	ts := time.Unix(rec.TS, 0)
	ttl := time.Duration(rec.TTL) * time.Second
	switch {
	case ts.After(now.Add(5 * time.Minute)):
		return fmt.Errorf("sim verifier: ts in the future: %w", wire.ErrStaleRecord)
	case ttl > core.MaxProviderTTL:
		return fmt.Errorf("sim verifier: ttl over 48h: %w", wire.ErrStaleRecord)
	case !ts.Add(ttl).After(now):
		return fmt.Errorf("sim verifier: expired: %w", wire.ErrStaleRecord)
	}
	return nil
}
