package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/api"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1 // the operation failed
	exitUsage       = 2 // bad command line
	exitUnreachable = 3 // the node's API could not be reached
)

// envOps names the environment variable with the default --ops address.
const envOps = "SVC_DHT_OPS"

const defaultTimeout = 10 * time.Second

// command is one subcommand.
type command struct {
	name    string
	args    string // argument synopsis
	summary string
	run     func(c *cli, cmd *command, args []string) int
}

// commands lists the subcommands in help order.
var commands = []command{
	{"ping", "[PEER]", "ping PEER (ID, quic://host:port or ID@quic://host:port); without PEER the node answers for itself", (*cli).ping},
	{"find-node", "ID", "find the nodes closest to ID", (*cli).findNode},
	{"provide", "(KEY | --data TEXT) [--addr A]... [--ttl D]", "sign and announce a provider record for KEY, or for the BLAKE3 key of TEXT", (*cli).provide},
	{"find-providers", "KEY", "find the providers of KEY", (*cli).findProviders},
	{"peers", "", "show the routing table", (*cli).peers},
	{"stats", "", "show the node's counters, sizes and readiness", (*cli).stats},
}

// cli holds one invocation's output streams and global flags.
type cli struct {
	stdout, stderr io.Writer
	ops            string
	json           bool
	timeout        time.Duration
}

// run runs dhtctl with args (without the program name) and returns the
// exit status.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdout: stdout, stderr: stderr, ops: api.DefaultOpsAddr, timeout: defaultTimeout}
	if v := getenv(envOps); v != "" {
		c.ops = v
	}
	fs := newFlagSet("dhtctl")
	c.globalFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout, fs)
			return exitOK
		}
		return c.usageError("", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		c.usage(stderr, fs)
		return exitUsage
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		return c.help(rest, fs)
	}
	for i := range commands {
		if commands[i].name == name {
			return commands[i].run(c, &commands[i], rest)
		}
	}
	return c.usageError("", fmt.Errorf("unknown command %q", name))
}

// newFlagSet returns a flag set that reports nothing itself: run prints
// errors and help.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// globalFlags registers the global flags on fs with their current values
// as defaults, so that a command's flag set keeps what came before the
// command.
func (c *cli) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.ops, "ops", c.ops, "address of the node's ops listener, host:port or http://host:port (env "+envOps+")")
	fs.BoolVar(&c.json, "json", c.json, "print the API's JSON answer")
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "time allowed for the operation (0: no limit)")
}

// usage writes the main help text.
func (c *cli) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "dhtctl: command-line client of a svc-dht node's local API\n\n")
	fmt.Fprintf(w, "Usage: dhtctl [flags] COMMAND [ARGS]\n\nCommands:\n")
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-15s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, "  %-15s %s\n", "help", "show help for a command")
	fmt.Fprintf(w, "\nFlags (also accepted after the command):\n")
	printDefaults(w, fs)
	fmt.Fprintf(w, "\nExit status: 0 ok, 1 operation failed, 2 usage error, 3 node unreachable.\n")
}

// help serves "dhtctl help [COMMAND]".
func (c *cli) help(args []string, fs *flag.FlagSet) int {
	if len(args) == 0 {
		c.usage(c.stdout, fs)
		return exitOK
	}
	if len(args) > 1 {
		return c.usageError("help", errors.New("want at most one command"))
	}
	for i := range commands {
		if commands[i].name == args[0] {
			// A command's flags are set up by its run function, which
			// prints its help for -h.
			return commands[i].run(c, &commands[i], []string{"-h"})
		}
	}
	return c.usageError("", fmt.Errorf("unknown command %q", args[0]))
}

// flagSet returns a flag set for cmd with the global flags registered.
func (c *cli) flagSet(cmd *command) *flag.FlagSet {
	fs := newFlagSet(cmd.name)
	c.globalFlags(fs)
	return fs
}

