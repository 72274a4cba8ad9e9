package persist

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/svc-dht/svc-dht/node/config"
)

// TestAmnesiaWritesNothing runs every Store operation in amnesia mode with
// HOME, TMPDIR, the working directory and a would-be data directory each
// an empty temporary directory, and checks that all of them stay empty —
// also when Open refuses a config naming the data directory.
func TestAmnesiaWritesNothing(t *testing.T) {
	home, tmp, cwd, data := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("TMPDIR", tmp)
	t.Chdir(cwd)

	cfg, err := config.Defaults(config.Micronode)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Amnesia.Enabled {
		t.Fatal("micronode default is not amnesia")
	}
	st, err := Open(cfg, rand.NewChaCha8([32]byte{3}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.LoadIdentity(); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("Amnesia.LoadIdentity: %v, want ErrNoIdentity", err)
	}
	for range 2 { // a second "restart" finds nothing either
		allOps(t, st)
	}
	allOps(t, Amnesia{})

	for _, set := range []func(c *config.Config){
		func(c *config.Config) { c.DataDir = data },
		func(c *config.Config) { c.KeyFile = filepath.Join(data, "node.key") },
		func(c *config.Config) { c.DataDir, c.KeyFile = data, filepath.Join(home, ".svc-dht", "node.key") },
	} {
		c := cfg.Clone()
		set(c)
		var ve *config.ValidationError
		if st, err := Open(c, rand.NewChaCha8([32]byte{4})); st != nil || !errors.As(err, &ve) {
			t.Fatalf("Open with amnesia and a disk path = %v, %v; want a *config.ValidationError", st, err)
		}
	}

	for name, dir := range map[string]string{"HOME": home, "TMPDIR": tmp, "working directory": cwd, "data dir": data} {
		if paths := walkAll(t, dir); paths != nil {
			t.Errorf("amnesia wrote to the %s: %q", name, paths)
		}
	}
}
