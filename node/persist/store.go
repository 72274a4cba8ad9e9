package persist

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

// Snapshot file names inside the data directory.
const (
	TableFile     = "table.snap"
	ProvidersFile = "providers.snap"
)

// Store keeps the node's state across restarts. Loads of a missing
// snapshot return nothing and no error; a snapshot that cannot be used
// returns an error matching ErrCorrupt, which the caller reports before
// starting empty. Implementations are safe for concurrent use; of two
// concurrent saves of one kind, the one that finishes last wins.
type Store interface {
	// LoadIdentity returns the node's identity (see Disk.LoadIdentity and
	// Amnesia.LoadIdentity).
	LoadIdentity() (*identity.Identity, error)
	// SaveIdentity stores id as the node's identity.
	SaveIdentity(id *identity.Identity) error
	// LoadTable returns the peers of the last routing-table snapshot.
	LoadTable() ([]kbucket.Peer, error)
	// SaveTable replaces the routing-table snapshot by peers.
	SaveTable(peers []kbucket.Peer) error
	// LoadProviders returns the records of the last provider-store
	// snapshot. They are checked for structure only: the caller verifies
	// each (signatures, lifetime) before using it.
	LoadProviders() ([]wire.ProviderRecord, error)
	// SaveProviders replaces the provider-store snapshot by recs, which
	// are stored whole, signatures included.
	SaveProviders(recs []wire.ProviderRecord) error
}

var (
	_ Store = (*Disk)(nil)
	_ Store = Amnesia{}
)

// Open returns the Store the configuration asks for: Amnesia when
// amnesia.enabled is set, else a Disk on data_dir and the key file
// (cfg.KeyFilePath), prepared by NewDisk. rnd is the randomness a new
// identity is generated from (crypto/rand.Reader in production); a new
// identity gets an ML-DSA-87 key when pq.dual_sign is set.
//
// The data_dir and key_file rules are the config package's: if validating
// cfg finds problems with those keys (a disk path with amnesia on, no
// data_dir without it), Open returns them as a *config.ValidationError
// (exit code 2). Problems with other keys are not Open's business.
func Open(cfg *config.Config, rnd io.Reader) (Store, error) {
	if cfg == nil {
		return nil, errors.New("persist: open: nil config")
	}
	if err := storageProblems(cfg); err != nil {
		return nil, fmt.Errorf("persist: open: %w", err)
	}
	if cfg.Amnesia.Enabled {
		return Amnesia{}, nil
	}
	d, err := NewDisk(cfg.DataDir, cfg.KeyFilePath())
	if err != nil {
		return nil, err
	}
	d.Rand = rnd
	d.PQ = cfg.PQ.DualSign
	return d, nil
}

// storageProblems returns the problems cfg.Validate finds with data_dir
// and key_file, as a *config.ValidationError, or nil.
func storageProblems(cfg *config.Config) error {
	var ve *config.ValidationError
	if err := cfg.Validate(); !errors.As(err, &ve) {
		return err // nil, or not a validation error
	}
	var mine []config.Problem
	for _, p := range ve.Problems {
		if p.Key == "data_dir" || p.Key == "key_file" {
			mine = append(mine, p)
		}
	}
	if mine == nil {
		return nil
	}
	return &config.ValidationError{Problems: mine}
}

// Amnesia is the Store of amnesia mode: it writes nothing, anywhere, and
// loads nothing. The runtime generates the identity in RAM at every start.
type Amnesia struct{}

// LoadIdentity returns ErrNoIdentity: the caller generates an identity
// (identity.Generate) and keeps it in RAM only.
func (Amnesia) LoadIdentity() (*identity.Identity, error) { return nil, ErrNoIdentity }

// SaveIdentity does nothing.
func (Amnesia) SaveIdentity(*identity.Identity) error { return nil }

// LoadTable returns no peers.
func (Amnesia) LoadTable() ([]kbucket.Peer, error) { return nil, nil }

// SaveTable does nothing.
func (Amnesia) SaveTable([]kbucket.Peer) error { return nil }

// LoadProviders returns no records.
func (Amnesia) LoadProviders() ([]wire.ProviderRecord, error) { return nil, nil }

// SaveProviders does nothing.
func (Amnesia) SaveProviders([]wire.ProviderRecord) error { return nil }

// Disk is the Store that persists to files (see the package documentation
// for their names, modes and format). Build it with NewDisk, which also
// cleans up after a crash; a literal with Dir set works too, without that
// cleanup. A Disk is not modified by its methods and is safe for
// concurrent use.
type Disk struct {
	// Dir is the data directory (data_dir) holding the snapshots.
	Dir string
	// KeyFile is the identity key file; "" means Dir/node.key.
	KeyFile string
	// Rand is the randomness a new identity is generated from; nil means
	// crypto/rand.Reader.
	Rand io.Reader
	// PQ gives a newly generated identity an ML-DSA-87 key too.
	PQ bool
}

