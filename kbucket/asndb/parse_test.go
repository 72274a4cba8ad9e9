package asndb

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestMalformedLines(t *testing.T) {
	long := "1.0.0.0,1.0.0.255,1," + strings.Repeat("x", maxLine)
	for _, c := range []struct {
		name  string
		opt   Options
		in    string
		line  int
		msg   string // exact Error() when full is set, else a substring
		exact bool
	}{
		{"start>end", Options{}, "1.0.0.0,1.0.0.255,1\n# c\n1.2.3.4,1.2.3.0,5\n", 3, "asndb: line 3: start 1.2.3.4 > end 1.2.3.0", true},
		{"start>end v6", Options{}, "2001:db8::10,2001:db8::1,5\n", 1, "start 2001:db8::10 > end 2001:db8::1", false},
		{"mixed families", Options{}, "1.0.0.0,1.0.0.255,1\n1.2.3.4,::1,7\n", 2, "start 1.2.3.4 and end ::1 are of different address families", false},
		{"mapped then v6", Options{}, "::ffff:1.2.3.4,2001:db8::1,7\n", 1, "different address families", false},
		{"bad ASN text", Options{}, "1.2.3.4,1.2.3.5,AS7\n", 1, `bad ASN "AS7"`, false},
		{"bad ASN negative", Options{}, "1.2.3.4,1.2.3.5,-1\n", 1, `bad ASN "-1"`, false},
		{"bad ASN too big", Options{}, "1.2.3.4,1.2.3.5,4294967296\n", 1, "above 4294967295", false},
		{"bad ASN too long", Options{}, "1.2.3.4,1.2.3.5,00000000001\n", 1, "bad ASN", false},
		{"empty ASN", Options{}, "1.2.3.4,1.2.3.5,\n", 1, `bad ASN ""`, false},
		{"short v4", Options{}, "1.2.3,1.2.3.5,1\n", 1, "bad start address", false},
		{"octet 256", Options{}, "1.2.3.4,1.2.3.256,1\n", 1, "bad end address", false},
		{"leading zero", Options{}, "01.2.3.4,1.2.3.5,1\n", 1, "bad start address", false},
		{"zone", Options{}, "fe80::1%eth0,fe80::2,1\n", 1, "has a zone", false},
		{"two fields", Options{}, "1.2.3.4,1.2.3.5\n", 1, "want at least 3 comma-separated fields (start, end, ASN), got 2", false},
		{"header not first", Options{}, "1.0.0.0,1.0.0.255,1\nstart_ip,end_ip,asn\n", 2, "bad start address", false},
		{"csv line as tsv", Options{Format: FormatTSV}, "1.2.3.4,1.2.3.5,1\n", 1, "want at least 3 tab-separated fields", false},
		{"tsv bad asn", Options{}, "1.0.0.0\t1.0.0.255\tx\tZZ\tX\n", 1, `bad ASN "x"`, false},
		{"org unterminated", Options{Orgs: true}, "1.2.3.4,1.2.3.5,1,\"Acme, Inc.\n", 1, "org field: unterminated quoted field", false},
		{"org after quote", Options{Orgs: true}, "1.2.3.4,1.2.3.5,1,\"Acme\" Inc\n", 1, "org field: text after closing quote", false},
		{"org lone quote", Options{Orgs: true}, "1.2.3.4,1.2.3.5,1,\"\n", 1, "org field: unterminated quoted field", false},
		{"org unquoted comma", Options{Orgs: true}, "1.2.3.4,1.2.3.5,1,Acme, Inc.\n", 1, "org field: unquoted comma", false},
		{"org bare quote", Options{Orgs: true}, "1.2.3.4,1.2.3.5,1,Acme \"X\"\n", 1, "org field: quote in unquoted field", false},
		{"long line", Options{}, "1.0.0.0,1.0.0.255,1\n" + long + "\n", 2, "line longer than 65536 bytes", false},
		{"bad gzip", Options{}, "\x1f\x8bnot really gzip", 1, "gzip:", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(c.in), c.opt)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Line != c.line {
				t.Errorf("Line = %d, want %d (%v)", pe.Line, c.line, err)
			}
			if c.exact && err.Error() != c.msg {
				t.Errorf("Error() = %q, want %q", err, c.msg)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("Error() = %q, want it to contain %q", err, c.msg)
			}
		})
	}
}

