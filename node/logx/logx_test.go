package logx

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

func TestJSONShape(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var peer kbucket.ID
	peer[0], peer[31] = 0xab, 0xcd
	log.Info("lookup_done", CorrID(0xff), Op(wire.OpFindValue), PeerID(peer), ASN(64496),
		Reason("found"), Latency(1234567*time.Nanosecond), Hops(3))
	log.Debug("hidden") // below the default level

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1:\n%s", len(lines), buf.Bytes())
	}
	var got map[string]any
	if err := json.Unmarshal(lines[0], &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, lines[0])
	}
	want := map[string]any{
		"level": "info", "service": "svc-dht", "event": "lookup_done",
		"corr_id": "00000000000000ff", "op": "find_value",
		"peer_id": identity.KeyString(peer), "asn": float64(64496),
		"reason": "found", "latency_ms": 1.234, "hops": float64(3),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	ts, ok := got["ts"].(string)
	if !ok {
		t.Fatalf("ts missing: %s", lines[0])
	}
	if p, err := time.Parse(time.RFC3339Nano, ts); err != nil || p.Location() != time.UTC {
		t.Errorf("ts %q: not RFC 3339 UTC (%v)", ts, err)
	}
	for _, k := range []string{"time", "msg"} {
		if _, ok := got[k]; ok {
			t.Errorf("slog's %q key not renamed", k)
		}
	}
}

func TestTextFormatAndLevels(t *testing.T) {
	var buf bytes.Buffer
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelWarn)
	log, err := New(&buf, Options{Format: "text", Level: lv})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("dropped")
	log.Warn("seed_dial_failed", Err(fmt.Errorf("dial: %w", wire.ErrTimeout)), Err(nil))
	lv.Set(slog.LevelDebug) // a reload lowers the level
	log.Debug("kept")
	out := buf.String()
	for _, s := range []string{"level=warn", "service=svc-dht", "event=seed_dial_failed", `reason="dial: wire: 1508 timeout"`, "event=kept", "level=debug"} {
		if !strings.Contains(out, s) {
			t.Errorf("text output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "dropped") {
		t.Errorf("info line logged at warn level:\n%s", out)
	}
}

func TestOptionErrors(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, Options{Format: "xml"}); err == nil {
		t.Error("format xml accepted")
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("nil writer accepted")
	}
	for s, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLevel(s); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseLevel("INFO"); err == nil {
		t.Error(`ParseLevel("INFO") accepted`)
	}
}

// leaky is a LogValuer that tries to log a key.
type leaky struct{ key ed25519.PrivateKey }

func (l leaky) LogValue() slog.Value { return slog.AnyValue(l.key) }

// wrapper hides a key behind an interface field.
type wrapper struct {
	Name  string
	Inner any
}

// secrets is every kind of sensitive value, with the byte strings that must
// never appear in a log.
type secrets struct {
	id       *identity.Identity
	priv     ed25519.PrivateKey
	raw      []byte
	record   *wire.ProviderRecord
	envelope []byte
	must     [][]byte // secret byte strings
	addr     string   // a record address (payload)
}

func newSecrets(t *testing.T) *secrets {
	rnd := rand.New(rand.NewPCG(11, 12))
	rb := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return b
	}
	edSeed, pqSeed := rb(32), rb(32)
	id, err := identity.FromSeeds(edSeed, pqSeed)
	if err != nil {
		t.Fatal(err)
	}
	s := &secrets{id: id, priv: id.PrivateKey(), raw: rb(48), addr: "quic://203.0.113.77:4433"}
	s.record = &wire.ProviderRecord{Key: identity.KeyFromBytes([]byte("content")), Addrs: []string{s.addr}, TTL: 3600, TS: 1_700_000_000}
	if err := identity.Sign(s.record, id, true); err != nil {
		t.Fatal(err)
	}
	env := wire.NewResponse(&wire.Envelope{Op: wire.OpFindValue, CorrID: 9}, wire.CodeOK, 1_700_000_000)
	frame, err := wire.AppendEnvelope(nil, &env, &wire.FindValueResponse{Providers: []wire.ProviderRecord{*s.record}})
	if err != nil {
		t.Fatal(err)
	}
	s.envelope = frame
	s.must = [][]byte{edSeed, pqSeed, s.priv, s.raw, id.PQPublicKey(), s.record.Sigs[0].Sig, s.record.Sigs[1].Sig, s.record.Sigs[1].PublicKey}
	return s
}

