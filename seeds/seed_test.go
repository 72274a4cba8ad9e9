package seeds

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/svc-dht/svc-dht/kbucket"
	"pgregory.net/rapid"
)

const hexID = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func mustID(t testing.TB, s string) kbucket.ID {
	t.Helper()
	id, err := kbucket.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustParse(t testing.TB, s string) Seed {
	t.Helper()
	sd, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

func TestParseGood(t *testing.T) {
	id := mustID(t, hexID)
	for _, tc := range []struct {
		in   string
		want Seed
	}{
		{"quic://127.0.0.1:4433", Seed{Addr: "quic://127.0.0.1:4433", Host: "127.0.0.1", Port: 4433}},
		{" quic://seed-1.example.net:1\n", Seed{Addr: "quic://seed-1.example.net:1", Host: "seed-1.example.net", Port: 1}},
		{"QUIC://Example.ORG:65535", Seed{Addr: "quic://example.org:65535", Host: "example.org", Port: 65535}},
		{"quic://localhost:04433", Seed{Addr: "quic://localhost:4433", Host: "localhost", Port: 4433}},
		{"quic://[2001:DB8:0:0::1]:4433", Seed{Addr: "quic://[2001:db8::1]:4433", Host: "2001:db8::1", Port: 4433}},
		{"quic://[::1]:9", Seed{Addr: "quic://[::1]:9", Host: "::1", Port: 9}},
		{"quic://[fe80::1%eth0]:4433", Seed{Addr: "quic://[fe80::1%eth0]:4433", Host: "fe80::1%eth0", Port: 4433}},
		{"quic://[::ffff:10.0.0.1]:4433", Seed{Addr: "quic://[::ffff:10.0.0.1]:4433", Host: "::ffff:10.0.0.1", Port: 4433}},
		{"quic://xn--bcher-kva.de:4433", Seed{Addr: "quic://xn--bcher-kva.de:4433", Host: "xn--bcher-kva.de", Port: 4433}},
		{"quic://3com.com:4433", Seed{Addr: "quic://3com.com:4433", Host: "3com.com", Port: 4433}},
		{hexID + "@quic://10.1.2.3:4433", Seed{Addr: "quic://10.1.2.3:4433", Host: "10.1.2.3", Port: 4433, ID: id, Pinned: true}},
		{"b3:" + strings.ToUpper(hexID) + "@quic://[2001:db8::2]:1", Seed{Addr: "quic://[2001:db8::2]:1", Host: "2001:db8::2", Port: 1, ID: id, Pinned: true}},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		again, err := Parse(got.String())
		if err != nil || again != got {
			t.Errorf("round trip of %q via %q: %+v, %v", tc.in, got.String(), again, err)
		}
	}
}

func TestParseBad(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct{ in, part, msg string }{
		{"", "seed", "empty"},
		{"  \t", "seed", "empty"},
		{"127.0.0.1:4433", "scheme", "missing"},
		{"udp://1.2.3.4:1", "scheme", `"udp://" is not supported`},
		{"quic:/1.2.3.4:1", "scheme", "missing"},
		{"@quic://a.b:1", "id", "empty before '@'"},
		{"abcd@quic://a.b:1", "id", "want 64 hex digits"},
		{strings.Repeat("zz", 32) + "@quic://a.b:1", "id", "invalid byte"},
		{hexID + "@" + hexID + "@quic://a.b:1", "id", "more than one '@'"},
		{hexID + "@quic://u@a.b:1", "address", `unexpected "@a.b:1"`},
		{"quic://user@host:1", "address", "user part"},
		{"quic://host:1/path", "address", `unexpected "/path"`},
		{"quic://host:1?x=1", "address", "unexpected"},
		{"quic://ho st:1", "address", "unexpected"},
		{"quic://host", "port", "missing ':port'"},
		{"quic://host:", "port", "empty"},
		{"quic://host:0", "port", "0 cannot be dialed"},
		{"quic://host:65536", "port", "not a number in 1-65535"},
		{"quic://host:-1", "port", "not a number"},
		{"quic://host:+1", "port", "not a number"},
		{"quic://host:http", "port", "not a number"},
		{"quic://:4433", "host", "empty"},
		{"quic://2001:db8::1:4433", "host", "must be in brackets"},
		{"quic://[2001:db8::1:4433", "host", "missing ']'"},
		{"quic://[2001:db8::1]4433", "port", "missing ':port'"},
		{"quic://[2001:db8::1]", "port", "missing ':port'"},
		{"quic://[10.0.0.1]:4433", "host", "not an IPv6 address"},
		{"quic://[example.com]:4433", "host", "not an IPv6 address"},
		{"quic://exa_mple.com:1", "host", "not allowed"},
		{"quic://bücher.de:1", "host", "punycode"},
		{"quic://-a.com:1", "host", "starting or ending with '-'"},
		{"quic://a-.com:1", "host", "starting or ending with '-'"},
		{"quic://a..com:1", "host", "empty label"},
		{"quic://example.com.:1", "host", "empty label"},
		{"quic://" + long + ".com:1", "host", "over 63 bytes"},
		{"quic://" + strings.Repeat("a.", 127) + "com:1", "host", "max 253"},
		{"quic://1.2.3:1", "host", "neither an IP address nor a host name"},
		{"quic://10.0.0.256:1", "host", "neither an IP address nor a host name"},
		{"quic://0.0.0.0:4433", "host", "not a unicast address"},
		{"quic://[::]:4433", "host", "not a unicast address"},
		{"quic://[ff02::1]:4433", "host", "not a unicast address"},
		{"quic://224.0.0.1:4433", "host", "not a unicast address"},
	} {
		_, err := Parse(tc.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want a *ParseError", tc.in, err)
			continue
		}
		if pe.Part != tc.part || pe.Input != tc.in {
			t.Errorf("Parse(%q): part %q input %q, want part %q (%v)", tc.in, pe.Part, pe.Input, tc.part, err)
		}
		if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) {
			t.Errorf("Parse(%q) error %q should quote the input and say %q", tc.in, err, tc.msg)
		}
	}
}

// TestParseRoundTripProperty: any valid seed renders to a string that
// parses back to the same seed.
func TestParseRoundTripProperty(t *testing.T) {
	label := rapid.StringMatching(`[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?`)
	rapid.Check(t, func(t *rapid.T) {
		var host string
		switch rapid.IntRange(0, 2).Draw(t, "kind") {
		case 0:
			b := rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "v4")
			b[0] = byte(rapid.IntRange(1, 223).Draw(t, "v4first")) // unicast
			host = netip.AddrFrom4([4]byte(b)).String()
		case 1:
			b := rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "v6")
			b[0] = byte(rapid.IntRange(0, 0xfe).Draw(t, "v6first")) // not multicast
			if b[0] == 0 {
				b[15] |= 2 // never the unspecified address ::
			}
			host = "[" + netip.AddrFrom16([16]byte(b)).String() + "]"
		default:
			ls := rapid.SliceOfN(label, 1, 4).Draw(t, "labels")
			host = strings.Join(ls, ".") + ".example"
		}
		in := fmt.Sprintf("quic://%s:%d", host, rapid.IntRange(1, 65535).Draw(t, "port"))
		if rapid.Bool().Draw(t, "pinned") {
			id := rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "id")
			in = kbucket.ID(id).String() + "@" + in
		}
		s, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if s.String() != in {
			t.Fatalf("Parse(%q).String() = %q", in, s.String())
		}
		again, err := Parse(s.String())
		if err != nil || again != s {
			t.Fatalf("round trip %q: %+v, %v", in, again, err)
		}
	})
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"quic://[2001:db8::1]:4433": "[2001:db8::1]:4433",
		"quic://10.0.0.1:1":         "10.0.0.1:1",
		"quic://a.example:2":        "a.example:2",
	} {
		if got := mustParse(t, in).HostPort(); got != want {
			t.Errorf("%s HostPort = %q, want %q", in, got, want)
		}
	}
}

