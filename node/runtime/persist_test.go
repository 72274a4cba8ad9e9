package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/api"
	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/persist"
)

// diskConfig is testConfig without amnesia, keeping its state in dir.
func diskConfig(t *testing.T, dir string, seedList ...string) *config.Config {
	cfg := testConfig(t, seedList...)
	cfg.Amnesia.Enabled = false
	cfg.DataDir = dir
	return cfg
}

func TestRestartKeepsIdentityAndTable(t *testing.T) {
	first := startNode(t, testConfig(t), testOptions(30, nil))
	dir := t.TempDir()
	cfg := diskConfig(t, dir, seedOf(first))

	n, err := New(cfg, testOptions(31, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := n.ID()
	waitReady(t, n)
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, config.DefaultKeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, persist.TableFile)); err != nil {
		t.Fatalf("routing-table snapshot not saved: %v", err)
	}

	// Other randomness: only the key file can give back the same ID.
	log := new(syncBuffer)
	again := startNode(t, cfg, testOptions(32, log))
	if again.ID() != id {
		t.Fatalf("restarted node has ID %s, want %s", again.ID().Short(), id.Short())
	}
	// The seed may answer before the snapshot is read: the log line says
	// what came from the snapshot.
	loaded := ""
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, `"snapshots_loaded"`) {
			loaded = line
		}
	}
	if !strings.Contains(loaded, `"peers":1,`) {
		t.Fatalf("restarted node did not restore its one-peer table: %q", loaded)
	}
	waitReady(t, again)
}

func TestCorruptSnapshotIsIgnored(t *testing.T) {
	first := startNode(t, testConfig(t), testOptions(33, nil))
	dir := t.TempDir()
	cfg := diskConfig(t, dir, seedOf(first))
	n, err := New(cfg, testOptions(34, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitReady(t, n)
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, persist.TableFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	log := new(syncBuffer)
	again := startNode(t, cfg, testOptions(35, log))
	if !strings.Contains(log.String(), `"snapshot_corrupt"`) {
		t.Fatalf("corrupt snapshot not reported:\n%s", log)
	}
	waitReady(t, again) // rejoins through its seed
}

// entries lists what dir holds (recursively), for the amnesia check.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAmnesiaWritesNothing(t *testing.T) {
	home, tmp, cwd := t.TempDir(), t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Chdir(cwd)

	// A disk path with amnesia on is refused.
	bad := testConfig(t)
	bad.DataDir = filepath.Join(home, "data")
	if _, err := New(bad, testOptions(40, nil)); err == nil {
		t.Fatal("New accepted data_dir with amnesia on")
	}

	a := startNode(t, testConfig(t), testOptions(41, nil))
	b := startNode(t, testConfig(t, seedOf(a)), testOptions(42, nil))
	waitReady(t, b)
	ctx := context.Background()
	key := kbucket.ID(blake3.Sum256([]byte("amnesia")))
	if _, err := b.Provide(ctx, api.ProvideParams{Key: key}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.FindProviders(ctx, key); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{b, a} {
		if err := n.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{home, tmp, cwd} {
		if e := entries(t, d); len(e) > 0 {
			t.Errorf("amnesia node wrote %v", e)
		}
	}
}
