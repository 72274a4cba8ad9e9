package identity

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/svc-dht/svc-dht/wire"
)

// Sign signs rec with id. The caller fills Key, Addrs, TTL and TS; Sign sets
// ProtoVer to wire.ProtoVersion when it is zero, sets Publisher to id's
// NodeID, declares the signers in field 6 — Ed25519 always, ML-DSA-87 too
// when dualSign is set — and replaces Sigs with one signature per signer
// over rec.SignedMessage. Dual signing needs an identity with an ML-DSA-87
// key. Any existing Signers and Sigs are replaced. On error rec is left as
// it was.
func Sign(rec *wire.ProviderRecord, id *Identity, dualSign bool) error {
	if rec == nil {
		return errors.New("sign record: nil record")
	}
	if id == nil {
		return errors.New("sign record: nil identity")
	}
	if dualSign && !id.hasPQ {
		return fmt.Errorf("sign record: dual signing needs an ML-DSA-87 key, %s has none", id)
	}
	saved := *rec // restored on error
	if rec.ProtoVer == 0 {
		rec.ProtoVer = wire.ProtoVersion
	}
	rec.Publisher = id.id
	n := 1
	if dualSign {
		n = 2
	}
	signers := make([]wire.Signer, 1, n)
	signers[0] = wire.Signer{Alg: wire.AlgEd25519, KeyHash: id.id}
	if dualSign {
		signers = append(signers, wire.Signer{Alg: wire.AlgMLDSA87, KeyHash: id.pqHash})
	}
	rec.Signers = signers

	msg, err := rec.SignedMessage(make([]byte, 0, rec.SignedMessageSize()))
	if err != nil {
		*rec = saved
		return fmt.Errorf("sign record: %w", err)
	}
	sigs := make([]wire.Signature, 1, n)
	sigs[0] = wire.Signature{
		Alg:       wire.AlgEd25519,
		PublicKey: id.PublicKey(),
		Sig:       ed25519.Sign(id.ed, msg),
	}
	if dualSign {
		sig := make([]byte, mldsa87.SignatureSize)
		if err := mldsa87.SignTo(id.pq, msg, nil, !id.deterministicPQ, sig); err != nil {
			*rec = saved
			return fmt.Errorf("sign record: ml-dsa-87: %w", err)
		}
		sigs = append(sigs, wire.Signature{Alg: wire.AlgMLDSA87, PublicKey: id.PQPublicKey(), Sig: sig})
	}
	rec.Sigs = sigs
	return nil
}
