package identity

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/svc-dht/svc-dht/wire"
)

// testNow is the injected clock of all verification tests.
var testNow = time.Unix(1_760_000_000, 0).UTC()

// codeOf is the wire code an error carries; CodeOK for nil.
func codeOf(err error) wire.Code { return wire.CodeOf(err) }

// fixture holds identities shared by the tests (key generation and ML-DSA
// signing are the slow parts, so records are built from these few keys).
type fixture struct {
	dual, other, classical *Identity
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return &fixture{
		dual:      mustSeeds(t, fill(1), fill(2)),
		other:     mustSeeds(t, fill(3), fill(4)),
		classical: mustSeeds(t, fill(5), nil),
	}
}

func baseRecord() *wire.ProviderRecord {
	return &wire.ProviderRecord{
		Key:   KeyFromBytes([]byte("content")),
		Addrs: []string{"quic://192.0.2.1:4433", "quic://[2001:db8::1]:4433"},
		TTL:   24 * 3600,
		TS:    testNow.Unix() - 60,
	}
}

func signed(t testing.TB, id *Identity, dual bool, pre func(*wire.ProviderRecord)) *wire.ProviderRecord {
	t.Helper()
	r := baseRecord()
	if pre != nil {
		pre(r)
	}
	if err := Sign(r, id, dual); err != nil {
		t.Fatal(err)
	}
	return r
}

func cloneRecord(r *wire.ProviderRecord) *wire.ProviderRecord {
	c := *r
	c.Addrs = slices.Clone(r.Addrs)
	c.Signers = slices.Clone(r.Signers)
	c.Sigs = make([]wire.Signature, len(r.Sigs))
	for i, s := range r.Sigs {
		c.Sigs[i] = wire.Signature{Alg: s.Alg, PublicKey: slices.Clone(s.PublicKey), Sig: slices.Clone(s.Sig)}
	}
	return &c
}

