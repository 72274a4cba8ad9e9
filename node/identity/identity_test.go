package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/svc-dht/svc-dht/kbucket"
)

// seeded returns a deterministic random source for tests.
func seeded(b byte) *rand.ChaCha8 {
	var s [32]byte
	for i := range s {
		s[i] = b
	}
	return rand.NewChaCha8(s)
}

func fill(b byte) []byte { return bytes.Repeat([]byte{b}, SeedSize) }

func mustSeeds(t testing.TB, ed, pq []byte) *Identity {
	t.Helper()
	id, err := FromSeeds(ed, pq)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestKeyFromBytesKnownAnswer(t *testing.T) {
	// BLAKE3-256 of the empty input, from the BLAKE3 specification's test
	// vectors: checks that content keys are plain unkeyed BLAKE3-256.
	const empty = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
	if got := KeyFromBytes(nil); got.String() != empty {
		t.Fatalf("KeyFromBytes(nil) = %s, want %s", got, empty)
	}
	if KeyFromBytes([]byte("a")) == KeyFromBytes([]byte("b")) {
		t.Fatal("distinct inputs gave the same key")
	}
}

func TestKeyStringRoundTrip(t *testing.T) {
	k := KeyFromBytes([]byte("svc-dht"))
	s := KeyString(k)
	if !strings.HasPrefix(s, "b3:") || len(s) != 3+64 || s[3:] != k.String() {
		t.Fatalf("KeyString = %q", s)
	}
	back, err := kbucket.ParseID(s)
	if err != nil || back != k {
		t.Fatalf("ParseID(%q) = %v, %v; want %v", s, back, err, k)
	}
}

func TestNodeIDIsHashOfEd25519Key(t *testing.T) {
	id := mustSeeds(t, fill(1), nil)
	pk := id.PublicKey()
	if len(pk) != ed25519.PublicKeySize {
		t.Fatalf("public key is %d bytes", len(pk))
	}
	if got := NodeIDFromPublicKey(pk); got != id.ID() {
		t.Fatalf("NodeIDFromPublicKey = %v, ID() = %v", got, id.ID())
	}
	if got := KeyFromBytes(pk); got != id.ID() {
		t.Fatal("NodeID differs from BLAKE3-256 of the public key bytes")
	}
	// The Ed25519 key is the RFC 8032 key of the seed.
	want := ed25519.NewKeyFromSeed(fill(1)).Public().(ed25519.PublicKey)
	if !want.Equal(pk) {
		t.Fatal("public key is not the RFC 8032 key of the seed")
	}
	if !bytes.Equal(id.PrivateKey().Seed(), fill(1)) {
		t.Fatal("private key does not carry the seed")
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, err := Generate(seeded(7), true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(seeded(7), true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Generate(seeded(8), true)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() != b.ID() || !bytes.Equal(a.PQPublicKey(), b.PQPublicKey()) {
		t.Fatal("same seed gave different identities")
	}
	if a.ID() == c.ID() || bytes.Equal(a.PQPublicKey(), c.PQPublicKey()) {
		t.Fatal("different seeds gave the same identity")
	}
	// Generate reads the Ed25519 seed first, then the ML-DSA-87 seed.
	var seeds [64]byte
	r := seeded(7)
	_, _ = r.Read(seeds[:])
	d := mustSeeds(t, seeds[:32], seeds[32:])
	if d.ID() != a.ID() || !bytes.Equal(d.PQPublicKey(), a.PQPublicKey()) {
		t.Fatal("Generate does not derive from the first 64 bytes of the reader")
	}
	if !a.HasPQ() || len(a.PQPublicKey()) != MLDSA87PublicKeySize {
		t.Fatal("dual identity lacks its ML-DSA-87 key")
	}
	h, ok := a.PQKeyHash()
	if !ok || h != KeyFromBytes(a.PQPublicKey()) {
		t.Fatal("PQKeyHash is not BLAKE3 of the packed public key")
	}
	e, err := Generate(seeded(7), false)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() != a.ID() || e.HasPQ() || e.PQPublicKey() != nil {
		t.Fatal("classical identity: wrong ID or unexpected PQ key")
	}
	if _, ok := e.PQKeyHash(); ok {
		t.Fatal("classical identity reports a PQ key hash")
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, err := Generate(nil, false); err == nil {
		t.Fatal("nil reader accepted")
	}
	if _, err := Generate(bytes.NewReader(make([]byte, 40)), true); err == nil {
		t.Fatal("short reader accepted for a dual identity")
	}
	if _, err := Generate(bytes.NewReader(make([]byte, 31)), false); err == nil {
		t.Fatal("short reader accepted")
	}
}

func TestFromSeedsErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ed, pq []byte
	}{
		{"ed short", make([]byte, 31), nil},
		{"ed long", make([]byte, 33), nil},
		{"ed nil", nil, nil},
		{"pq short", fill(1), make([]byte, 31)},
		{"pq empty", fill(1), []byte{}},
	} {
		if _, err := FromSeeds(tc.ed, tc.pq); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestIdentityDoesNotLeakKeys(t *testing.T) {
	id := mustSeeds(t, fill(0xab), fill(0xcd))
	var log bytes.Buffer
	slog.New(slog.NewJSONHandler(&log, nil)).Info("x", "id", id)
	for _, s := range []string{
		id.String(), fmt.Sprintf("%v", id), fmt.Sprintf("%+v", id), fmt.Sprintf("%#v", id), log.String(),
	} {
		if strings.Contains(s, "abab") || strings.Contains(s, "cdcd") {
			t.Fatalf("key material in %q", s)
		}
		if !strings.Contains(s, id.ID().String()) {
			t.Fatalf("NodeID missing from %q", s)
		}
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	for _, pq := range [][]byte{nil, fill(2)} {
		id := mustSeeds(t, fill(1), pq)
		file := id.MarshalKeyFile()
		back, err := ParseKeyFile(file)
		if err != nil {
			t.Fatalf("ParseKeyFile: %v\n%s", err, file)
		}
		if back.ID() != id.ID() || back.HasPQ() != id.HasPQ() || !bytes.Equal(back.PQPublicKey(), id.PQPublicKey()) {
			t.Fatal("round trip changed the identity")
		}
		if !bytes.Equal(back.MarshalKeyFile(), file) {
			t.Fatal("re-marshalled key file differs")
		}
		// CRLF line ends and extra blanks and comments are accepted.
		crlf := strings.ReplaceAll("\n# comment\n\n"+string(file), "\n", "  \r\n")
		if back, err := ParseKeyFile([]byte(crlf)); err != nil || back.ID() != id.ID() {
			t.Fatalf("CRLF key file: %v", err)
		}
	}
}

func TestKeyFileRejects(t *testing.T) {
	good := string(mustSeeds(t, fill(1), fill(2)).MarshalKeyFile())
	other := mustSeeds(t, fill(3), fill(4))
	line := func(name string) string {
		for l := range strings.SplitSeq(good, "\n") {
			if strings.HasPrefix(l, name+":") {
				return l
			}
		}
		t.Fatalf("no %s line", name)
		return ""
	}
	drop := func(name string) string { return strings.Replace(good, line(name)+"\n", "", 1) }
	set := func(name, value string) string { return strings.Replace(good, line(name), name+": "+value, 1) }
	for _, tc := range []struct {
		name, file, want string
	}{
		{"empty", "", "missing version"},
		{"no version", drop("version"), "missing version"},
		{"version 2", set("version", "2"), "unsupported version"},
		{"no ed seed", drop("ed25519-seed"), "missing ed25519-seed"},
		{"no node id", drop("node-id"), "missing node-id"},
		{"wrong node id", set("node-id", KeyString(other.ID())), "derives node-id"},
		{"node id without b3", set("node-id", other.ID().String()), "want b3:"},
		{"short seed", set("ed25519-seed", strings.Repeat("01", 31)), "31 bytes"},
		{"bad hex", set("ed25519-seed", strings.Repeat("zz", 32)), "invalid byte"},
		{"pq seed alone", drop("mldsa87-key-hash"), "must appear together"},
		{"pq hash alone", drop("mldsa87-seed"), "must appear together"},
		{"wrong pq hash", set("mldsa87-key-hash", KeyString(other.ID())), "derives key hash"},
		{"unknown entry", good + "colour: blue\n", "unknown entry"},
		{"duplicate", good + line("version") + "\n", "duplicate entry"},
		{"no colon", good + "garbage\n", "name: value"},
		{"too big", good + "#" + strings.Repeat("x", MaxKeyFileSize), "limit"},
	} {
		_, err := ParseKeyFile([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestKeyFileIsHexOfSeeds(t *testing.T) {
	// The documented format: seeds in lowercase hex.
	file := string(mustSeeds(t, fill(0x11), fill(0x22)).MarshalKeyFile())
	for _, want := range []string{
		"version: 1\n",
		"ed25519-seed: " + hex.EncodeToString(fill(0x11)) + "\n",
		"mldsa87-seed: " + hex.EncodeToString(fill(0x22)) + "\n",
	} {
		if !strings.Contains(file, want) {
			t.Errorf("key file lacks %q:\n%s", want, file)
		}
	}
}
