package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/logx"
	"github.com/svc-dht/svc-dht/node/runtime"
)

// procsDelay is how long after the node started the daemon applies
// runtime.max_procs. Start-up runs on every CPU: with one thread from the
// outset, or a GOMAXPROCS change (which stops the world) while the first
// seed dial is under way, that dial comes measurably later.
const procsDelay = 200 * time.Millisecond

// readyPoll is how often the daemon checks readiness until the node is
// ready or bootstrap.timeout passes (the runtime refreshes it every second).
const readyPoll = 250 * time.Millisecond

// daemon is one running node and what it was configured from.
type daemon struct {
	inv   invocation
	log   *slog.Logger
	level *slog.LevelVar // log.level, changed by reloads
	node  *runtime.Node
	cfg   *config.Config // the running configuration
	src   config.Sources // re-read on SIGHUP
}

// runDaemon runs one node with the flags in args until a stop signal or
// the end of ctx.
func runDaemon(ctx context.Context, inv invocation, args []string) int {
	fs := newFlagSet("svc-dht")
	config.AddFlags(fs)
	showVersion := fs.Bool("version", false, "print the version JSON and exit")
	strict := fs.Bool("strict-ready", false, "exit with code 4 if not ready within bootstrap.timeout")
	help := fs.Bool("help", false, "print the help and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h
			writeHelp(inv.stdout)
			return exitOK
		}
		return flagError(inv.stderr, "svc-dht", err)
	}
	if *help {
		writeHelp(inv.stdout)
		return exitOK
	}
	if fs.NArg() > 0 {
		return flagError(inv.stderr, "svc-dht", fmt.Errorf("unknown command %q", fs.Arg(0)))
	}
	src := config.Sources{Flags: fs, Env: inv.environ}
	cfg, err := config.Load(src)
	if err != nil {
		return reportConfigError(inv.stderr, err)
	}
	vi := versionInfo(inv.build, cfg)
	if *showVersion {
		if err := writeVersion(inv.stdout, vi); err != nil {
			fmt.Fprintf(inv.stderr, "svc-dht: %v\n", err)
			return exitFailure
		}
		return exitOK
	}

	level := new(slog.LevelVar)
	level.Set(cfg.Log.SlogLevel())
	log, err := logx.New(inv.stderr, logx.Options{Format: cfg.Log.Format, Level: level})
	if err != nil {
		fmt.Fprintf(inv.stderr, "svc-dht: %v\n", err)
		return exitBadConfig
	}
	n, err := runtime.New(nodeConfig(cfg, inv), runtime.Options{Logger: log, ProcessStart: inv.start, Version: vi})
	if err != nil {
		return startFailed(log, err)
	}
	if err := n.Start(ctx); err != nil {
		return startFailed(log, err)
	}
	if a := n.OpsAddr(); a != nil {
		log.Info("ops_listening", slog.String("addr", a.String()))
	}
	d := &daemon{inv: inv, log: log, level: level, node: n, cfg: cfg, src: src}
	return d.serve(ctx, *strict)
}

// nodeConfig is the configuration the node runs: cfg, except that with
// event_loops = 0 and a runtime.max_procs the daemon will apply, the node
// gets that many event loops (the GOMAXPROCS it will run with) rather than
// the GOMAXPROCS of the start-up. cfg itself stays what the sources say, so
// that reloads compare like with like.
func nodeConfig(cfg *config.Config, inv invocation) *config.Config {
	if cfg.EventLoops != 0 || cfg.Runtime.MaxProcs <= 0 || inv.maxProcs == nil || hasEnv(inv.environ, "GOMAXPROCS") {
		return cfg
	}
	c := cfg.Clone()
	c.EventLoops = cfg.Runtime.MaxProcs
	return c
}

// hasEnv reports whether environ sets name to a non-empty value.
func hasEnv(environ []string, name string) bool {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, name+"="); ok && v != "" {
			return true
		}
	}
	return false
}

// applyMaxProcs applies runtime.max_procs (want; 0 = Go's default) through
// set (runtime.GOMAXPROCS; nil: nothing is applied) unless the GOMAXPROCS
// environment variable is set in environ, which wins as it does for any Go
// program. It returns GOMAXPROCS as it then is and where it came from
// ("runtime.max_procs", "GOMAXPROCS" or "default"); "" when set is nil.
func applyMaxProcs(want int, environ []string, set func(int) int) (int, string) {
	if set == nil {
		return 0, ""
	}
	if hasEnv(environ, "GOMAXPROCS") {
		return set(0), "GOMAXPROCS"
	}
	if want <= 0 {
		return set(0), "default"
	}
	set(want)
	return want, "runtime.max_procs"
}

