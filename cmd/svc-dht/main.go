package main

import (
	"context"
	"os"
	"os/signal"
	goruntime "runtime"
	"syscall"
	"time"

	"github.com/svc-dht/svc-dht/node/ops"
)

// processStart is when the process started, as early as a Go program sees
// it: package variables are initialised before main runs.
var processStart = time.Now()

// Build information, set by the linker:
// -ldflags "-X main.version=... -X main.git=... -X main.buildTS=...".
var (
	version string
	git     string
	buildTS string
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	os.Exit(run(context.Background(), invocation{
		args:    os.Args[1:],
		environ: os.Environ(),
		stdout:  os.Stdout,
		stderr:  os.Stderr,
		signals: sigs,
		start:   processStart,
		build:   ops.Build{Version: version, Git: git, BuildTS: buildTS},
		// The daemon owns the process: it applies runtime.max_procs.
		maxProcs: goruntime.GOMAXPROCS,
	}))
}
