package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// framed returns a snapshot file of payload under magic.
func framed(magic string, payload []byte) []byte {
	buf := append(make([]byte, headerSize), payload...)
	frame(buf, magic)
	return buf
}

func TestFrameLayout(t *testing.T) {
	payload := []byte{0x80}
	b := framed(magicTable, payload)
	if len(b) != 52+1 {
		t.Fatalf("file of %d bytes, want 53", len(b))
	}
	if string(b[:8]) != "svcdhtRT" || binary.BigEndian.Uint32(b[8:12]) != 1 || binary.BigEndian.Uint64(b[12:20]) != 1 {
		t.Fatalf("header % x", b[:20])
	}
	got, err := unframe(b, magicTable)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("unframe = % x, %v", got, err)
	}
}

func TestUnframeDetails(t *testing.T) {
	good := framed(magicTable, []byte("payload bytes"))
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"magic only", good[:8], ErrTruncated},
		{"header only", good[:headerSize], ErrTruncated},
		{"short header", good[:headerSize-1], ErrTruncated},
		{"payload cut", good[:len(good)-1], ErrTruncated},
		{"trailing byte", append(bytes.Clone(good), 0), ErrTrailing},
		{"other kind", framed(magicProviders, []byte("payload bytes")), ErrMagic},
		{"garbage", []byte("#!/bin/sh\necho hello\n"), ErrMagic},
		{"version 2", mutate(func(b []byte) []byte { b[11] = 2; return b }), ErrVersion},
		{"length too large", mutate(func(b []byte) []byte { b[12] = 0x80; return b }), ErrTruncated},
		{"checksum flipped", mutate(func(b []byte) []byte { b[30] ^= 1; return b }), ErrChecksum},
		{"payload flipped", mutate(func(b []byte) []byte { b[headerSize] ^= 0x40; return b }), ErrChecksum},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := unframe(c.data, magicTable)
			if !errors.Is(err, c.want) {
				t.Fatalf("unframe: %v, want %v", err, c.want)
			}
		})
	}
}

func TestCorruptErrorMatches(t *testing.T) {
	err := error(&CorruptError{Path: "/d/table.snap", Err: ErrChecksum})
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrChecksum) || errors.Is(err, ErrTruncated) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
	if got := err.Error(); got != "persist: corrupt snapshot /d/table.snap: bad checksum" {
		t.Fatalf("message %q", got)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b") // created by the write
	path := filepath.Join(dir, "f")
	for _, content := range []string{"first version", "second, longer version", ""} {
		if err := writeFileAtomic(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
		if names := listDir(t, dir); len(names) != 1 {
			t.Fatalf("directory holds %q, want only the file", names)
		}
	}
	if m := fileMode(t, path); m != 0o600 {
		t.Fatalf("file mode %#o, want 0600", m)
	}
	if m := fileMode(t, dir); m != DirMode {
		t.Fatalf("directory mode %#o, want %#o", m, DirMode)
	}
	if err := writeFileAtomic(path, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, path); m != 0o640 {
		t.Fatalf("file mode %#o, want 0640", m)
	}
}

func TestWriteFileAtomicFailureLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory where the file should go: the rename fails.
	target := filepath.Join(dir, "snap")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := writeFileAtomic(target, []byte("data"), 0o600)
	if err == nil {
		t.Fatal("write over a non-empty directory succeeded")
	}
	if !strings.Contains(err.Error(), target) {
		t.Fatalf("error %q does not name %s", err, target)
	}
	if names := listDir(t, dir); len(names) != 1 || names[0] != "snap" {
		t.Fatalf("directory holds %q after a failed write, want only snap", names)
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "table.snap")
	keep := []string{"table.snap", ".providers.snap.tmp-1", "table.snap.tmp-2", "other"}
	stale := []string{".table.snap.tmp-123", ".table.snap.tmp-"}
	for _, n := range append(keep, stale...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A directory with the prefix is not ours to remove.
	if err := os.Mkdir(filepath.Join(dir, ".table.snap.tmp-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, ".table.snap.tmp-dir")
	if err := removeStale(path); err != nil {
		t.Fatal(err)
	}
	got := listDir(t, dir)
	if len(got) != len(keep) {
		t.Fatalf("left %q, want %q", got, keep)
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Fatalf("%s removed: %v", n, err)
		}
	}
	if err := removeStale(filepath.Join(dir, "missing", "f")); err != nil {
		t.Fatalf("missing directory: %v", err)
	}
}

func TestReadSnapshotNotRegular(t *testing.T) {
	dir := t.TempDir()
	_, found, err := readSnapshot(dir)
	if err == nil || !found || errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading a directory: found=%v err=%v, want a plain error", found, err)
	}
}

// TestTableFormat checks the documented payload of a table snapshot with a
// generic CBOR decoder: an array of maps {0: id, 1: addr, 2: addrs,
// 3: last_seen}, in Core Deterministic Encoding.
func TestTableFormat(t *testing.T) {
	peers := testPeers(3, 2)
	data, err := encodeTable(peers)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := unframe(data, magicTable)
	if err != nil {
		t.Fatal(err)
	}
	var generic []map[uint64]any
	if err := cbor.Unmarshal(payload, &generic); err != nil {
		t.Fatal(err)
	}
	if len(generic) != len(peers) {
		t.Fatalf("%d items, want %d", len(generic), len(peers))
	}
	for i, m := range generic {
		p := peers[i]
		wantAddr := ""
		if p.Addr.IsValid() {
			wantAddr = p.Addr.String()
		}
		addrs, _ := m[2].([]any)
		if len(m) != 4 || !bytes.Equal(m[0].([]byte), p.ID[:]) || m[1] != wantAddr ||
			len(addrs) != len(p.Addrs) || fmt.Sprint(m[3]) != fmt.Sprint(p.LastSeen) {
			t.Fatalf("peer %d encoded as %v, want %+v", i, m, p)
		}
	}
	// Core Deterministic: re-encoding the generic value gives the same bytes.
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := em.Marshal(generic)
	if err != nil || !bytes.Equal(again, payload) {
		t.Fatalf("payload is not in Core Deterministic Encoding: %v", err)
	}
}
