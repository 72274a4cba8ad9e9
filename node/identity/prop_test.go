package identity

import (
	"bytes"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/svc-dht/svc-dht/wire"
)

// TestVerifyMutatedRecords: random mutations of valid records are either
// rejected with one of the record codes or leave the signed content and
// the signing keys unchanged. Verify never panics.
func TestVerifyMutatedRecords(t *testing.T) {
	f := newFixture(t)
	v := mustVerifier(t, DefaultPolicy())
	bases := []*wire.ProviderRecord{signed(t, f.dual, true, nil), signed(t, f.classical, false, nil)}
	foreign := signed(t, f.other, true, nil)
	rapid.Check(t, func(t *rapid.T) {
		base := bases[rapid.IntRange(0, 1).Draw(t, "base")]
		r := cloneRecord(base)
		for range rapid.IntRange(1, 3).Draw(t, "mutations") {
			mutate(t, r, foreign)
		}
		_, err := v.Verify(r, testNow)
		switch c := wire.CodeOf(err); c {
		case wire.CodeOK:
			want, _ := base.SignedMessage(nil)
			got, _ := r.SignedMessage(nil)
			if !bytes.Equal(got, want) {
				t.Fatal("accepted a record whose signed content changed")
			}
			for _, s := range r.Sigs {
				if !slices.ContainsFunc(base.Sigs, func(b wire.Signature) bool { return bytes.Equal(b.PublicKey, s.PublicKey) }) {
					t.Fatal("accepted a signature by a key the publisher did not use")
				}
			}
		case wire.CodeBadSignature, wire.CodeStaleRecord, wire.CodeFrameTooLarge, wire.CodeMalformed, wire.CodeBadVersion:
		default:
			t.Fatalf("unexpected code %d: %v", c, err)
		}
	})
}

func mutate(t *rapid.T, r *wire.ProviderRecord, foreign *wire.ProviderRecord) {
	pick := func(n int, label string) int { return rapid.IntRange(0, n-1).Draw(t, label) }
	flip := func(b []byte, label string) {
		if len(b) > 0 {
			b[pick(len(b), label)] ^= byte(rapid.IntRange(1, 255).Draw(t, label+" mask"))
		}
	}
	switch rapid.IntRange(0, 14).Draw(t, "op") {
	case 0:
		r.ProtoVer = rapid.Uint64Range(0, 3).Draw(t, "proto_ver")
	case 1:
		flip(r.Key[:], "key")
	case 2:
		flip(r.Publisher[:], "publisher")
	case 3:
		r.Addrs = append(r.Addrs, rapid.StringN(0, 40, -1).Draw(t, "addr"))
	case 4:
		if len(r.Addrs) > 0 {
			i := pick(len(r.Addrs), "del addr")
			r.Addrs = slices.Delete(r.Addrs, i, i+1)
		}
	case 5:
		r.TTL = uint32(int64(r.TTL) + rapid.Int64Range(-2, 2).Draw(t, "ttl delta"))
	case 6:
		r.TS += rapid.Int64Range(-2, 2).Draw(t, "ts delta")
	case 7:
		if len(r.Signers) > 0 {
			i := pick(len(r.Signers), "signer")
			if rapid.Bool().Draw(t, "alg or hash") {
				r.Signers[i].Alg = wire.Alg(rapid.Byte().Draw(t, "alg"))
			} else {
				flip(r.Signers[i].KeyHash[:], "hash")
			}
		}
	case 8:
		slices.Reverse(r.Signers)
	case 9:
		slices.Reverse(r.Sigs)
	case 10:
		if len(r.Sigs) > 0 {
			s := &r.Sigs[pick(len(r.Sigs), "sig")]
			if rapid.Bool().Draw(t, "pk or sig") {
				flip(s.PublicKey, "pk byte")
			} else {
				flip(s.Sig, "sig byte")
			}
		}
	case 11:
		if len(r.Sigs) > 0 {
			s := &r.Sigs[pick(len(r.Sigs), "sig len")]
			s.Sig = s.Sig[:pick(len(s.Sig)+1, "cut")]
		}
	case 12:
		if len(r.Sigs) > 0 {
			i := pick(len(r.Sigs), "drop sig")
			r.Sigs = slices.Delete(r.Sigs, i, i+1)
		}
	case 13:
		if len(r.Signers) > 0 {
			i := pick(len(r.Signers), "drop signer")
			r.Signers = slices.Delete(r.Signers, i, i+1)
		}
	case 14:
		i := pick(len(foreign.Sigs), "foreign")
		if rapid.Bool().Draw(t, "replace") && len(r.Sigs) > 0 {
			r.Sigs[pick(len(r.Sigs), "replaced")] = foreign.Sigs[i]
		} else {
			r.Sigs = append(r.Sigs, foreign.Sigs[i])
		}
		if rapid.Bool().Draw(t, "with signer") {
			r.Signers = append(r.Signers, foreign.Signers[i])
		}
	}
}