func mustVerifier(t testing.TB, p Policy) *RecordVerifier {
	t.Helper()
	v, err := NewVerifier(p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSignFillsRecord(t *testing.T) {
	f := newFixture(t)
	r := signed(t, f.dual, true, nil)
	if r.ProtoVer != wire.ProtoVersion || r.Publisher != f.dual.ID() {
		t.Fatalf("proto_ver %d publisher %x", r.ProtoVer, r.Publisher)
	}
	pqHash, _ := f.dual.PQKeyHash()
	wantSigners := []wire.Signer{{Alg: wire.AlgEd25519, KeyHash: f.dual.ID()}, {Alg: wire.AlgMLDSA87, KeyHash: pqHash}}
	if !slices.Equal(r.Signers, wantSigners) {
		t.Fatalf("signers = %v", r.Signers)
	}
	if len(r.Sigs) != 2 || r.Sigs[0].Alg != wire.AlgEd25519 || r.Sigs[1].Alg != wire.AlgMLDSA87 ||
		!bytes.Equal(r.Sigs[0].PublicKey, f.dual.PublicKey()) || !bytes.Equal(r.Sigs[1].PublicKey, f.dual.PQPublicKey()) ||
		len(r.Sigs[0].Sig) != Ed25519SignatureSize || len(r.Sigs[1].Sig) != MLDSA87SignatureSize {
		t.Fatalf("sigs malformed")
	}
	// Signing again as classical-only replaces signers and sigs.
	if err := Sign(r, f.dual, false); err != nil {
		t.Fatal(err)
	}
	if len(r.Signers) != 1 || len(r.Sigs) != 1 {
		t.Fatalf("re-sign: %d signers, %d sigs", len(r.Signers), len(r.Sigs))
	}
	// An explicit proto_ver is kept.
	r.ProtoVer = 7
	if err := Sign(r, f.dual, false); err != nil || r.ProtoVer != 7 {
		t.Fatalf("proto_ver overwritten: %d, %v", r.ProtoVer, err)
	}
}

func TestSignErrors(t *testing.T) {
	f := newFixture(t)
	if err := Sign(baseRecord(), f.classical, true); err == nil {
		t.Error("dual signing without an ML-DSA-87 key accepted")
	}
	if err := Sign(nil, f.dual, false); err == nil {
		t.Error("nil record accepted")
	}
	if err := Sign(baseRecord(), nil, false); err == nil {
		t.Error("nil identity accepted")
	}
	r := baseRecord()
	r.Addrs = append(r.Addrs, "quic://\xff:1")
	before := cloneRecord(r)
	if err := Sign(r, f.dual, false); codeOf(err) != wire.CodeMalformed {
		t.Errorf("invalid UTF-8 address: err = %v", err)
	}
	if !recordsEqual(r, before) {
		t.Error("failed Sign modified the record")
	}
}

func TestHedgedAndDeterministicPQ(t *testing.T) {
	f := newFixture(t)
	a, b := signed(t, f.dual, true, nil), signed(t, f.dual, true, nil)
	if bytes.Equal(a.Sigs[1].Sig, b.Sigs[1].Sig) {
		t.Error("hedged ML-DSA-87 signatures of the same message are equal")
	}
	if !bytes.Equal(a.Sigs[0].Sig, b.Sigs[0].Sig) {
		t.Error("Ed25519 signatures differ")
	}
	d := f.dual.WithDeterministicPQ()
	c, e := signed(t, d, true, nil), signed(t, d, true, nil)
	if !bytes.Equal(c.Sigs[1].Sig, e.Sigs[1].Sig) {
		t.Error("deterministic ML-DSA-87 signatures differ")
	}
	v := mustVerifier(t, DefaultPolicy())
	for _, r := range []*wire.ProviderRecord{a, b, c} {
		if _, err := v.Verify(r, testNow); err != nil {
			t.Error(err)
		}
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	dual := signed(t, f.dual, true, nil)
	classical := signed(t, f.classical, false, nil)
	otherDual := signed(t, f.other, true, nil)
	day := int64(24 * 3600)
	now := testNow.Unix()
	pqDate := testNow.Add(-time.Hour)

	type tc struct {
		name    string
		rec     func() *wire.ProviderRecord // record to verify
		policy  func(*Policy)               // policy changes, if any
		now     time.Time                   // zero: testNow
		code    wire.Code
		failed  wire.Alg // expected VerifyInfo.FailedAlg
		classic bool     // expected VerifyInfo.ClassicalOnly
		overdue bool     // expected VerifyInfo.PQOverdue
	}
	tamper := func(base *wire.ProviderRecord, fn func(*wire.ProviderRecord)) func() *wire.ProviderRecord {
		return func() *wire.ProviderRecord { r := cloneRecord(base); fn(r); return r }
	}
	resign := func(id *Identity, dual bool, fn func(*wire.ProviderRecord)) func() *wire.ProviderRecord {
		return func() *wire.ProviderRecord { return signed(t, id, dual, fn) }
	}
	same := func(r *wire.ProviderRecord) func() *wire.ProviderRecord {
		return tamper(r, func(*wire.ProviderRecord) {})
	}

	cases := []tc{
		{name: "dual ok", rec: same(dual), code: wire.CodeOK},
		{name: "classical ok", rec: same(classical), code: wire.CodeOK, classic: true},
		{name: "dual identity signing classical ok", rec: resign(f.dual, false, nil), code: wire.CodeOK, classic: true},
	}
	// Every signed field, altered alone, breaks the record (both kinds).
	for _, k := range []struct {
		name  string
		base  *wire.ProviderRecord
		first wire.Alg // the first algorithm to notice
	}{{"dual", dual, wire.AlgEd25519}, {"classical", classical, wire.AlgEd25519}} {
		alter := []struct {
			field string
			fn    func(*wire.ProviderRecord)
		}{
			{"0 proto_ver", func(r *wire.ProviderRecord) { r.ProtoVer = 2 }},
			{"1 key", func(r *wire.ProviderRecord) { r.Key[31] ^= 1 }},
			{"2 publisher", func(r *wire.ProviderRecord) { r.Publisher[0] ^= 0x80 }},
			{"3 addrs changed", func(r *wire.ProviderRecord) { r.Addrs[0] = "quic://192.0.2.66:4433" }},
			{"3 addrs added", func(r *wire.ProviderRecord) { r.Addrs = append(r.Addrs, "quic://192.0.2.2:4433") }},
			{"3 addrs removed", func(r *wire.ProviderRecord) { r.Addrs = r.Addrs[:1] }},
			{"3 addrs reordered", func(r *wire.ProviderRecord) { r.Addrs[0], r.Addrs[1] = r.Addrs[1], r.Addrs[0] }},
			{"4 ttl", func(r *wire.ProviderRecord) { r.TTL++ }},
			{"5 ts", func(r *wire.ProviderRecord) { r.TS-- }},
			{"6 signer hash", func(r *wire.ProviderRecord) { r.Signers[0].KeyHash[5] ^= 1 }},
		}
		for _, a := range alter {
			cases = append(cases, tc{name: k.name + " altered field " + a.field, rec: tamper(k.base, a.fn),
				code: wire.CodeBadSignature, failed: k.first, classic: k.base == classical})
		}
	}
	cases = append(cases, []tc{
		{name: "ed25519 sig bit flip", rec: tamper(dual, func(r *wire.ProviderRecord) { r.Sigs[0].Sig[10] ^= 1 }),
			code: wire.CodeBadSignature, failed: wire.AlgEd25519},
		{name: "ml-dsa-87 sig bit flip", rec: tamper(dual, func(r *wire.ProviderRecord) { r.Sigs[1].Sig[100] ^= 1 }),
			code: wire.CodeBadSignature, failed: wire.AlgMLDSA87},
		{name: "signers reordered", rec: tamper(dual, func(r *wire.ProviderRecord) { slices.Reverse(r.Signers) }),
			code: wire.CodeBadSignature, failed: wire.AlgEd25519},
		{name: "sigs reordered still ok", rec: tamper(dual, func(r *wire.ProviderRecord) { slices.Reverse(r.Sigs) }),
			code: wire.CodeOK},
		// Downgrade attempts.
		{name: "ml-dsa-87 sig stripped", rec: tamper(dual, func(r *wire.ProviderRecord) { r.Sigs = r.Sigs[:1] }),
			code: wire.CodeBadSignature, failed: wire.AlgMLDSA87},
		{name: "ml-dsa-87 sig swapped for another key's", rec: tamper(dual, func(r *wire.ProviderRecord) {
			r.Sigs[1] = otherDual.Sigs[1]
		}), code: wire.CodeBadSignature, failed: wire.AlgMLDSA87},
		{name: "ml-dsa-87 sig and signer swapped for another key's", rec: tamper(dual, func(r *wire.ProviderRecord) {
			r.Sigs[1], r.Signers[1] = otherDual.Sigs[1], otherDual.Signers[1]
		}), code: wire.CodeBadSignature, failed: wire.AlgEd25519},
		{name: "ml-dsa-87 signer entry removed", rec: tamper(dual, func(r *wire.ProviderRecord) { r.Signers = r.Signers[:1] }),
			code: wire.CodeBadSignature, failed: wire.AlgMLDSA87, classic: true},
		{name: "ml-dsa-87 signer and sig removed", rec: tamper(dual, func(r *wire.ProviderRecord) {
			r.Signers, r.Sigs = r.Signers[:1], r.Sigs[:1]
		}), code: wire.CodeBadSignature, failed: wire.AlgEd25519, classic: true},
		// Signer and signature list structure.
		{name: "no signers", rec: tamper(dual, func(r *wire.ProviderRecord) { r.Signers = nil }), code: wire.CodeBadSignature},
		{name: "no sigs", rec: tamper(dual, func(r *wire.ProviderRecord) { r.Sigs = nil }),
			code: wire.CodeBadSignature, failed: wire.AlgEd25519},
		{name: "no ed25519 signer", rec: tamper(dual, func(r *wire.ProviderRecord) {
			r.Signers, r.Sigs = r.Signers[1:], r.Sigs[1:]
		}), code: wire.CodeBadSignature},
		{name: "unknown alg signer", rec: tamper(classical, func(r *wire.ProviderRecord) {
			r.Signers = append(r.Signers, wire.Signer{Alg: 9})
			r.Sigs = append(r.Sigs, wire.Signature{Alg: 9, PublicKey: []byte{1}, Sig: []byte{2}})
		}), code: wire.CodeBadSignature, failed: 9},
		{name: "undeclared sig", rec: tamper(classical, func(r *wire.ProviderRecord) {
			r.Sigs = append(r.Sigs, otherDual.Sigs[1])
		}), code: wire.CodeBadSignature, failed: wire.AlgMLDSA87, classic: true},
		{name: "duplicate signer alg", rec: tamper(classical, func(r *wire.ProviderRecord) {
			r.Signers = append(r.Signers, r.Signers[0])
			r.Sigs = append(r.Sigs, r.Sigs[0])
		}), code: wire.CodeBadSignature, failed: wire.AlgEd25519},
		{name: "duplicate sig alg", rec: tamper(classical, func(r *wire.ProviderRecord) {
			r.Sigs = append(r.Sigs, r.Sigs[0])
		}), code: wire.CodeBadSignature, failed: wire.AlgEd25519, classic: true},
		{name: "ed25519 key of another node", rec: tamper(classical, func(r *wire.ProviderRecord) {
			r.Sigs[0] = otherDual.Sigs[0]
		}), code: wire.CodeBadSignature, failed: wire.AlgEd25519, classic: true},
		// Another key's valid signature over this very message: only the
		// declared key hash stops it (impersonation / PQ substitution).
		{name: "ed25519 sig by another key over the same message", rec: tamper(classical, func(r *wire.ProviderRecord) {
			msg, err := r.SignedMessage(nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Sigs[0] = wire.Signature{Alg: wire.AlgEd25519, PublicKey: f.other.PublicKey(), Sig: ed25519.Sign(f.other.ed, msg)}
		}), code: wire.CodeBadSignature, failed: wire.AlgEd25519, classic: true},
		{name: "ml-dsa-87 sig by another key over the same message", rec: tamper(dual, func(r *wire.ProviderRecord) {
			msg, err := r.SignedMessage(nil)
			if err != nil {
				t.Fatal(err)
			}
			sig := make([]byte, MLDSA87SignatureSize)
			if err := mldsa87.SignTo(f.other.pq, msg, nil, false, sig); err != nil {
				t.Fatal(err)
			}
			r.Sigs[1] = wire.Signature{Alg: wire.AlgMLDSA87, PublicKey: f.other.PQPublicKey(), Sig: sig}
		}), code: wire.CodeBadSignature, failed: wire.AlgMLDSA87},
		{name: "ed25519 key short", rec: tamper(classical, func(r *wire.ProviderRecord) {
			r.Sigs[0].PublicKey = r.Sigs[0].PublicKey[:31]
		}), code: wire.CodeBadSignature, failed: wire.AlgEd25519, classic: true},
		// Wrong key lengths with self-consistent hashes and publisher: must
		// be rejected before the crypto libraries see them (ed25519.Verify
		// panics on a short key).
		{name: "ed25519 key short, hashes consistent", rec: tamper(classical, func(r *wire.ProviderRecord) {
			r.Sigs[0].PublicKey = r.Sigs[0].PublicKey[:31]
			r.Publisher = KeyFromBytes(r.Sigs[0].PublicKey)
			r.Signers[0].KeyHash = r.Publisher
		}), code: wire.CodeBadSignature, failed: wire.AlgEd25519, classic: true},
		{name: "ml-dsa-87 key long, hash consistent", rec: tamper(dual, func(r *wire.ProviderRecord) {
			r.Sigs[1].PublicKey = append(r.Sigs[1].PublicKey, 0)
			r.Signers[1].KeyHash = KeyFromBytes(r.Sigs[1].PublicKey)
		}), code: wire.CodeBadSignature, failed: wire.AlgMLDSA87},
		{name: "ml-dsa-87 sig short", rec: tamper(dual, func(r *wire.ProviderRecord) {
			r.Sigs[1].Sig = r.Sigs[1].Sig[:MLDSA87SignatureSize-1]
		}), code: wire.CodeBadSignature, failed: wire.AlgMLDSA87},
		// Publisher: a re-signed record whose publisher was then pointed at
		// another node, with a signer list claiming that node's key hash.
		{name: "publisher is another node", rec: tamper(classical, func(r *wire.ProviderRecord) {
			r.Publisher = f.other.ID()
		}), code: wire.CodeBadSignature, failed: wire.AlgEd25519, classic: true},
		{name: "publisher and ed signer hash of another node", rec: tamper(classical, func(r *wire.ProviderRecord) {
			r.Publisher, r.Signers[0].KeyHash = f.other.ID(), f.other.ID()
		}), code: wire.CodeBadSignature, failed: wire.AlgEd25519, classic: true},
		{name: "publisher is the ml-dsa key hash", rec: tamper(dual, func(r *wire.ProviderRecord) {
			r.Publisher = r.Signers[1].KeyHash
		}), code: wire.CodeBadSignature, failed: wire.AlgEd25519},
		{name: "publisher of another node, validly signed", rec: func() *wire.ProviderRecord {
			r := signed(t, f.classical, false, nil)
			r.Publisher = f.other.ID()
			msg, err := r.SignedMessage(nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Sigs[0].Sig = ed25519.Sign(f.classical.ed, msg)
			return r
		}, code: wire.CodeBadSignature, failed: wire.AlgEd25519, classic: true},
		// Lifetime (records re-signed so that only the clock is wrong).
		{name: "ts 5 min ahead ok", rec: resign(f.classical, false, func(r *wire.ProviderRecord) { r.TS = now + 300 }),
			code: wire.CodeOK, classic: true},
		{name: "ts beyond 5 min ahead", rec: resign(f.classical, false, func(r *wire.ProviderRecord) { r.TS = now + 301 }),
			code: wire.CodeStaleRecord},
		{name: "ts far future", rec: resign(f.classical, false, func(r *wire.ProviderRecord) { r.TS = 1 << 62 }),
			code: wire.CodeStaleRecord},
		{name: "expired: ts+ttl == now", rec: resign(f.classical, false, func(r *wire.ProviderRecord) { r.TS = now - day }),
			code: wire.CodeStaleRecord},
		{name: "one second left ok", rec: resign(f.classical, false, func(r *wire.ProviderRecord) { r.TS = now - day + 1 }),
			code: wire.CodeOK, classic: true},
		{name: "sub-second now, one second left ok", rec: resign(f.classical, false, func(r *wire.ProviderRecord) { r.TS = now - day + 1 }),
			now: testNow.Add(999 * time.Millisecond), code: wire.CodeOK, classic: true},
		{name: "ts very negative", rec: resign(f.classical, false, func(r *wire.ProviderRecord) { r.TS = -1 << 63 }),
			code: wire.CodeStaleRecord},
		{name: "ttl 48h ok", rec: resign(f.classical, false, func(r *wire.ProviderRecord) { r.TTL = 48 * 3600 }),
			code: wire.CodeOK, classic: true},
		{name: "ttl over 48h", rec: resign(f.classical, false, func(r *wire.ProviderRecord) { r.TTL = 48*3600 + 1 }),
			code: wire.CodeStaleRecord},
		{name: "ttl over policy max", rec: same(classical), policy: func(p *Policy) { p.MaxTTL = time.Hour },
			code: wire.CodeStaleRecord},
		{name: "ttl 0", rec: resign(f.classical, false, func(r *wire.ProviderRecord) { r.TTL = 0 }),
			code: wire.CodeMalformed},
		{name: "proto_ver 2 signed", rec: resign(f.classical, false, func(r *wire.ProviderRecord) { r.ProtoVer = 2 }),
			code: wire.CodeBadVersion, classic: true},
		{name: "nil record", rec: func() *wire.ProviderRecord { return nil }, code: wire.CodeMalformed},
		// Size.
		{name: "oversize record", rec: resign(f.dual, true, func(r *wire.ProviderRecord) {
			for i := range 20 {
				r.Addrs = append(r.Addrs, "quic://[2001:db8:1234:5678:9abc:def0:1234:"+strings.Repeat("f", i%4+1)+"]:4433")
			}
		}), code: wire.CodeFrameTooLarge},
		{name: "a dozen long addrs fit the default", rec: resign(f.dual, true, func(r *wire.ProviderRecord) {
			r.Addrs = nil
			for range 12 {
				r.Addrs = append(r.Addrs, "quic://[2001:db8:1234:5678:9abc:def0:1234:5678]:4433")
			}
		}), code: wire.CodeOK},
		{name: "size limit from policy", rec: same(classical), policy: func(p *Policy) { p.MaxRecordBytes = 256; p.AllowedAlgs = []wire.Alg{wire.AlgEd25519} },
			code: wire.CodeFrameTooLarge},
		// Algorithm policy.
		{name: "ml-dsa-87 not allowed", rec: same(dual), policy: func(p *Policy) { p.AllowedAlgs = []wire.Alg{wire.AlgEd25519} },
			code: wire.CodeBadSignature, failed: wire.AlgMLDSA87},
		// PQ deadline.
		{name: "classical before require_pq_on", rec: same(classical), policy: func(p *Policy) { p.RequirePQOn = testNow.Add(time.Second); p.Enforce = true },
			code: wire.CodeOK, classic: true},
		{name: "classical at require_pq_on, not enforced", rec: same(classical), policy: func(p *Policy) { p.RequirePQOn = testNow },
			code: wire.CodeOK, classic: true, overdue: true},
		{name: "classical after require_pq_on, not enforced", rec: same(classical), policy: func(p *Policy) { p.RequirePQOn = pqDate },
			code: wire.CodeOK, classic: true, overdue: true},
		{name: "classical after require_pq_on, enforced", rec: same(classical), policy: func(p *Policy) { p.RequirePQOn = pqDate; p.Enforce = true },
			code: wire.CodeBadSignature, classic: true, overdue: true},
		{name: "dual after require_pq_on, enforced", rec: same(dual), policy: func(p *Policy) { p.RequirePQOn = pqDate; p.Enforce = true },
			code: wire.CodeOK},
		{name: "stripped dual after require_pq_on, enforced", rec: tamper(dual, func(r *wire.ProviderRecord) {
			r.Signers, r.Sigs = r.Signers[:1], r.Sigs[:1]
		}), policy: func(p *Policy) { p.RequirePQOn = pqDate; p.Enforce = true },
			code: wire.CodeBadSignature, classic: true, overdue: true},
	}...)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultPolicy()
			if c.policy != nil {
				c.policy(&p)
			}
			v := mustVerifier(t, p)
			now := c.now
			if now.IsZero() {
				now = testNow
			}
			rec := c.rec()
			var before *wire.ProviderRecord
			if rec != nil {
				before = cloneRecord(rec)
			}
			info, err := v.Verify(rec, now)
			if got := codeOf(err); got != c.code {
				t.Fatalf("code %d (%v), want %d", got, err, c.code)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "verify record: ") {
					t.Errorf("error lacks context: %q", err)
				}
				if !errors.Is(err, wire.NewError(c.code, "")) {
					t.Errorf("error %v does not match the sentinel of code %d", err, c.code)
				}
			}
			if info.FailedAlg != c.failed {
				t.Errorf("FailedAlg = %d, want %d", info.FailedAlg, c.failed)
			}
			if c.code == wire.CodeOK || c.code == wire.CodeBadSignature || c.code == wire.CodeBadVersion {
				if info.ClassicalOnly != c.classic || info.PQOverdue != c.overdue {
					t.Errorf("ClassicalOnly %v PQOverdue %v, want %v %v", info.ClassicalOnly, info.PQOverdue, c.classic, c.overdue)
				}
			}
			if rec != nil && !recordsEqual(rec, before) {
				t.Error("Verify modified the record")
			}
		})
	}
}

func recordsEqual(a, b *wire.ProviderRecord) bool {
	if a.ProtoVer != b.ProtoVer || a.Key != b.Key || a.Publisher != b.Publisher || a.TTL != b.TTL || a.TS != b.TS ||
		!slices.Equal(a.Addrs, b.Addrs) || !slices.Equal(a.Signers, b.Signers) || len(a.Sigs) != len(b.Sigs) {
		return false
	}
	for i := range a.Sigs {
		if a.Sigs[i].Alg != b.Sigs[i].Alg || !bytes.Equal(a.Sigs[i].PublicKey, b.Sigs[i].PublicKey) || !bytes.Equal(a.Sigs[i].Sig, b.Sigs[i].Sig) {
			return false
		}
	}
	return true
}

func TestVerifyConcurrent(t *testing.T) {
	// The verifier is shared by event loops: run it from several goroutines
	// (the race detector checks the buffer pool).
	f := newFixture(t)
	v := mustVerifier(t, DefaultPolicy())
	good := signed(t, f.classical, false, nil)
	bad := cloneRecord(good)
	bad.Sigs[0].Sig[0] ^= 1
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 50 {
				r, want := good, wire.CodeOK
				if (g+i)%3 == 0 {
					r, want = bad, wire.CodeBadSignature
				}
				if _, err := v.Verify(r, testNow); codeOf(err) != want {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := (&Policy{}).Validate(); err == nil {
		t.Error("zero policy accepted")
	}
	d := DefaultPolicy()
	if err := d.Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	for _, tc := range []struct {
		name string
		fn   func(*Policy)
		want string
	}{
		{"ttl over 48h", func(p *Policy) { p.MaxTTL = 49 * time.Hour }, "max ttl"},
		{"ttl zero", func(p *Policy) { p.MaxTTL = 0 }, "max ttl"},
		{"negative skew", func(p *Policy) { p.MaxFutureSkew = -time.Second }, "skew"},
		{"huge skew", func(p *Policy) { p.MaxFutureSkew = 2 * time.Hour }, "skew"},
		{"tiny records", func(p *Policy) { p.MaxRecordBytes = 100 }, "max record bytes"},
		{"records over frame", func(p *Policy) { p.MaxRecordBytes = wire.FrameMax + 1 }, "max record bytes"},
		{"dual does not fit", func(p *Policy) { p.MaxRecordBytes = 4096 }, "dual-signed"},
		{"unknown alg", func(p *Policy) { p.AllowedAlgs = []wire.Alg{wire.AlgEd25519, 7} }, "unsupported"},
		{"no ed25519", func(p *Policy) { p.AllowedAlgs = []wire.Alg{wire.AlgMLDSA87} }, "ed25519"},
		{"enforce without ml-dsa", func(p *Policy) {
			p.AllowedAlgs = []wire.Alg{wire.AlgEd25519}
			p.RequirePQOn, p.Enforce = testNow, true
		}, "enforcement"},
	} {
		p := DefaultPolicy()
		tc.fn(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
		if _, err := NewVerifier(p); err == nil {
			t.Errorf("%s: NewVerifier accepted the policy", tc.name)
		}
	}
	// Ed25519-only with a small size limit is fine.
	p := DefaultPolicy()
	p.AllowedAlgs, p.MaxRecordBytes = []wire.Alg{wire.AlgEd25519}, 1024
	if err := p.Validate(); err != nil {
		t.Errorf("ed25519-only 1 KiB policy: %v", err)
	}
}

func TestMinDualRecordBytes(t *testing.T) {
	// The documented figure (DefaultMaxRecordBytes) is the size of a real
	// dual-signed record without addresses.
	f := newFixture(t)
	r := signed(t, f.dual, true, func(r *wire.ProviderRecord) { r.Addrs = nil })
	if got, want := minDualRecordBytes(), r.EncodedSize(); got != want || got != 7498 {
		t.Fatalf("minDualRecordBytes = %d, signed record = %d, documented 7498", got, want)
	}
}