// NewDisk returns a Disk on dir and keyFile ("" = dir/node.key). It
// creates dir (mode DirMode) if needed and removes the temporary files an
// interrupted save left behind, so it must not run while another Disk
// saves to the same files.
func NewDisk(dir, keyFile string) (*Disk, error) {
	if dir == "" {
		return nil, errors.New("persist: new disk store: empty data directory")
	}
	d := &Disk{Dir: dir, KeyFile: keyFile}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, fmt.Errorf("persist: new disk store: %w", err)
	}
	key, _ := d.keyPath() // Dir is set: no error
	for _, p := range [...]string{key, filepath.Join(dir, TableFile), filepath.Join(dir, ProvidersFile)} {
		if err := removeStale(p); err != nil {
			return nil, fmt.Errorf("persist: new disk store: %w", err)
		}
	}
	return d, nil
}

// errNoDir refuses to work on paths relative to the working directory
// when a Disk literal has no Dir.
var errNoDir = errors.New("persist: disk store without a data directory")

func (d *Disk) keyPath() (string, error) {
	if d.KeyFile != "" {
		return d.KeyFile, nil
	}
	return d.path(config.DefaultKeyFileName)
}

func (d *Disk) path(name string) (string, error) {
	if d.Dir == "" {
		return "", errNoDir
	}
	return filepath.Join(d.Dir, name), nil
}

// LoadIdentity loads the identity from the key file. When the file does
// not exist it generates a new identity from d.Rand (with an ML-DSA-87 key
// when d.PQ is set), saves it with mode KeyFileMode and returns it. A key
// file that group or others may access is refused (ErrKeyPermissions), as
// is one that does not parse; neither is ever overwritten.
func (d *Disk) LoadIdentity() (*identity.Identity, error) {
	path, err := d.keyPath()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return d.generate(path)
	}
	if err != nil {
		return nil, fmt.Errorf("persist: load identity: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("persist: load identity: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("persist: load identity: %w: %s has mode %#o, readable or writable by group or others; run chmod 600 %s",
			ErrKeyPermissions, path, perm, path)
	}
	data, err := readOpen(f, fi, identity.MaxKeyFileSize)
	if err != nil {
		return nil, fmt.Errorf("persist: load identity from %s: %w", path, err)
	}
	id, err := identity.ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("persist: load identity from %s: %w", path, err)
	}
	return id, nil
}

// generate creates, saves and returns a new identity.
func (d *Disk) generate(path string) (*identity.Identity, error) {
	r := d.Rand
	if r == nil {
		r = rand.Reader
	}
	id, err := identity.Generate(r, d.PQ)
	if err != nil {
		return nil, fmt.Errorf("persist: new identity: %w", err)
	}
	if err := writeFileAtomic(path, id.MarshalKeyFile(), KeyFileMode); err != nil {
		return nil, fmt.Errorf("persist: save new identity: %w", err)
	}
	return id, nil
}

// SaveIdentity writes id to the key file (mode KeyFileMode), replacing it.
func (d *Disk) SaveIdentity(id *identity.Identity) error {
	if id == nil {
		return errors.New("persist: save identity: nil identity")
	}
	path, err := d.keyPath()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, id.MarshalKeyFile(), KeyFileMode); err != nil {
		return fmt.Errorf("persist: save identity: %w", err)
	}
	return nil
}

// LoadTable returns the peers of the routing-table snapshot: nil if there
// is none, an error matching ErrCorrupt if it cannot be used.
func (d *Disk) LoadTable() ([]kbucket.Peer, error) {
	path, err := d.path(TableFile)
	if err != nil {
		return nil, err
	}
	data, found, err := readSnapshot(path)
	if err != nil || !found {
		return nil, err
	}
	peers, err := decodeTable(data)
	if err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	return peers, nil
}

// SaveTable replaces the routing-table snapshot by peers. A peer whose
// addresses break the wire limits (wire.MaxAddrs, wire.MaxAddrLen, UTF-8)
// fails the save and leaves the previous snapshot in place.
func (d *Disk) SaveTable(peers []kbucket.Peer) error {
	path, err := d.path(TableFile)
	if err != nil {
		return err
	}
	data, err := encodeTable(peers)
	if err != nil {
		return fmt.Errorf("persist: save table: %w", err)
	}
	if err := writeFileAtomic(path, data, SnapshotMode); err != nil {
		return fmt.Errorf("persist: save table: %w", err)
	}
	return nil
}

// LoadProviders returns the records of the provider-store snapshot: nil if
// there is none, an error matching ErrCorrupt if it cannot be used. The
// records' structure is checked, not their signatures or lifetimes: the
// caller verifies each one before serving it.
func (d *Disk) LoadProviders() ([]wire.ProviderRecord, error) {
	path, err := d.path(ProvidersFile)
	if err != nil {
		return nil, err
	}
	data, found, err := readSnapshot(path)
	if err != nil || !found {
		return nil, err
	}
	recs, err := decodeProviders(data)
	if err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	return recs, nil
}

// SaveProviders replaces the provider-store snapshot by recs. A record
// that cannot be encoded (wire.AppendProviderRecord) fails the save and
// leaves the previous snapshot in place.
func (d *Disk) SaveProviders(recs []wire.ProviderRecord) error {
	path, err := d.path(ProvidersFile)
	if err != nil {
		return err
	}
	data, err := encodeProviders(recs)
	if err != nil {
		return fmt.Errorf("persist: save providers: %w", err)
	}
	if err := writeFileAtomic(path, data, SnapshotMode); err != nil {
		return fmt.Errorf("persist: save providers: %w", err)
	}
	return nil
}