func TestParseList(t *testing.T) {
	text := "# seeds\n\nquic://a.example:1   # first\r\n  " + hexID + "@quic://[::1]:2\nquic://A.example:1\n"
	got, err := ParseList("x.txt", text)
	if err != nil {
		t.Fatal(err)
	}
	want := []Seed{mustParse(t, "quic://a.example:1"), mustParse(t, hexID+"@quic://[::1]:2")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ParseList = %v, want %v", got, want)
	}
	_, err = ParseList("x.txt", "# ok\nquic://a.example:1\nquic://bad\n")
	if err == nil || !strings.Contains(err.Error(), "x.txt line 3") {
		t.Fatalf("bad line: %v, want an error naming x.txt line 3", err)
	}
}

// TestDefaultListParses parses the embedded list and checks that every
// non-comment line became a seed and that no entry is a loopback, private
// or unspecified IP (the rule stated in default.txt).
func TestDefaultListParses(t *testing.T) {
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	entries := 0
	for line := range strings.SplitSeq(defaultList, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			entries++
		}
	}
	if len(def) != entries {
		t.Fatalf("Default() = %d seeds, default.txt has %d entry lines", len(def), entries)
	}
	if !strings.Contains(defaultList, "#") {
		t.Fatal("default.txt lost its explanatory comments")
	}
	for _, s := range def {
		if a, err := netip.ParseAddr(s.Host); err == nil && (a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast()) {
			t.Errorf("default seed %s is a local address", s)
		}
	}
	all, err := FromConfig(nil, true)
	if err != nil || len(all) != len(def) {
		t.Fatalf("FromConfig(nil, true) = %d seeds, %v; want the %d defaults", len(all), err, len(def))
	}
}

