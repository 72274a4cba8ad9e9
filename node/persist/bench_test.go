package persist

import (
	"path/filepath"
	"testing"
)

// Benchmark sizes: a full routing table of a well-connected node and a
// busy provider store (Ed25519-signed records, about 300 bytes each).
const (
	benchPeers   = 2000
	benchRecords = 10000
)

func benchDisk(b *testing.B) *Disk {
	d, err := NewDisk(filepath.Join(b.TempDir(), "data"), "")
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkSaveTable includes the fsyncs of the file and the directory.
func BenchmarkSaveTable(b *testing.B) {
	d, peers := benchDisk(b), testPeers(benchPeers, 1)
	data, _ := encodeTable(peers)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := d.SaveTable(peers); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadTable(b *testing.B) {
	d, peers := benchDisk(b), testPeers(benchPeers, 1)
	if err := d.SaveTable(peers); err != nil {
		b.Fatal(err)
	}
	data, _ := encodeTable(peers)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if got, err := d.LoadTable(); err != nil || len(got) != benchPeers {
			b.Fatal(len(got), err)
		}
	}
}

// BenchmarkSaveProviders includes the fsyncs of the file and the directory.
func BenchmarkSaveProviders(b *testing.B) {
	d, recs := benchDisk(b), testRecords(b, benchRecords, false)
	data, _ := encodeProviders(recs)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := d.SaveProviders(recs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadProviders(b *testing.B) {
	d, recs := benchDisk(b), testRecords(b, benchRecords, false)
	if err := d.SaveProviders(recs); err != nil {
		b.Fatal(err)
	}
	data, _ := encodeProviders(recs)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if got, err := d.LoadProviders(); err != nil || len(got) != benchRecords {
			b.Fatal(len(got), err)
		}
	}
}

// The codecs alone, without file I/O.

func BenchmarkEncodeTable(b *testing.B) {
	peers := testPeers(benchPeers, 1)
	benchCodec(b, func() (int, error) { d, err := encodeTable(peers); return len(d), err })
}

func BenchmarkDecodeTable(b *testing.B) {
	data, _ := encodeTable(testPeers(benchPeers, 1))
	benchCodec(b, func() (int, error) { p, err := decodeTable(data); return len(data) * len(p) / benchPeers, err })
}

func BenchmarkEncodeProviders(b *testing.B) {
	recs := testRecords(b, benchRecords, false)
	benchCodec(b, func() (int, error) { d, err := encodeProviders(recs); return len(d), err })
}

func BenchmarkDecodeProviders(b *testing.B) {
	data, _ := encodeProviders(testRecords(b, benchRecords, false))
	benchCodec(b, func() (int, error) { r, err := decodeProviders(data); return len(data) * len(r) / benchRecords, err })
}

// benchCodec runs f, which returns the snapshot size it handled.
func benchCodec(b *testing.B, f func() (int, error)) {
	n, err := f()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		if _, err := f(); err != nil {
			b.Fatal(err)
		}
	}
}