// logAll logs every sensitive value every way a caller might.
func (s *secrets) logAll(log *slog.Logger) {
	var decoded wire.Envelope
	_ = wire.DecodeEnvelope(s.envelope, &decoded)
	log.Info("identity", "id", s.id, "id_value", *s.id)
	log.Info("private_key", "key", s.priv, "ptr", &s.priv, "pub", s.priv.Public())
	log.Info("raw", "bytes", s.raw, "array", [48]byte(s.raw), "strings", []any{s.raw})
	log.Info("record", "rec", s.record, "rec_value", *s.record, "recs", []wire.ProviderRecord{*s.record})
	log.Info("signatures", "sig", s.record.Sigs[1], "sig_ptr", &s.record.Sigs[0], "sigs", s.record.Sigs, "signers", s.record.Signers)
	log.Info("envelope", "frame", s.envelope, "env", decoded, "body", decoded.Body)
	log.Info("requests", "provide", wire.ProvideRequest{Record: *s.record}, "store", &wire.StoreRequest{Value: s.raw, Sigs: s.record.Sigs})
	log.Info("wrapped", "w", wrapper{Name: "x", Inner: s.priv}, "m", map[string]any{"k": s.raw}, "lv", leaky{s.priv})
	log.With("with_key", s.priv).Info("with", slog.Group("g", slog.Any("sk", s.priv), slog.Any("rec", s.record)))
	log.WithGroup("grp").Info("in_group", "key", s.priv, "rec", *s.record)
	log.Error("failed", "err", fmt.Errorf("verify: %w", wire.ErrBadSignature), "peer", net.IPv4(192, 0, 2, 1))
}

// encodings returns the ways a byte string could show in a log: raw, hex,
// base64 (two alphabets), and the decimal lists of Go's %v and of JSON, for every 12-byte
// window at a 3-byte step (base64 aligns on 3 bytes).
func encodings(b []byte) []string {
	var out []string
	for off := 0; off+12 <= len(b); off += 3 {
		w := b[off : off+12]
		out = append(out, string(w), hex.EncodeToString(w), strings.ToUpper(hex.EncodeToString(w)),
			base64.StdEncoding.EncodeToString(w), base64.URLEncoding.EncodeToString(w),
			strings.Trim(fmt.Sprint(w), "[]"), strings.ReplaceAll(strings.Trim(fmt.Sprint(w), "[]"), " ", ","))
		if len(b) > 400 && off >= 120 {
			break // long keys and signatures: their first 132 bytes suffice
		}
	}
	return out
}

func TestNoKeyMaterialOrPayloadLogged(t *testing.T) {
	s := newSecrets(t)
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(&buf, Options{Format: format})
			if err != nil {
				t.Fatal(err)
			}
			s.logAll(log)
			out := buf.String()
			for i, secret := range s.must {
				for _, enc := range encodings(secret) {
					if strings.Contains(out, enc) {
						t.Fatalf("secret %d leaked as %q in:\n%s", i, enc, out)
					}
				}
			}
			if strings.Contains(out, s.addr) || strings.Contains(out, "203.0.113.77") {
				t.Errorf("record address leaked:\n%s", out)
			}
			// What may be logged is: the NodeID, the record's summary, the
			// error message, the peer IP, and redaction markers.
			for _, want := range []string{
				identity.KeyString(s.id.ID()), identity.KeyString(s.record.Key), "signers",
				"[redacted 64 bytes]", "[redacted 48 bytes]", "[redacted 1 provider records]",
				"[redacted wire.Signature]", "[redacted logx.wrapper]", "wire: 1440 bad_signature", "192.0.2.1",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if n := strings.Count(out, "\n"); n != 11 {
				t.Errorf("%d lines, want 11", n)
			}
		})
	}
}

// The type rule itself: what is redacted and what is kept.
func TestSensitiveTypes(t *testing.T) {
	cases := []struct {
		v    any
		want bool
	}{
		{[]byte{1}, true},
		{[4]byte{}, true},
		{ed25519.PrivateKey{}, true},
		{wire.Signature{}, true},
		{wire.Envelope{}, true},
		{identity.Identity{}, true},
		{map[string]any{}, true},
		{[]any{}, true},
		{struct{ E error }{}, false},
		{kbucket.ID{}, false},
		{kbucket.Peer{}, false},
		{net.IP{}, false},
		{wire.NodeInfo{}, true}, // its ID is a plain [32]byte: redacted to be safe
		{[]string{}, false},
		{struct{ A, B int }{}, false},
		{struct{ x fmt.Stringer }{}, true}, // unexported interface field
	}
	for _, c := range cases {
		if got := sensitiveType(reflect.TypeOf(c.v), map[reflect.Type]bool{}); got != c.want {
			t.Errorf("%T: sensitive %v, want %v", c.v, got, c.want)
		}
	}
}