func TestMerge(t *testing.T) {
	idX := mustID(t, hexID)
	idY := mustID(t, strings.Repeat("ab", 32))
	a := mustParse(t, "quic://a.example:1")
	aPinY := mustParse(t, idY.String()+"@quic://A.example:01")
	bPinX := mustParse(t, idX.String()+"@quic://[2001:db8::1]:2")
	b := mustParse(t, "quic://[2001:DB8::1]:2")
	c := mustParse(t, "quic://10.0.0.1:3")

	got, err := Merge([]Seed{a, bPinX}, []Seed{b, c, aPinY, c})
	if err != nil {
		t.Fatal(err)
	}
	want := []Seed{aPinY, bPinX, c}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Merge = %v, want %v", got, want)
	}
	if got, err := Merge([]Seed{bPinX}, []Seed{bPinX}); err != nil || len(got) != 1 {
		t.Fatalf("same pin twice: %v, %v", got, err)
	}
	bPinY := mustParse(t, idY.String()+"@quic://[2001:db8::1]:2")
	if _, err := Merge([]Seed{b, bPinX}, []Seed{bPinY}); !errors.Is(err, ErrConflictingID) {
		t.Fatalf("conflicting pins: %v, want ErrConflictingID", err)
	}
	if got, err := Merge(); err != nil || len(got) != 0 {
		t.Fatalf("Merge() = %v, %v", got, err)
	}
}

func TestFromConfig(t *testing.T) {
	got, err := FromConfig([]string{"quic://a.example:1", "quic://A.EXAMPLE:1", "quic://[::1]:2"}, false)
	if err != nil || len(got) != 2 {
		t.Fatalf("FromConfig = %v, %v; want 2 seeds", got, err)
	}
	_, err = FromConfig([]string{"quic://a.example:1", "quic://a.example"}, true)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Part != "port" || !strings.Contains(err.Error(), "bootstrap.seeds: seed 2") {
		t.Fatalf("bad configured seed: %v", err)
	}
	if got, err := FromConfig(nil, false); err != nil || len(got) != 0 {
		t.Fatalf("nothing configured: %v, %v", got, err)
	}
}