// startFailed logs why the node did not start and returns its exit code.
func startFailed(log *slog.Logger, err error) int {
	code := exitCodeOf(err)
	log.Error("start_failed", logx.Err(err), slog.Int("exit_code", code))
	return code
}

// serve waits for readiness (bounded by bootstrap.timeout), reloads on
// SIGHUP and stops on SIGINT, SIGTERM or the end of ctx.
func (d *daemon) serve(ctx context.Context, strict bool) int {
	timeout := d.inv.after(d.cfg.Bootstrap.Timeout)
	poll := time.NewTicker(readyPoll)
	defer poll.Stop()
	pollC := poll.C
	var procsC <-chan time.Time
	if d.inv.maxProcs != nil {
		procsC = d.inv.after(procsDelay)
	}
	for {
		select {
		case <-procsC:
			procsC = nil
			procs, from := applyMaxProcs(d.cfg.Runtime.MaxProcs, d.inv.environ, d.inv.maxProcs)
			d.log.Info("gomaxprocs", slog.Int("gomaxprocs", procs), slog.String("source", from))
		case <-pollC:
			if ok, _ := d.node.Ready(); ok {
				pollC, timeout = nil, nil
				poll.Stop()
			}
		case <-timeout:
			pollC, timeout = nil, nil
			poll.Stop()
			ok, missing := d.node.Ready()
			if ok {
				continue
			}
			if !strict {
				d.log.Warn("bootstrap_timeout", slog.Duration("timeout", d.cfg.Bootstrap.Timeout), slog.Any("missing", missing))
				continue
			}
			d.log.Error("bootstrap_timeout", slog.Duration("timeout", d.cfg.Bootstrap.Timeout), slog.Any("missing", missing),
				slog.Bool("strict_ready", true), slog.Int("exit_code", exitNotReady))
			if code := d.stop(); code != exitOK {
				return code
			}
			return exitNotReady
		case sig := <-d.inv.signals:
			if sig == syscall.SIGHUP {
				d.reload()
				continue
			}
			d.log.Info("signal", slog.String("signal", sig.String()))
			return d.stop()
		case <-ctx.Done():
			return d.stop()
		}
	}
}

// stop shuts the node down gracefully; a second stop signal meanwhile
// forces the exit (the process ends with the shutdown unfinished).
func (d *daemon) stop() int {
	done := make(chan error, 1)
	go func() { done <- d.node.Shutdown(context.Background()) }()
	if forced := awaitShutdown(done, d.inv.signals, d.log); forced {
		return exitFailure
	}
	return exitOK
}

// awaitShutdown waits for a shutdown's result on done and reports whether
// a SIGINT or SIGTERM forced the exit first; SIGHUP is ignored meanwhile.
// A shutdown error is logged and counts as forced.
func awaitShutdown(done <-chan error, sigs <-chan os.Signal, log *slog.Logger) (forced bool) {
	for {
		select {
		case err := <-done:
			if err != nil {
				log.Error("shutdown_failed", logx.Err(err))
				return true
			}
			return false
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				continue
			}
			log.Warn("shutdown_forced", slog.String("signal", sig.String()))
			return true
		}
	}
}

// reload re-reads the configuration sources (SIGHUP). An invalid
// configuration is refused with a warning and the running one kept; a
// valid one is handed to the runtime, and the changed keys are logged with
// those that need a restart.
func (d *daemon) reload() {
	next, changes, err := config.Reload(d.cfg, d.src)
	if err != nil {
		d.log.Warn("reload_refused", logx.Reason("invalid configuration; the running one is kept"),
			slog.Any("problems", problemLines(err)))
		return
	}
	restart, err := d.node.Reload(next, changes)
	if err != nil {
		d.log.Warn("reload_refused", logx.Reason("the runtime refused the configuration; the running one is kept"),
			logx.Err(err))
		return
	}
	changed := make([]string, 0, len(changes))
	applied := make([]string, 0, len(changes))
	needs := make(map[string]bool, len(restart))
	for _, k := range restart {
		needs[k] = true
	}
	for _, c := range changes {
		changed = append(changed, c.Key)
		if !needs[c.Key] {
			applied = append(applied, c.Key)
		}
	}
	if restart == nil {
		restart = []string{}
	}
	d.log.Info("reload", slog.Any("changed", changed), slog.Any("applied", applied), slog.Any("needs_restart", restart))
	// The reload is logged at the level in force when it arrived, then
	// log.level takes its new value.
	d.level.Set(next.Log.SlogLevel())
	d.cfg = next
}
