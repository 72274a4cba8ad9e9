package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/ops"
	"github.com/svc-dht/svc-dht/node/runtime"
)

// Exit codes (SPEC §10).
const (
	exitOK        = 0
	exitFailure   = 1                    // any other failure, or a forced exit
	exitBadConfig = config.ExitBadConfig // bad configuration or command line
	exitBind      = 3                    // listen_addr or ops_addr cannot be bound
	exitNotReady  = 4                    // not ready within bootstrap.timeout (--strict-ready)
)

// invocation is what run takes from the process: arguments, environment,
// output streams, signals and time. Tests build one; main passes the real
// process's.
type invocation struct {
	args    []string // without the program name
	environ []string // KEY=VALUE, as os.Environ
	stdout  io.Writer
	stderr  io.Writer
	// signals delivers SIGINT, SIGTERM (stop; a second one forces the
	// exit) and SIGHUP (reload). nil: none arrive.
	signals <-chan os.Signal
	// start is the process start time (see processStart).
	start time.Time
	// build is the linker-provided version information.
	build ops.Build
	// now and after are the clock; nil means time.Now and time.After.
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
	// maxProcs sets GOMAXPROCS (runtime.GOMAXPROCS) when the daemon
	// applies runtime.max_procs; nil leaves the process's setting alone
	// (tests and other embedders that do not own the process).
	maxProcs func(int) int
}

func (inv *invocation) fill() {
	if inv.now == nil {
		inv.now = time.Now
	}
	if inv.after == nil {
		inv.after = time.After
	}
	if inv.start.IsZero() {
		inv.start = inv.now()
	}
}

// run runs the svc-dht command line and returns the exit code. Ending ctx
// stops a running node or devnet like SIGTERM does.
func run(ctx context.Context, inv invocation) int {
	inv.fill()
	if len(inv.args) > 0 {
		switch inv.args[0] {
		case "devnet":
			return runDevnet(ctx, inv, inv.args[1:])
		case "config":
			return runConfig(inv, inv.args[1:])
		case "version":
			return runDaemon(ctx, inv, append([]string{"--version"}, inv.args[1:]...))
		case "help":
			writeHelp(inv.stdout)
			return exitOK
		}
	}
	return runDaemon(ctx, inv, inv.args)
}

// usage is the head of --help.
const usage = `svc-dht — Kademlia DHT discovery service

Usage:
  svc-dht [--config FILE] [--KEY VALUE]... [--strict-ready]
                            run one node
  svc-dht --version         print the JSON of GET /version and exit ("svc-dht version" too)
  svc-dht --help            print this help and exit ("svc-dht help" too)
  svc-dht config check FILE validate a configuration file: "ok" or every problem (exit 2)
  svc-dht devnet [--nodes N] [--ops ADDR] [--base-port P] [--seed S] [--timeout D] [--log-level L]
                            run a local N-node network on 127.0.0.1 ("svc-dht devnet --help")

Flags of the node (besides the configuration keys below):
  --strict-ready
        exit with code 4 if the node is not ready within bootstrap.timeout
  --version
        print the version JSON (the body of GET /version) and exit
  --help
        print this help and exit

Signals: SIGINT/SIGTERM shut down gracefully (/readyz 503, drain up to
shutdown_timeout); a second one forces the exit. SIGHUP reloads the
configuration (an invalid one is refused and the running one kept).

Exit codes: 0 ok; 1 other failure or forced exit; 2 bad configuration or
command line; 3 bind error (listen_addr or ops_addr in use); 4 not ready
within bootstrap.timeout with --strict-ready.

`

// writeHelp prints the usage and every configuration flag.
func writeHelp(w io.Writer) {
	_, _ = io.WriteString(w, usage)
	_, _ = io.WriteString(w, config.Help())
}

// runConfig runs `svc-dht config check FILE`.
func runConfig(inv invocation, args []string) int {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(inv.stderr, "usage: svc-dht config check FILE")
		return exitBadConfig
	}
	if err := config.Check(args[1], nil); err != nil {
		return reportConfigError(inv.stderr, err)
	}
	fmt.Fprintln(inv.stdout, "ok")
	return exitOK
}

// reportConfigError prints every problem of a refused configuration and
// returns exit code 2.
func reportConfigError(w io.Writer, err error) int {
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintln(w, p.String())
		}
		fmt.Fprintf(w, "svc-dht: %d configuration problem(s)\n", len(ve.Problems))
		return ve.ExitCode()
	}
	fmt.Fprintf(w, "svc-dht: %v\n", err)
	return exitBadConfig
}

// versionInfo is the /version body of a node running cfg.
func versionInfo(b ops.Build, cfg *config.Config) ops.VersionInfo {
	return ops.NewVersionInfo(b, runtime.Features(cfg)...)
}

// writeVersion writes v exactly as the ops plane serves /version.
func writeVersion(w io.Writer, v ops.VersionInfo) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("version: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// exitCodeOf maps a start-up error to an exit code: 2 for a refused
// configuration, 3 for an address that cannot be bound, 1 otherwise.
func exitCodeOf(err error) int {
	var ve *config.ValidationError
	switch {
	case errors.As(err, &ve):
		return ve.ExitCode()
	case isBindError(err):
		return exitBind
	}
	return exitFailure
}

// isBindError reports whether err is a failure to bind a listening socket:
// the ops plane's ops.ErrBind, or a listen error of the QUIC socket.
func isBindError(err error) bool {
	if errors.Is(err, ops.ErrBind) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "listen"
}

// newFlagSet returns a silent FlagSet: run prints errors and help itself.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// flagError reports a command-line error and returns exit code 2.
func flagError(w io.Writer, cmd string, err error) int {
	fmt.Fprintf(w, "%s: %v\nRun '%s --help' for usage.\n", cmd, err, cmd)
	return exitBadConfig
}

// problemLines returns the problems of a *config.ValidationError, one
// string each, or the error's text.
func problemLines(err error) []string {
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		out := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			out[i] = p.String()
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}
