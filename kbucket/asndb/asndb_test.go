package asndb

import (
	"bytes"
	"compress/gzip"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var (
	extractV4    = filepath.Join("testdata", "asn-ipv4-extract.csv")
	extractV6    = filepath.Join("testdata", "asn-ipv6-extract.csv")
	syntheticTSV = filepath.Join("testdata", "iptoasn-synthetic.tsv")
)

func loadExtract(t testing.TB, opt Options) *DB {
	t.Helper()
	db, err := LoadFiles(opt, extractV4, extractV6)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestExtractMatchesReference(t *testing.T) {
	db := loadExtract(t, Options{})
	rv4, _ := readRefCSV(t, extractV4)
	rv6, _ := readRefCSV(t, extractV6)
	all := append(append([]refRange(nil), rv4...), rv6...)

	st := db.Stats()
	if st.Input != len(all) || st.Skipped != 0 {
		t.Errorf("Stats Input=%d Skipped=%d, want %d and 0", st.Input, st.Skipped, len(all))
	}
	if st.Overlaps != 2 {
		t.Errorf("Stats.Overlaps = %d, want 2 (the AS749/AS721 pair)", st.Overlaps)
	}
	if db.Len() != st.V4Ranges+st.V6Ranges || st.V6Ranges != len(rv6) {
		t.Errorf("Len=%d V4=%d V6=%d, want V6=%d", db.Len(), st.V4Ranges, st.V6Ranges, len(rv6))
	}
	asns := map[uint32]bool{}
	for _, r := range all {
		asns[r.asn] = true
	}
	if st.ASNs != len(asns) {
		t.Errorf("Stats.ASNs = %d, want %d", st.ASNs, len(asns))
	}

	checked := 0
	for _, r := range all {
		for _, ip := range probes(r) {
			want, wok := refLookup(all, ip)
			got, gok := db.LookupASN(ip)
			if got != want || gok != wok {
				t.Fatalf("LookupASN(%s) = %d,%v; reference %d,%v (range %s-%s AS%d)", ip, got, gok, want, wok, r.start, r.end, r.asn)
			}
			if ip.Is4() {
				m := netip.AddrFrom16(ip.As16())
				if g, ok := db.LookupASN(m); g != want || ok != wok {
					t.Fatalf("LookupASN(%s) = %d,%v; want %d,%v as for %s", m, g, ok, want, wok, ip)
				}
			}
			checked++
		}
	}
	if checked < 4*len(all)-8 {
		t.Fatalf("only %d probes for %d ranges", checked, len(all))
	}
}

func TestExtractKnownRanges(t *testing.T) {
	db := loadExtract(t, Options{Orgs: true})
	// Facts read off the extract's lines (see testdata/README.md).
	for _, c := range []struct {
		ip   string
		asn  uint32
		want bool
	}{
		{"1.1.1.1", 13335, true},            // 1.1.1.0,1.1.1.255,13335,"Cloudflare, Inc."
		{"::ffff:1.1.1.1", 13335, true},     // IPv4-mapped
		{"1.1.2.0", 0, false},               // just after that range; 1.1.2.0 is not in the extract
		{"214.95.0.0", 749, true},           // 214.95.0.0,215.0.255.255,749
		{"214.255.255.255", 749, true},      // inside AS749 only
		{"215.0.0.0", 721, true},            // both; 215.0.0.0-215.1.3.255 (AS721) is narrower
		{"215.0.255.255", 721, true},        // end of the AS749 range, still inside AS721
		{"215.1.3.255", 721, true},          // end of AS721
		{"2001:500:30ff::30", 396552, true}, // single-address IPv6 range
		{"2001:500:30ff::2f", 0, false},
		{"2001:500:30ff::31", 396585, true},
		{"2001:500:30ff:ffff:ffff:ffff:ffff:ffff", 396585, true},
		{"0.0.0.0", 0, false},
		{"::", 0, false},
	} {
		got, ok := db.LookupASN(netip.MustParseAddr(c.ip))
		if got != c.asn || ok != c.want {
			t.Errorf("LookupASN(%s) = %d,%v; want %d,%v", c.ip, got, ok, c.asn, c.want)
		}
	}
	for asn, want := range map[uint32]string{
		13335:  "Cloudflare, Inc.",
		201907: `LLC "SPUTNIK"`,
		749:    "United States Department of Defense (DoD)",
	} {
		if got, ok := db.Org(asn); !ok || got != want {
			t.Errorf("Org(%d) = %q,%v; want %q", asn, got, ok, want)
		}
	}
	if _, ok := db.Org(1); ok {
		t.Error("Org(1) found in the extract")
	}
	if _, ok := loadExtract(t, Options{}).Org(13335); ok {
		t.Error("Org found without Options.Orgs")
	}
}

func TestExtractGzip(t *testing.T) {
	raw, err := os.ReadFile(extractV4)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	gz, err := Load(&buf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Load(bytes.NewReader(raw), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if gz.Len() != plain.Len() || gz.Stats() != plain.Stats() {
		t.Fatalf("gzip load: Len %d Stats %+v; plain: Len %d Stats %+v", gz.Len(), gz.Stats(), plain.Len(), plain.Stats())
	}
	rs, _ := readRefCSV(t, extractV4)
	for _, r := range rs {
		for _, ip := range probes(r) {
			a, aok := gz.LookupASN(ip)
			b, bok := plain.LookupASN(ip)
			if a != b || aok != bok {
				t.Fatalf("LookupASN(%s): gzip %d,%v plain %d,%v", ip, a, aok, b, bok)
			}
		}
	}
}

func TestSyntheticTSV(t *testing.T) {
	for _, f := range []Format{FormatAuto, FormatTSV} {
		t.Run(f.String(), func(t *testing.T) {
			b := NewBuilder(Options{Format: f, Orgs: true})
			fh, err := os.Open(syntheticTSV)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			if err := b.Add(syntheticTSV, fh); err != nil {
				t.Fatal(err)
			}
			db, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			st := db.Stats()
			// 9 data lines: 2 not routed, two adjacent AS64496 ranges merged into one.
			if st.Input != 9 || st.Skipped != 2 || st.Merged != 1 || st.V4Ranges != 4 || st.V6Ranges != 2 || st.ASNs != 6 {
				t.Errorf("Stats = %+v", st)
			}
			for _, c := range []struct {
				ip  string
				asn uint32
				ok  bool
			}{
				{"192.0.1.255", 0, false},
				{"192.0.2.0", 64496, true},
				{"192.0.2.127", 64496, true},
				{"192.0.2.128", 64496, true},
				{"192.0.2.255", 64496, true},
				{"192.0.3.0", 0, false},
				{"198.51.100.7", 0, false}, // not routed
				{"203.0.113.63", 64497, true},
				{"203.0.113.64", 65550, true}, // given as ::ffff:203.0.113.64, stored as IPv4
				{"::ffff:203.0.113.127", 65550, true},
				{"203.0.113.128", 64498, true},
				{"2001:db8::", 64499, true},
				{"2001:db8:0:ffff:ffff:ffff:ffff:ffff", 64499, true},
				{"2001:db8:1::1", 0, false}, // not routed
				{"2001:db8:2::ff", 64500, true},
				{"2001:db8:2::100", 0, false},
				{"fe80::1%eth0", 0, false},
			} {
				got, ok := db.LookupASN(netip.MustParseAddr(c.ip))
				if got != c.asn || ok != c.ok {
					t.Errorf("LookupASN(%s) = %d,%v; want %d,%v", c.ip, got, ok, c.asn, c.ok)
				}
			}
			if got, _ := db.Org(64498); got != "EXAMPLE-C, with a comma" {
				t.Errorf("Org(64498) = %q", got)
			}
			if got, _ := db.Org(64500); got != "EXAMPLE-V6-B narrow range" {
				t.Errorf("Org(64500) = %q", got)
			}
		})
	}
	if _, err := LoadFiles(Options{Format: FormatCSV}, syntheticTSV); err == nil {
		t.Error("TSV file loaded as CSV without error")
	}
}

func TestNilAndInvalid(t *testing.T) {
	var db *DB
	if _, ok := db.LookupASN(netip.MustParseAddr("1.1.1.1")); ok || db.Len() != 0 || db.Stats() != (Stats{}) {
		t.Error("nil DB not empty")
	}
	if _, ok := db.Org(1); ok {
		t.Error("nil DB has an org")
	}
	full := loadExtract(t, Options{})
	if _, ok := full.LookupASN(netip.Addr{}); ok {
		t.Error("zero Addr found")
	}
}

// TestConcurrentReaders exercises the immutability claim under -race.
func TestConcurrentReaders(t *testing.T) {
	db := loadExtract(t, Options{Orgs: true})
	rs, _ := readRefCSV(t, extractV4)
	want := make([]uint32, len(rs))
	for i, r := range rs {
		want[i], _ = db.LookupASN(r.end)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, r := range rs {
				if got, _ := db.LookupASN(r.end); got != want[i] {
					errs <- r.end.String()
					return
				}
				db.Org(want[i])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent lookup of %s differed", e)
	}
}
