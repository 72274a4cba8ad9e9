package persist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/zeebo/blake3"
)

// File modes of what Disk creates.
const (
	KeyFileMode  fs.FileMode = 0o600 // the identity key file
	SnapshotMode fs.FileMode = 0o600 // table and provider snapshots
	DirMode      fs.FileMode = 0o700 // directories created for them
)

// FormatVersion is the snapshot format version written and accepted.
const FormatVersion = 1

// MaxSnapshotSize bounds the size of a snapshot file accepted by a load
// (ErrTooLarge above it); it is far above what the largest provider store
// (provider.max_total) produces with Ed25519-signed records.
const MaxSnapshotSize = 1 << 30

// headerSize is the length of the snapshot header: magic, version, payload
// length, checksum.
const headerSize = 8 + 4 + 8 + blake3Size

const blake3Size = 32

// Magic numbers of the two snapshot kinds.
const (
	magicTable     = "svcdhtRT"
	magicProviders = "svcdhtPS"
)

// frame fills the header at the start of buf, whose payload starts at
// headerSize.
func frame(buf []byte, magic string) {
	payload := buf[headerSize:]
	copy(buf[:8], magic)
	binary.BigEndian.PutUint32(buf[8:12], FormatVersion)
	binary.BigEndian.PutUint64(buf[12:20], uint64(len(payload)))
	sum := blake3.Sum256(payload)
	copy(buf[20:headerSize], sum[:])
}

// unframe checks a snapshot's header and checksum and returns its payload,
// or an error wrapping one of the detail sentinels.
func unframe(data []byte, magic string) ([]byte, error) {
	if len(data) >= len(magic) && string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: %q, want %q", ErrMagic, data[:len(magic)], magic)
	}
	if len(data) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrTruncated, len(data), headerSize)
	}
	if v := binary.BigEndian.Uint32(data[8:12]); v != FormatVersion {
		return nil, fmt.Errorf("%w: %d, want %d", ErrVersion, v, FormatVersion)
	}
	have := uint64(len(data) - headerSize)
	switch n := binary.BigEndian.Uint64(data[12:20]); {
	case n > have:
		return nil, fmt.Errorf("%w: payload of %d bytes, header says %d", ErrTruncated, have, n)
	case n < have:
		return nil, fmt.Errorf("%w: %d bytes after a payload of %d", ErrTrailing, have-n, n)
	}
	payload := data[headerSize:]
	if sum := blake3.Sum256(payload); string(sum[:]) != string(data[20:headerSize]) {
		return nil, fmt.Errorf("%w: BLAKE3-256 of the payload does not match the header", ErrChecksum)
	}
	return payload, nil
}

// readSnapshot reads the snapshot file at path; found is false when it
// does not exist. A file over MaxSnapshotSize is a *CorruptError.
func readSnapshot(path string) (data []byte, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read snapshot: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("read snapshot: %w", err)
	}
	data, err = readOpen(f, fi, MaxSnapshotSize)
	if errors.Is(err, ErrTooLarge) {
		return nil, true, &CorruptError{Path: path, Err: err}
	}
	if err != nil {
		return nil, true, fmt.Errorf("read snapshot %s: %w", path, err)
	}
	return data, true, nil
}

// readOpen reads the open file f, described by fi, which must be a regular
// file of at most limit bytes (ErrTooLarge otherwise), with one allocation
// of its size.
func readOpen(f *os.File, fi fs.FileInfo, limit int64) ([]byte, error) {
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%v)", fi.Mode().Type())
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, fi.Size(), limit)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		// The file shrank while being read: what was read is not the file.
		return nil, err
	}
	return data, nil
}

// tempPrefix is the name prefix of the temporary files that replace the
// file named base.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// writeFileAtomic replaces the file at path by data, crash-safely: write
// to a temporary file in the same directory, fsync, rename over path,
// fsync the directory. The file gets mode perm; a missing directory is
// created with DirMode. On error the temporary file is removed and the
// old file, if any, is left as it was.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that a rename in it is durable. File
// systems that cannot fsync a directory (EINVAL, ENOTSUP) are tolerated.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	return err
}

// removeStale removes the temporary files an interrupted writeFileAtomic
// of path left behind. It must not run while a write of path is under way.
func removeStale(path string) error {
	dir, prefix := filepath.Dir(path), tempPrefix(filepath.Base(path))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove stale temporary files of %s: %w", path, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale temporary file: %w", err)
		}
	}
	return nil
}