func TestErrorNamesSource(t *testing.T) {
	b := NewBuilder(Options{})
	err := b.Add("asn-ipv4.csv", strings.NewReader("1.0.0.0,1.0.0.255,1\n1.2.3.4,1.2.3.0,5\n"))
	if want := "asndb: asn-ipv4.csv: line 2: start 1.2.3.4 > end 1.2.3.0"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if _, err := LoadFiles(Options{}, "testdata/does-not-exist.csv"); err == nil || !strings.Contains(err.Error(), "does-not-exist.csv") {
		t.Fatalf("missing file: err = %v", err)
	}
}

func TestNoRanges(t *testing.T) {
	for name, in := range map[string]string{
		"empty":           "",
		"comments":        "# nothing\n\n   \n",
		"header only":     "start_ip,end_ip,asn,org\n",
		"not routed only": "1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n",
	} {
		if _, err := Load(strings.NewReader(in), Options{}); !errors.Is(err, ErrNoRanges) {
			t.Errorf("%s: err = %v, want ErrNoRanges", name, err)
		}
	}
	if _, err := LoadFiles(Options{}); err == nil {
		t.Error("LoadFiles with no paths: no error")
	}
}

func TestLenientSyntax(t *testing.T) {
	in := "\xef\xbb\xbfip_range_start, ip_range_end, autonomous_system_number, autonomous_system_organization\r\n" +
		"# comment\r\n" +
		"\r\n" +
		" 10.0.0.0 , 10.0.0.255 , 64500 , \"Quoted, Org\" \r\n" +
		"10.0.1.0,10.0.1.255,64501\n" + // no org column
		"10.0.2.0,10.0.2.255,64502,Plain Org" // no final newline
	db, err := Load(strings.NewReader(in), Options{Orgs: true})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]uint32{"10.0.0.0": 64500, "10.0.0.255": 64500, "10.0.1.7": 64501, "10.0.2.255": 64502} {
		if got, ok := db.LookupASN(netip.MustParseAddr(ip)); !ok || got != want {
			t.Errorf("LookupASN(%s) = %d,%v; want %d", ip, got, ok, want)
		}
	}
	if got, _ := db.Org(64500); got != "Quoted, Org" {
		t.Errorf("Org(64500) = %q", got)
	}
	if got, _ := db.Org(64502); got != "Plain Org" {
		t.Errorf("Org(64502) = %q", got)
	}
	if _, ok := db.Org(64501); ok {
		t.Error("Org(64501) found though the line has no org")
	}
	if st := db.Stats(); st.Input != 3 {
		t.Errorf("Stats.Input = %d, want 3", st.Input)
	}
}

func TestFormat(t *testing.T) {
	for _, f := range []Format{FormatAuto, FormatCSV, FormatTSV} {
		g, err := ParseFormat(f.String())
		if err != nil || g != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), g, err)
		}
	}
	if _, err := ParseFormat("json"); err == nil {
		t.Error("ParseFormat(json): no error")
	}
	if _, err := Load(strings.NewReader("1.0.0.0,1.0.0.255,1\n"), Options{Format: 7}); err == nil || !strings.Contains(err.Error(), "Format(7)") {
		t.Errorf("unknown format: err = %v", err)
	}
}

// TestParseV4MatchesNetip checks the fast IPv4 parser against netip on
// strings made of digits and dots.
func TestParseV4MatchesNetip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.StringMatching(`[0-9.]{0,17}`).Draw(t, "s")
		if rapid.Bool().Draw(t, "valid-ish") {
			parts := rapid.SliceOfN(rapid.IntRange(0, 300), 4, 4).Draw(t, "parts")
			s = strings.Join([]string{strconv.Itoa(parts[0]), strconv.Itoa(parts[1]), strconv.Itoa(parts[2]), strconv.Itoa(parts[3])}, ".")
		}
		v, ok := parseV4([]byte(s))
		a, err := netip.ParseAddr(s)
		if ok != (err == nil) {
			t.Fatalf("parseV4(%q) ok=%v, netip err=%v", s, ok, err)
		}
		if ok && a.As4() != [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} {
			t.Fatalf("parseV4(%q) = %08x, netip %s", s, v, a)
		}
	})
}
