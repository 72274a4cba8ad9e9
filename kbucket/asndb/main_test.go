package asndb

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain makes the rapid property tests deterministic: it pins the seed and
// stops rapid from writing fail files into testdata (the fixed seed already
// reproduces a failure). -rapid.seed / -rapid.nofailfile on the command line,
// or RAPID_SEED / RAPID_NOFAILFILE in the environment, still take precedence.
func TestMain(m *testing.M) {
	flag.Parse()
	given := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, d := range []struct{ name, env, val string }{
		{"rapid.seed", "RAPID_SEED", "20261128"},
		{"rapid.nofailfile", "RAPID_NOFAILFILE", "true"},
	} {
		if _, ok := os.LookupEnv(d.env); ok || given[d.name] {
			continue
		}
		if err := flag.Set(d.name, d.val); err != nil {
			fmt.Fprintf(os.Stderr, "asndb tests: set -%s: %v\n", d.name, err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}
