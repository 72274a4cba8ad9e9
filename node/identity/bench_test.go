package identity

import (
	"crypto/ed25519"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/svc-dht/svc-dht/wire"
)

func BenchmarkNodeID(b *testing.B) {
	pk := mustSeeds(b, fill(1), nil).PublicKey()
	b.ReportAllocs()
	for b.Loop() {
		_ = NodeIDFromPublicKey(pk)
	}
}

func benchMessage(b *testing.B) []byte {
	r := baseRecord()
	r.Signers = make([]wire.Signer, 2)
	msg, err := r.SignedMessage(nil)
	if err != nil {
		b.Fatal(err)
	}
	return msg
}

func BenchmarkEd25519Sign(b *testing.B) {
	id, msg := mustSeeds(b, fill(1), nil), benchMessage(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = ed25519.Sign(id.ed, msg)
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	id, msg := mustSeeds(b, fill(1), nil), benchMessage(b)
	sig := ed25519.Sign(id.ed, msg)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(id.edPub, msg, sig) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkMLDSA87Sign(b *testing.B) {
	id, msg := mustSeeds(b, fill(1), fill(2)), benchMessage(b)
	sig := make([]byte, mldsa87.SignatureSize)
	b.ReportAllocs()
	for b.Loop() {
		if err := mldsa87.SignTo(id.pq, msg, nil, true, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMLDSA87Verify includes unpacking the public key, as record
// verification does.
func BenchmarkMLDSA87Verify(b *testing.B) {
	id, msg := mustSeeds(b, fill(1), fill(2)), benchMessage(b)
	sig := make([]byte, mldsa87.SignatureSize)
	if err := mldsa87.SignTo(id.pq, msg, nil, false, sig); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var pk mldsa87.PublicKey
		if err := pk.UnmarshalBinary(id.pqPub); err != nil {
			b.Fatal(err)
		}
		if !mldsa87.Verify(&pk, msg, nil, sig) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkMLDSA87VerifyUnpacked excludes the key unpacking (what a key
// cache would save).
func BenchmarkMLDSA87VerifyUnpacked(b *testing.B) {
	id, msg := mustSeeds(b, fill(1), fill(2)), benchMessage(b)
	sig := make([]byte, mldsa87.SignatureSize)
	if err := mldsa87.SignTo(id.pq, msg, nil, false, sig); err != nil {
		b.Fatal(err)
	}
	var pk mldsa87.PublicKey
	if err := pk.UnmarshalBinary(id.pqPub); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !mldsa87.Verify(&pk, msg, nil, sig) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkSignRecord(b *testing.B) {
	for _, c := range []struct {
		name string
		dual bool
	}{{"classical", false}, {"dual", true}} {
		b.Run(c.name, func(b *testing.B) {
			id := mustSeeds(b, fill(1), fill(2))
			r := baseRecord()
			b.ReportAllocs()
			for b.Loop() {
				if err := Sign(r, id, c.dual); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyRecord(b *testing.B) {
	for _, c := range []struct {
		name string
		dual bool
	}{{"classical", false}, {"dual", true}} {
		b.Run(c.name, func(b *testing.B) {
			r := signed(b, mustSeeds(b, fill(1), fill(2)), c.dual, nil)
			v := mustVerifier(b, DefaultPolicy())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(r, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyRecordReject measures the cheap rejection of a stale
// record, which never reaches the cryptography.
func BenchmarkVerifyRecordReject(b *testing.B) {
	r := signed(b, mustSeeds(b, fill(1), fill(2)), true, nil)
	v := mustVerifier(b, DefaultPolicy())
	late := testNow.Add(MaxTTL)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, late); err == nil {
			b.Fatal("stale record accepted")
		}
	}
}
