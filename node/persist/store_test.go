package persist

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

func newDisk(t *testing.T) *Disk {
	t.Helper()
	d, err := NewDisk(filepath.Join(t.TempDir(), "data"), "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestTableRoundTrip(t *testing.T) {
	d := newDisk(t)
	for _, n := range []int{5, 0, 300, 1} {
		want := testPeers(n, uint64(n))
		if err := d.SaveTable(want); err != nil {
			t.Fatal(err)
		}
		// A restart: a fresh Disk on the same directory.
		d2, err := NewDisk(d.Dir, "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := d2.LoadTable()
		if err != nil {
			t.Fatalf("%d peers: %v", n, err)
		}
		if n == 0 {
			want = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d peers: loaded %v, want %v", n, got, want)
		}
	}
	if m := fileMode(t, filepath.Join(d.Dir, TableFile)); m != SnapshotMode {
		t.Fatalf("table snapshot mode %#o, want %#o", m, SnapshotMode)
	}
	if m := fileMode(t, d.Dir); m != DirMode {
		t.Fatalf("data dir mode %#o, want %#o", m, DirMode)
	}
}

func TestProvidersRoundTrip(t *testing.T) {
	d := newDisk(t)
	want := testRecords(t, 40, true)
	if err := d.SaveProviders(want); err != nil {
		t.Fatal(err)
	}
	got, err := d.LoadProviders()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("loaded records differ from the saved ones")
	}
	// The records are stored whole: every signature verifies again.
	v, err := identity.NewVerifier(identity.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(recordTS+3600, 0)
	for i := range got {
		if _, err := v.Verify(&got[i], now); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if got[0].Sigs[1].Alg != wire.AlgMLDSA87 {
		t.Fatal("the dual-signed record lost its ML-DSA-87 signature")
	}
	// The stored form of each record is its wire form.
	data, err := os.ReadFile(filepath.Join(d.Dir, ProvidersFile))
	if err != nil {
		t.Fatal(err)
	}
	first, err := wire.AppendProviderRecord(nil, &want[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data[headerSize:], append([]byte{0x98, 40}, first...)) { // array(40), record 0
		t.Fatal("the payload does not start with array(40) and the first record's wire encoding")
	}
	if m := fileMode(t, filepath.Join(d.Dir, ProvidersFile)); m != SnapshotMode {
		t.Fatalf("provider snapshot mode %#o, want %#o", m, SnapshotMode)
	}

	// An empty store round-trips to nothing.
	if err := d.SaveProviders(nil); err != nil {
		t.Fatal(err)
	}
	if got, err := d.LoadProviders(); err != nil || got != nil {
		t.Fatalf("empty store loaded as %d records, %v", len(got), err)
	}
}

func TestMissingSnapshots(t *testing.T) {
	d := newDisk(t)
	if peers, err := d.LoadTable(); peers != nil || err != nil {
		t.Fatalf("LoadTable = %v, %v; want nothing", peers, err)
	}
	if recs, err := d.LoadProviders(); recs != nil || err != nil {
		t.Fatalf("LoadProviders = %v, %v; want nothing", recs, err)
	}
}

// snapshotFiles saves a small table and provider store and returns their
// paths and contents.
func snapshotFiles(t *testing.T, d *Disk) map[string][]byte {
	t.Helper()
	if err := d.SaveTable(testPeers(4, 9)); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveProviders(testRecords(t, 2, false)); err != nil {
		t.Fatal(err)
	}
	files := make(map[string][]byte)
	for _, name := range []string{TableFile, ProvidersFile} {
		p := filepath.Join(d.Dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	return files
}

// load runs the load of the snapshot at path and returns its result size
// and error.
func load(d *Disk, path string) (int, error) {
	if filepath.Base(path) == TableFile {
		peers, err := d.LoadTable()
		return len(peers), err
	}
	recs, err := d.LoadProviders()
	return len(recs), err
}

// decode runs the decoder of the snapshot kind of path on data in memory.
func decode(path string, data []byte) (int, error) {
	if filepath.Base(path) == TableFile {
		peers, err := decodeTable(data)
		return len(peers), err
	}
	recs, err := decodeProviders(data)
	return len(recs), err
}

// checkCorrupt loads bad through the file at path, and fails unless the
// load returns nothing and a *CorruptError naming path with detail want
// (any detail when want is nil).
func checkCorrupt(t *testing.T, d *Disk, path string, bad []byte, want error, what string) {
	t.Helper()
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := load(d, path)
	var ce *CorruptError
	if got != 0 || !errors.As(err, &ce) || ce.Path != path || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%s %s: loaded %d, err %v; want a *CorruptError naming the file", filepath.Base(path), what, got, err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("%s %s: %v, want %v", filepath.Base(path), what, err, want)
	}
}

func TestTruncatedSnapshot(t *testing.T) {
	d := newDisk(t)
	for path, good := range snapshotFiles(t, d) {
		// Every cut, in memory: the decoder the loads use.
		for n := 0; n < len(good); n++ {
			if got, err := decode(path, good[:n]); got != 0 || err == nil {
				t.Fatalf("%s cut at %d of %d bytes: decoded %d, err %v", filepath.Base(path), n, len(good), got, err)
			}
		}
		// Through the file: empty, inside the magic, one byte short of the
		// header, header only, one payload byte, half, one byte short.
		for _, n := range []int{0, 1, 7, headerSize - 1, headerSize, headerSize + 1, len(good) / 2, len(good) - 1} {
			checkCorrupt(t, d, path, good[:n], ErrTruncated, fmt.Sprintf("cut at %d", n))
		}
	}
}

func TestFlippedByte(t *testing.T) {
	d := newDisk(t)
	for path, good := range snapshotFiles(t, d) {
		bad := bytes.Clone(good)
		for i := range bad {
			for _, mask := range []byte{0x01, 0x80} {
				bad[i] ^= mask
				if got, err := decode(path, bad); got != 0 || err == nil {
					t.Fatalf("%s byte %d ^ %#x: decoded %d, err %v", filepath.Base(path), i, mask, got, err)
				}
				if i%16 == 0 { // and a sample through the file
					checkCorrupt(t, d, path, bad, nil, fmt.Sprintf("byte %d ^ %#x", i, mask))
				}
				bad[i] ^= mask
			}
		}
		checkCorrupt(t, d, path, append(bad, "junk"...), ErrTrailing, "with trailing bytes")
	}
}

func TestChecksummedBadPayload(t *testing.T) {
	d := newDisk(t)
	tablePath, provPath := filepath.Join(d.Dir, TableFile), filepath.Join(d.Dir, ProvidersFile)
	id31 := append([]byte{0x81, 0xa1, 0x00, 0x58, 31}, make([]byte, 31)...)
	rec, err := wire.AppendProviderRecord(nil, &testRecords(t, 1, false)[0])
	if err != nil {
		t.Fatal(err)
	}
	badVer := bytes.Clone(rec)
	badVer[2] = 2 // field 0, proto_ver
	cases := []struct {
		name, path string
		payload    []byte
	}{
		{"table: empty payload", tablePath, nil},
		{"table: not an array", tablePath, []byte{0xa0}},
		{"table: peer without id", tablePath, []byte{0x81, 0xa1, 0x03, 0x01}},
		{"table: 31-byte id", tablePath, id31},
		{"table: bad observed address", tablePath, append(append([]byte{0x81, 0xa2, 0x00, 0x58, 32}, make([]byte, 32)...), 0x01, 0x63, 'x', 'y', 'z')},
		{"table: float", tablePath, []byte{0xf9, 0x3c, 0x00}},
		{"table: two items", tablePath, []byte{0x80, 0x80}},
		{"providers: empty payload", provPath, nil},
		{"providers: count beyond the bytes", provPath, []byte{0x9a, 0xff, 0xff, 0xff, 0xff}},
		{"providers: non-shortest head", provPath, append([]byte{0x98, 0x01}, rec...)},
		{"providers: indefinite array", provPath, append(append([]byte{0x9f}, rec...), 0xff)},
		{"providers: proto_ver 2", provPath, append([]byte{0x81}, badVer...)},
		{"providers: missing record", provPath, append([]byte{0x82}, rec...)},
		{"providers: trailing item", provPath, append(append([]byte{0x81}, rec...), 0x00)},
		{"providers: empty with trailing", provPath, []byte{0x80, 0x00}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			magic := magicTable
			if c.path == provPath {
				magic = magicProviders
			}
			if err := os.WriteFile(c.path, framed(magic, c.payload), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := load(d, c.path)
			if !errors.Is(err, ErrPayload) || !errors.Is(err, ErrCorrupt) || got != 0 {
				t.Fatalf("loaded %d, err %v; want ErrPayload", got, err)
			}
		})
	}
}

func TestStaleTempFiles(t *testing.T) {
	d := newDisk(t)
	want := testPeers(7, 3)
	if err := d.SaveTable(want); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(d.Dir, TableFile))
	if err != nil {
		t.Fatal(err)
	}
	// Crashes mid-write: a half-written newer table, a providers snapshot
	// that never got renamed, and a key file write cut short.
	stale := map[string][]byte{
		".table.snap.tmp-4021":     good[:len(good)/2],
		".providers.snap.tmp-77":   framed(magicProviders, []byte{0x80}),
		".node.key.tmp-1234567890": []byte("# svc-dht identity key file"),
	}
	for name, b := range stale {
		if err := os.WriteFile(filepath.Join(d.Dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Ignored by the loads...
	if got, err := d.LoadTable(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadTable beside stale temp files: %d peers, %v", len(got), err)
	}
	if recs, err := d.LoadProviders(); recs != nil || err != nil {
		t.Fatalf("LoadProviders with only a temp file: %v, %v; want nothing", recs, err)
	}
	// ...and removed at the next start.
	d2, err := NewDisk(d.Dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if names := listDir(t, d.Dir); !slices.Equal(names, []string{TableFile}) {
		t.Fatalf("data dir holds %q after NewDisk, want only %s", names, TableFile)
	}
	if got, err := d2.LoadTable(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadTable after cleaning: %d peers, %v", len(got), err)
	}
}

func TestFailedSaveKeepsSnapshot(t *testing.T) {
	d := newDisk(t)
	want := testRecords(t, 3, false)
	if err := d.SaveProviders(want); err != nil {
		t.Fatal(err)
	}
	bad := testRecords(t, 3, false)
	bad[1].ProtoVer = 0 // not encodable
	if err := d.SaveProviders(bad); err == nil {
		t.Fatal("saving an unencodable record succeeded")
	}
	got, err := d.LoadProviders()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after a failed save: %d records, %v; want the previous snapshot", len(got), err)
	}
	if names := listDir(t, d.Dir); !slices.Equal(names, []string{ProvidersFile}) {
		t.Fatalf("data dir holds %q", names)
	}
}

func TestSaveTableRefusesUnloadablePeers(t *testing.T) {
	d := newDisk(t)
	want := testPeers(3, 5)
	if err := d.SaveTable(want); err != nil {
		t.Fatal(err)
	}
	for name, addrs := range map[string][]string{
		"bad UTF-8":      {"quic://\xff:1"},
		"long address":   {strings.Repeat("a", wire.MaxAddrLen+1)},
		"many addresses": make([]string, wire.MaxAddrs+1),
	} {
		bad := testPeers(3, 6)
		bad[2].Addrs = addrs
		if err := d.SaveTable(bad); err == nil {
			t.Fatalf("%s: saved", name)
		}
	}
	got, err := d.LoadTable()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after refused saves: %d peers, %v; want the previous snapshot", len(got), err)
	}
}

func TestIdentityGeneratedAndReloaded(t *testing.T) {
	for _, pq := range []bool{false, true} {
		dir := t.TempDir()
		keyFile := filepath.Join(dir, "keys", "node.key") // parent does not exist yet
		d, err := NewDisk(filepath.Join(dir, "data"), keyFile)
		if err != nil {
			t.Fatal(err)
		}
		d.Rand, d.PQ = rand.NewChaCha8([32]byte{7}), pq
		id, err := d.LoadIdentity()
		if err != nil {
			t.Fatal(err)
		}
		want, err := identity.Generate(rand.NewChaCha8([32]byte{7}), pq)
		if err != nil {
			t.Fatal(err)
		}
		if id.ID() != want.ID() || id.HasPQ() != pq {
			t.Fatalf("pq=%v: generated %v, want %v", pq, id, want)
		}
		if m := fileMode(t, keyFile); m != KeyFileMode {
			t.Fatalf("key file mode %#o, want 0600", m)
		}
		if m := fileMode(t, filepath.Dir(keyFile)); m != DirMode {
			t.Fatalf("key directory mode %#o, want 0700", m)
		}
		// A restart loads the same identity; Rand is not touched.
		d2, err := NewDisk(d.Dir, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		d2.Rand = errReader{}
		again, err := d2.LoadIdentity()
		if err != nil {
			t.Fatal(err)
		}
		if again.ID() != id.ID() || again.HasPQ() != pq || !bytes.Equal(again.PQPublicKey(), id.PQPublicKey()) {
			t.Fatalf("pq=%v: reloaded %v, want %v", pq, again, id)
		}
	}
}

// errReader fails every read: a Rand that must not be used.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("random source must not be used") }

func TestIdentityDefaultPathAndSave(t *testing.T) {
	d := newDisk(t)
	id := testIdentity(t, 42, true)
	if err := d.SaveIdentity(id); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d.Dir, config.DefaultKeyFileName)
	if m := fileMode(t, path); m != KeyFileMode {
		t.Fatalf("key file mode %#o, want 0600", m)
	}
	got, err := d.LoadIdentity()
	if err != nil || got.ID() != id.ID() || !got.HasPQ() {
		t.Fatalf("LoadIdentity = %v, %v; want %v", got, err, id)
	}
	if err := d.SaveIdentity(nil); err == nil {
		t.Fatal("saving a nil identity succeeded")
	}
	d.Rand = errReader{}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LoadIdentity(); err == nil {
		t.Fatal("a failing random source gave an identity")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a key file was written without an identity: %v", err)
	}
}

func TestKeyFilePermissionsTooOpen(t *testing.T) {
	d := newDisk(t)
	if err := d.SaveIdentity(testIdentity(t, 5, false)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d.Dir, config.DefaultKeyFileName)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602, 0o620, 0o610, 0o601, 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		id, err := d.LoadIdentity()
		if !errors.Is(err, ErrKeyPermissions) || id != nil {
			t.Fatalf("mode %#o: %v, %v; want ErrKeyPermissions", mode, id, err)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("refused key file changed: %v", err)
	}
	for _, mode := range []os.FileMode{0o400, 0o600, 0o700} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := d.LoadIdentity(); err != nil {
			t.Fatalf("mode %#o: %v", mode, err)
		}
	}
}

func TestKeyFileCorruptIsNotReplaced(t *testing.T) {
	d := newDisk(t)
	path := filepath.Join(d.Dir, config.DefaultKeyFileName)
	good := testIdentity(t, 6, false).MarshalKeyFile()
	seedDigit := bytes.Index(good, []byte("ed25519-seed: ")) + len("ed25519-seed: ")
	otherSeed := bytes.Clone(good)
	otherSeed[seedDigit] ^= 1 // a valid hex digit still: the node-id check catches it
	for name, content := range map[string][]byte{
		"empty":       nil,
		"truncated":   good[:len(good)/2],
		"other seed":  otherSeed,
		"huge":        bytes.Repeat([]byte("#"), identity.MaxKeyFileSize+1),
		"not textual": {0xff, 0x00, 0x13},
	} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		id, err := d.LoadIdentity()
		if err == nil || id != nil || errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s key file: %v, %v; want a plain error", name, id, err)
		}
		after, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(after, content) {
			t.Fatalf("%s key file was changed", name)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LoadIdentity(); err == nil {
		t.Fatal("a directory as key file gave an identity")
	}
}

func TestDiskLiteralWithoutDir(t *testing.T) {
	t.Chdir(t.TempDir())
	d := &Disk{}
	if _, err := d.LoadIdentity(); !errors.Is(err, errNoDir) {
		t.Fatalf("LoadIdentity: %v", err)
	}
	if err := d.SaveTable(nil); !errors.Is(err, errNoDir) {
		t.Fatalf("SaveTable: %v", err)
	}
	if err := d.SaveProviders(nil); !errors.Is(err, errNoDir) {
		t.Fatalf("SaveProviders: %v", err)
	}
	if _, err := d.LoadTable(); !errors.Is(err, errNoDir) {
		t.Fatalf("LoadTable: %v", err)
	}
	if _, err := d.LoadProviders(); !errors.Is(err, errNoDir) {
		t.Fatalf("LoadProviders: %v", err)
	}
	if err := d.SaveIdentity(testIdentity(t, 1, false)); !errors.Is(err, errNoDir) {
		t.Fatalf("SaveIdentity: %v", err)
	}
	if paths := walkAll(t, "."); paths != nil {
		t.Fatalf("wrote %q", paths)
	}
	// A literal with a directory works without NewDisk.
	lit := &Disk{Dir: filepath.Join(t.TempDir(), "d")}
	if err := lit.SaveTable(testPeers(2, 1)); err != nil {
		t.Fatal(err)
	}
	if got, err := lit.LoadTable(); err != nil || len(got) != 2 {
		t.Fatalf("literal Disk: %d peers, %v", len(got), err)
	}
}

func TestNewDiskErrors(t *testing.T) {
	if _, err := NewDisk("", ""); err == nil {
		t.Fatal("NewDisk with no directory succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDisk(filepath.Join(file, "sub"), ""); err == nil {
		t.Fatal("NewDisk under a regular file succeeded")
	}
}

func TestOpen(t *testing.T) {
	micro := func(t *testing.T) *config.Config {
		c, err := config.Defaults(config.Micronode)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("amnesia", func(t *testing.T) {
		st, err := Open(micro(t), errReader{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.(Amnesia); !ok {
			t.Fatalf("Open gave %T, want Amnesia", st)
		}
	})
	refused := []struct {
		name, key string
		set       func(c *config.Config, dir string)
	}{
		{"amnesia with data_dir", "data_dir", func(c *config.Config, dir string) { c.DataDir = dir }},
		{"amnesia with key_file", "key_file", func(c *config.Config, dir string) { c.KeyFile = filepath.Join(dir, "k") }},
		{"no amnesia, no data_dir", "data_dir", func(c *config.Config, dir string) { c.Amnesia.Enabled = false }},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			dir := t.TempDir()
			c := micro(t)
			r.set(c, dir)
			st, err := Open(c, errReader{})
			var ve *config.ValidationError
			if st != nil || !errors.As(err, &ve) || ve.ExitCode() != 2 {
				t.Fatalf("Open = %v, %v; want a *config.ValidationError", st, err)
			}
			if len(ve.Problems) != 1 || ve.Problems[0].Key != r.key {
				t.Fatalf("problems %+v, want one about %s", ve.Problems, r.key)
			}
			if paths := walkAll(t, dir); paths != nil {
				t.Fatalf("refused Open wrote %q", paths)
			}
		})
	}
	t.Run("disk", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		c := micro(t)
		c.Amnesia.Enabled, c.DataDir, c.PQ.DualSign = false, dir, true
		c.Alpha = 1000 // another key's problem is not Open's business
		st, err := Open(c, rand.NewChaCha8([32]byte{1}))
		if err != nil {
			t.Fatal(err)
		}
		d, ok := st.(*Disk)
		if !ok || d.Dir != dir || d.KeyFile != filepath.Join(dir, config.DefaultKeyFileName) || !d.PQ {
			t.Fatalf("Open gave %T %+v", st, st)
		}
		if m := fileMode(t, dir); m != DirMode {
			t.Fatalf("data dir mode %#o, want 0700", m)
		}
		id, err := st.LoadIdentity()
		if err != nil || !id.HasPQ() {
			t.Fatalf("LoadIdentity = %v, %v; want a dual-signing identity", id, err)
		}
	})
	if _, err := Open(nil, nil); err == nil {
		t.Fatal("Open(nil) succeeded")
	}
}

// allOps runs every Store operation; the identity is generated in RAM when
// the store has none, as the runtime does.
func allOps(t *testing.T, st Store) {
	t.Helper()
	id, err := st.LoadIdentity()
	if errors.Is(err, ErrNoIdentity) {
		id, err = identity.Generate(rand.NewChaCha8([32]byte{9}), true)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveIdentity(id); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveTable(testPeers(50, 1)); err != nil {
		t.Fatal(err)
	}
	if peers, err := st.LoadTable(); err != nil || peers != nil {
		t.Fatalf("LoadTable = %d peers, %v; want nothing", len(peers), err)
	}
	if err := st.SaveProviders(testRecords(t, 5, false)); err != nil {
		t.Fatal(err)
	}
	if recs, err := st.LoadProviders(); err != nil || recs != nil {
		t.Fatalf("LoadProviders = %d records, %v; want nothing", len(recs), err)
	}
}
