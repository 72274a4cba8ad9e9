package seeds

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain pins rapid's seed (unless given by -rapid.seed or RAPID_SEED) so
// that the property tests are deterministic, and fails the run if any
// goroutine (a Runner's dialers, for instance) outlives the tests.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.seed" })
	if _, env := os.LookupEnv("RAPID_SEED"); !env && !set {
		if err := flag.Set("rapid.seed", "20250604"); err != nil {
			fmt.Fprintln(os.Stderr, "set rapid.seed:", err)
			os.Exit(2)
		}
	}
	goleak.VerifyTestMain(m)
}
