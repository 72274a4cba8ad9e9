package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

func TestIDText(t *testing.T) {
	id := ID(testID("x"))
	b, err := json.Marshal(id)
	if err != nil || string(b) != `"`+identity.KeyString(kbucket.ID(id))+`"` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back ID
	if err := json.Unmarshal(b, &back); err != nil || back != id {
		t.Errorf("Unmarshal = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`"`+kbucket.ID(id).String()+`"`), &back); err != nil || back != id {
		t.Errorf("bare hex: %v, %v", back, err)
	}
	for _, bad := range []string{`""`, `"b3:"`, `"b3:1234"`, `"` + strings.Repeat("x", 64) + `"`, `5`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
}

func TestMillisJSON(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "0",
		1500 * time.Microsecond:  "1.5",
		12345 * time.Microsecond: "12.345",
		2 * time.Second:          "2000",
		1499 * time.Nanosecond:   "0.001", // rounded to the microsecond
		-3 * time.Millisecond:    "-3",
	} {
		b, err := json.Marshal(Millis(d))
		if err != nil || string(b) != want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", d, b, err, want)
		}
	}
	var m Millis
	for _, bad := range []string{`"1"`, `1e400`, `null1`, `1e300`} {
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("Unmarshal(%s) accepted: %v", bad, m)
		}
	}
}

func TestPropMillisRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		us := rapid.Int64Range(-1e12, 1e12).Draw(t, "us") // ±11.5 days in µs
		d := time.Duration(us) * time.Microsecond
		b, err := json.Marshal(Millis(d))
		if err != nil {
			t.Fatal(err)
		}
		var back Millis
		if err := json.Unmarshal(b, &back); err != nil || back.Duration() != d {
			t.Fatalf("%v → %s → %v (%v)", d, b, back.Duration(), err)
		}
	})
}

func TestParsePeer(t *testing.T) {
	id := testID("p")
	good := map[string]PeerRef{
		"":                                 {},
		"  ":                               {},
		ID(id).String():                    {ID: id, HasID: true},
		id.String():                        {ID: id, HasID: true},
		"quic://127.0.0.1:4433":            {Addr: "quic://127.0.0.1:4433"},
		"quic://[::1]:4433":                {Addr: "quic://[::1]:4433"},
		"quic://Node.Example:1":            {Addr: "quic://node.example:1"},
		id.String() + "@quic://10.0.0.1:9": {ID: id, HasID: true, Addr: "quic://10.0.0.1:9"},
	}
	for in, want := range good {
		got, err := ParsePeer(in)
		if err != nil || got != want {
			t.Errorf("ParsePeer(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"abc", "b3:12", "quic://", "quic://1.2.3.4", "tcp://1.2.3.4:5", "x@quic://1.2.3.4:5", "@quic://1.2.3.4:5", "quic://0.0.0.0:1"} {
		if _, err := ParsePeer(in); err == nil {
			t.Errorf("ParsePeer(%q) accepted", in)
		}
	}
}

func TestPropPeerRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var p PeerRef
		if rapid.Bool().Draw(t, "hasID") {
			copy(p.ID[:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "id"))
			p.HasID = true
		}
		if rapid.Bool().Draw(t, "hasAddr") {
			ip := rapid.SliceOfN(rapid.IntRange(1, 223), 4, 4).Draw(t, "ip")
			port := rapid.IntRange(1, 65535).Draw(t, "port")
			p.Addr = "quic://" + strings.Join([]string{strconv.Itoa(ip[0]), strconv.Itoa(ip[1]), strconv.Itoa(ip[2]), strconv.Itoa(ip[3])}, ".") + ":" + strconv.Itoa(port)
		}
		got, err := ParsePeer(p.String())
		if err != nil || got != p {
			t.Fatalf("ParsePeer(%q) = %+v, %v; want %+v", p.String(), got, err, p)
		}
	})
}

func TestParseTTL(t *testing.T) {
	good := map[string]time.Duration{
		"24h": 24 * time.Hour, "1m": time.Minute, "48h": 48 * time.Hour, "90m": 90 * time.Minute,
		"3600": time.Hour, "60": time.Minute, "1h30m15s": time.Hour + 30*time.Minute + 15*time.Second,
	}
	for in, want := range good {
		if got, err := ParseTTL(in); err != nil || got != want {
			t.Errorf("ParseTTL(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                     "want a duration",
		"soon":                 "want a duration",
		"59s":                  "below the minimum",
		"59":                   "below the minimum",
		"-1h":                  "below the minimum",
		"48h0m1s":              "above the maximum",
		"172801":               "above the maximum",
		"1m0.5s":               "whole number of seconds",
		"99999999999999999999": "want a duration",
	}
	for in, want := range bad {
		if _, err := ParseTTL(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTTL(%q) error %v, want %q", in, err, want)
		}
	}
}

func TestParseAddr(t *testing.T) {
	if got, err := ParseAddr(" quic://[2001:DB8::5]:443 "); err != nil || got != "quic://[2001:db8::5]:443" {
		t.Errorf("ParseAddr = %q, %v", got, err)
	}
	for _, in := range []string{"", "quic://h", "http://h:1", testID("a").String() + "@quic://h:1"} {
		if _, err := ParseAddr(in); err == nil {
			t.Errorf("ParseAddr(%q) accepted", in)
		}
	}
}

func TestProviderFromRecord(t *testing.T) {
	rec := &wire.ProviderRecord{
		ProtoVer: 1, Key: testID("k"), Publisher: testID("pub"), Addrs: []string{"quic://192.0.2.1:1"},
		TTL: 7200, TS: 1700000000,
		Signers: []wire.Signer{{Alg: wire.AlgEd25519}, {Alg: wire.AlgMLDSA87}, {Alg: 9}},
		Sigs:    []wire.Signature{{Alg: wire.AlgEd25519, PublicKey: []byte{1}, Sig: []byte{2}}},
	}
	p := ProviderFromRecord(rec)
	want := Provider{Publisher: ID(testID("pub")), Addrs: []string{"quic://192.0.2.1:1"}, TTL: 7200, TS: 1700000000,
		Algs: []string{"ed25519", "ml-dsa-87", "alg(9)"}}
	b1, _ := json.Marshal(p)
	b2, _ := json.Marshal(want)
	if string(b1) != string(b2) {
		t.Errorf("ProviderFromRecord = %s, want %s", b1, b2)
	}
	rec.Addrs[0] = "changed"
	if p.Addrs[0] == "changed" {
		t.Error("ProviderFromRecord shares the record's addrs")
	}
}
