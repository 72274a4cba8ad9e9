package asndb

import (
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// fullDirEnv names the directory written by scripts/fetch-asn-db.sh
// (asn-ipv4.csv and asn-ipv6.csv). The full-data tests and benchmarks skip
// without it.
const fullDirEnv = "SVC_DHT_ASN_DIR"

func fullFiles(tb testing.TB) []string {
	tb.Helper()
	dir := os.Getenv(fullDirEnv)
	if dir == "" {
		tb.Skipf("full dataset not available: set %s to the directory written by scripts/fetch-asn-db.sh", fullDirEnv)
	}
	return []string{filepath.Join(dir, "asn-ipv4.csv"), filepath.Join(dir, "asn-ipv6.csv")}
}

// sampleAddrs returns n addresses drawn uniformly inside the ranges of rs
// (IPv4 or IPv6 as asked), with a fixed seed.
func sampleAddrs(rs []refRange, v4 bool, n int) []netip.Addr {
	var fam []refRange
	for _, r := range rs {
		if r.start.Is4() == v4 {
			fam = append(fam, r)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	out := make([]netip.Addr, n)
	for i := range out {
		r := fam[rnd.IntN(len(fam))]
		// A random 128-bit number modulo the range size: close enough to uniform.
		x := new(big.Int).SetUint64(rnd.Uint64())
		x.Lsh(x, 64).Add(x, new(big.Int).SetUint64(rnd.Uint64()))
		x.Mod(x, new(big.Int).Add(r.width(), big.NewInt(1)))
		out[i] = addrPlus(r.start, x)
	}
	return out
}

func addrPlus(a netip.Addr, off *big.Int) netip.Addr {
	x := new(big.Int).Add(new(big.Int).SetBytes(a.AsSlice()), off)
	if a.Is4() {
		var b [4]byte
		x.FillBytes(b[:])
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	x.FillBytes(b[:])
	return netip.AddrFrom16(b)
}

func benchLookup(b *testing.B, db *DB, addrs []netip.Addr) {
	b.ReportAllocs()
	var hits int
	i := 0
	for b.Loop() {
		if _, ok := db.LookupASN(addrs[i]); ok {
			hits++
		}
		i++
		if i == len(addrs) {
			i = 0
		}
	}
	if hits == 0 {
		b.Fatal("no lookup hit")
	}
}

func BenchmarkLookupExtract(b *testing.B) {
	db := loadExtract(b, Options{})
	rv4, _ := readRefCSV(b, extractV4)
	rv6, _ := readRefCSV(b, extractV6)
	b.Run("v4", func(b *testing.B) { benchLookup(b, db, sampleAddrs(rv4, true, 4096)) })
	b.Run("v6", func(b *testing.B) { benchLookup(b, db, sampleAddrs(rv6, false, 4096)) })
}

func BenchmarkLoadExtract(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadFiles(Options{}, extractV4, extractV6); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadFull loads the full dataset per iteration. It also reports the
// live heap held by one loaded DB (after GC) and that per stored range.
func BenchmarkLoadFull(b *testing.B) {
	files := fullFiles(b)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	db, err := LoadFiles(Options{}, files...)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	n := float64(db.Len())
	runtime.KeepAlive(db)
	db = nil
	b.ReportAllocs()
	b.ResetTimer() // also drops metrics reported so far: report them after the loop
	for b.Loop() {
		if _, err := LoadFiles(Options{}, files...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(heap, "heap-B")
	b.ReportMetric(heap/n, "heap-B/range")
	b.ReportMetric(n, "ranges")
}

func BenchmarkLookupFull(b *testing.B) {
	files := fullFiles(b)
	db, err := LoadFiles(Options{}, files...)
	if err != nil {
		b.Fatal(err)
	}
	rv4, _ := readRefCSV(b, files[0])
	rv6, _ := readRefCSV(b, files[1])
	v4 := sampleAddrs(rv4, true, 1<<16)
	v6 := sampleAddrs(rv6, false, 1<<16)
	rv4, rv6 = nil, nil
	rnd := rand.New(rand.NewPCG(4, 5))
	random := make([]netip.Addr, 1<<16)
	for i := range random {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], rnd.Uint32())
		random[i] = netip.AddrFrom4(a)
	}
	b.Run("v4", func(b *testing.B) { benchLookup(b, db, v4) })
	b.Run("v6", func(b *testing.B) { benchLookup(b, db, v6) })
	b.Run("v4-uniform", func(b *testing.B) { benchLookup(b, db, random) })
}