// commandUsage writes cmd's help text.
func commandUsage(w io.Writer, cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: dhtctl %s %s\n\n%s.\n\nFlags:\n", cmd.name, cmd.args, capitalize(cmd.summary))
	printDefaults(w, fs)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// printDefaults writes fs's flags to w.
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parse parses a command's arguments, flags and positional arguments mixed
// ("--" ends the flags). It returns the positional arguments, or done with
// an exit status (help was printed, or a usage error).
func (c *cli) parse(cmd *command, fs *flag.FlagSet, args []string, minPos, maxPos int) (pos []string, status int, done bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				commandUsage(c.stdout, cmd, fs)
				return nil, exitOK, true
			}
			return nil, c.usageError(cmd.name, err), true
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < minPos:
		return nil, c.usageError(cmd.name, fmt.Errorf("missing argument; usage: dhtctl %s %s", cmd.name, cmd.args)), true
	case len(pos) > maxPos:
		return nil, c.usageError(cmd.name, fmt.Errorf("too many arguments; usage: dhtctl %s %s", cmd.name, cmd.args)), true
	}
	if c.timeout < 0 {
		return nil, c.usageError(cmd.name, fmt.Errorf("--timeout %v is negative", c.timeout)), true
	}
	return pos, exitOK, false
}

// usageError reports a command-line error and returns exitUsage.
func (c *cli) usageError(cmd string, err error) int {
	prefix := "dhtctl"
	if cmd != "" {
		prefix += " " + cmd
	}
	fmt.Fprintf(c.stderr, "%s: %v\nRun 'dhtctl help%s' for usage.\n", prefix, err, strings.TrimPrefix(prefix, "dhtctl"))
	return exitUsage
}

// do creates the client, runs call with it and reports the outcome: the
// result (as JSON with --json, else through human) or the failure.
func do[T any](c *cli, cmd string, call func(ctx context.Context, cl *api.Client) (T, error), human func(w io.Writer, res *T)) int {
	cl, err := api.NewClient(c.ops, c.timeout)
	if err != nil {
		return c.usageError(cmd, fmt.Errorf("--ops: %w", err))
	}
	res, err := call(context.Background(), cl)
	if err != nil {
		return c.fail(cmd, cl, err)
	}
	if c.json {
		return c.writeJSON(res)
	}
	human(c.stdout, &res)
	return exitOK
}

// writeJSON prints v as indented JSON on stdout.
func (c *cli) writeJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(c.stderr, "dhtctl: encode JSON: %v\n", err)
		return exitFailed
	}
	_, _ = c.stdout.Write(append(b, '\n'))
	return exitOK
}

// fail reports a failed call and returns its exit status.
func (c *cli) fail(cmd string, cl *api.Client, err error) int {
	var ae *api.APIError
	switch {
	case errors.Is(err, api.ErrUnreachable):
		fmt.Fprintf(c.stderr, "dhtctl %s: node not reachable at %s: %v\n", cmd, cl.BaseURL(), err)
		return exitUnreachable
	case errors.As(err, &ae):
		if c.json {
			c.writeJSON(api.ErrorBody{Error: api.ErrorInfo{Code: ae.Code, Name: ae.Name, Kind: ae.Kind, Reason: ae.Reason}})
		}
		fmt.Fprintf(c.stderr, "dhtctl %s: %v\n", cmd, ae)
		return exitFailed
	}
	fmt.Fprintf(c.stderr, "dhtctl %s: %v\n", cmd, err)
	return exitFailed
}

func (c *cli) ping(cmd *command, args []string) int {
	fs := c.flagSet(cmd)
	pos, st, done := c.parse(cmd, fs, args, 0, 1)
	if done {
		return st
	}
	var peer string
	if len(pos) == 1 {
		ref, err := api.ParsePeer(pos[0])
		if err != nil {
			return c.usageError(cmd.name, err)
		}
		if ref.IsZero() {
			return c.usageError(cmd.name, errors.New("empty PEER"))
		}
		peer = ref.String()
	}
	return do(c, cmd.name, func(ctx context.Context, cl *api.Client) (api.PingResult, error) {
		return cl.Ping(ctx, peer)
	}, printPing)
}

func (c *cli) findNode(cmd *command, args []string) int {
	fs := c.flagSet(cmd)
	pos, st, done := c.parse(cmd, fs, args, 1, 1)
	if done {
		return st
	}
	id, err := kbucket.ParseID(pos[0])
	if err != nil {
		return c.usageError(cmd.name, err)
	}
	return do(c, cmd.name, func(ctx context.Context, cl *api.Client) (api.ClosestResult, error) {
		return cl.FindClosest(ctx, id)
	}, printClosest)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func (c *cli) provide(cmd *command, args []string) int {
	fs := c.flagSet(cmd)
	var (
		data, ttl string
		addrs     stringList
	)
	fs.StringVar(&data, "data", "", "announce the BLAKE3-256 key of this text instead of KEY")
	fs.Var(&addrs, "addr", "address to announce, quic://host:port (repeatable; default: the node's own)")
	fs.StringVar(&ttl, "ttl", "", "record lifetime, 1m to 48h, e.g. 24h or a number of seconds (default: the node's provider.ttl_secs)")
	pos, st, done := c.parse(cmd, fs, args, 0, 1)
	if done {
		return st
	}
	dataSet := false
	fs.Visit(func(f *flag.Flag) { dataSet = dataSet || f.Name == "data" })
	var req api.ProvideRequest
	switch {
	case len(pos) == 1 && dataSet:
		return c.usageError(cmd.name, errors.New("give KEY or --data, not both"))
	case len(pos) == 1:
		k, err := kbucket.ParseID(pos[0])
		if err != nil {
			return c.usageError(cmd.name, err)
		}
		req.Key = api.ID(k).String()
	case dataSet && data == "":
		return c.usageError(cmd.name, errors.New("--data is empty"))
	case dataSet:
		req.Data = data
	default:
		return c.usageError(cmd.name, fmt.Errorf("missing KEY or --data; usage: dhtctl %s %s", cmd.name, cmd.args))
	}
	if len(addrs) > api.MaxAddrs {
		return c.usageError(cmd.name, fmt.Errorf("%d --addr: at most %d", len(addrs), api.MaxAddrs))
	}
	for _, a := range addrs {
		ca, err := api.ParseAddr(a)
		if err != nil {
			return c.usageError(cmd.name, err)
		}
		req.Addrs = append(req.Addrs, ca)
	}
	if ttl != "" {
		if _, err := api.ParseTTL(ttl); err != nil {
			return c.usageError(cmd.name, err)
		}
		req.TTL = ttl
	}
	return do(c, cmd.name, func(ctx context.Context, cl *api.Client) (api.ProvideResult, error) {
		return cl.Provide(ctx, req)
	}, printProvide)
}

func (c *cli) findProviders(cmd *command, args []string) int {
	fs := c.flagSet(cmd)
	pos, st, done := c.parse(cmd, fs, args, 1, 1)
	if done {
		return st
	}
	key, err := kbucket.ParseID(pos[0])
	if err != nil {
		return c.usageError(cmd.name, err)
	}
	return do(c, cmd.name, func(ctx context.Context, cl *api.Client) (api.ProvidersResult, error) {
		return cl.FindProviders(ctx, key)
	}, printProviders)
}

func (c *cli) peers(cmd *command, args []string) int {
	if _, st, done := c.parse(cmd, c.flagSet(cmd), args, 0, 0); done {
		return st
	}
	return do(c, cmd.name, func(ctx context.Context, cl *api.Client) (api.PeersResult, error) {
		return cl.Peers(ctx)
	}, printPeers)
}

func (c *cli) stats(cmd *command, args []string) int {
	if _, st, done := c.parse(cmd, c.flagSet(cmd), args, 0, 0); done {
		return st
	}
	return do(c, cmd.name, func(ctx context.Context, cl *api.Client) (api.StatsResult, error) {
		return cl.Stats(ctx)
	}, printStats)
}
