package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
)

// files is an in-memory file system for Sources.ReadFile.
type files map[string]string

func (f files) read(name string) ([]byte, error) {
	s, ok := f[name]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
	}
	return []byte(s), nil
}

func mustLoad(t *testing.T, src Sources) *Config {
	t.Helper()
	c, err := Load(src)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func hasProblem(ps []Problem, key, reason string) bool {
	for _, p := range ps {
		if p.Key == key && strings.Contains(p.String(), reason) {
			return true
		}
	}
	return false
}

// Each layer overrides the one beneath it, for keys of every type.
func TestPrecedence(t *testing.T) {
	type layerVals struct{ profile, file, env, flag string } // "" = layer does not set the key
	cases := []struct {
		key  string
		toml func(string) string // the value as written in the file
		vals layerVals
	}{
		{"queue_cap.work", raw, layerVals{"1024", "700", "800", "900"}},
		{"max_conns", raw, layerVals{"1024", "300", "400", "500"}},
		{"alpha", raw, layerVals{"", "4", "5", "6"}},
		{"rpc_timeout", quoted, layerVals{"", "1s", "2s", "900ms"}},
		{"chunk_size", quoted, layerVals{"", "32KiB", "96KiB", "128KiB"}},
		{"diversity.asn_max_pct", raw, layerVals{"", "0.3", "0.5", "0.6"}},
		{"diversity.exempt_private", raw, layerVals{"", "false", "true", "false"}},
		{"amnesia.enabled", raw, layerVals{"false", "true", "false", "true"}},
		{"log.level", quoted, layerVals{"", "debug", "warn", "error"}},
		{"bootstrap.seeds", array, layerVals{"", "quic://a:1", "quic://b:2,quic://c:3", "quic://d:4"}},
	}
	for _, c := range cases {
		k := keyByName(c.key)
		// top is how many layers above the defaults take part: 0 defaults,
		// 1 profile, 2 file, 3 env, 4 flags.
		for top := 0; top <= 4; top++ {
			src := Sources{ReadFile: files{}.read}
			want := k.Default
			var fileText strings.Builder
			if top >= 1 {
				fileText.WriteString("profile = \"macronode\"\n")
				src.Args = append(src.Args, "--data_dir=/var/lib/x") // macronode needs one
				if c.key == "amnesia.enabled" {
					src.Args = src.Args[:0]
				}
				if c.vals.profile != "" {
					want = c.vals.profile
				}
			}
			if top >= 2 {
				group, leaf, dotted := strings.Cut(c.key, ".")
				if dotted {
					fmt.Fprintf(&fileText, "[%s]\n%s = %s\n", group, leaf, c.toml(c.vals.file))
				} else {
					// top-level keys must precede tables; the profile line is first anyway
					fileText.WriteString(c.key + " = " + c.toml(c.vals.file) + "\n")
				}
				want = c.vals.file
			}
			if top >= 3 {
				src.Env = []string{k.EnvVar() + "=" + c.vals.env}
				want = c.vals.env
			}
			if top >= 4 {
				src.Args = append(src.Args, k.Flag()+"="+c.vals.flag)
				want = c.vals.flag
			}
			if top >= 1 {
				src.ReadFile = files{"f.toml": fileText.String()}.read
				src.Args = append(src.Args, "--config", "f.toml")
			}
			// amnesia on needs no data_dir, off needs one.
			if c.key == "amnesia.enabled" && want == "false" {
				src.Args = append(src.Args, "--data_dir=/var/lib/x")
			}
			cfg, err := Load(src)
			if err != nil {
				t.Errorf("%s, %d layers: %v", c.key, top, err)
				continue
			}
			if got := k.text(cfg); got != want {
				t.Errorf("%s, %d layers: got %q, want %q", c.key, top, got, want)
			}
		}
	}
}

func raw(s string) string    { return s }
func quoted(s string) string { return tomlString(s) }
func array(s string) string {
	parts := splitList(s)
	for i := range parts {
		parts[i] = tomlString(parts[i])
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// The profile is chosen by the highest source that names it, and its
// defaults always lie beneath the file.
func TestProfileBeneathFile(t *testing.T) {
	f := files{
		"conns.toml": "max_conns = 300\ndata_dir = \"/d\"\n",
		"macro.toml": "profile = \"macronode\"\ndata_dir = \"/d\"\n[amnesia]\nenabled = false\n",
	}
	// Profile by flag, file value wins over the profile default; other
	// keys get the profile's defaults.
	c := mustLoad(t, Sources{Args: []string{"--profile=macronode", "--config=conns.toml"}, ReadFile: f.read})
	if c.Profile != Macronode || c.MaxConns != 300 || c.QueueCap.Work != 1024 || c.Amnesia.Enabled {
		t.Errorf("flag profile + file: profile %s max_conns %d queue %d amnesia %t; want macronode 300 1024 false",
			c.Profile, c.MaxConns, c.QueueCap.Work, c.Amnesia.Enabled)
	}
	// The same by environment.
	c = mustLoad(t, Sources{Env: []string{"SVC_DHT_PROFILE=macronode", "SVC_DHT_CONFIG=conns.toml"}, ReadFile: f.read})
	if c.Profile != Macronode || c.MaxConns != 300 || c.Limits.MaxRPS != 10000 {
		t.Errorf("env profile + file: %s %d %d", c.Profile, c.MaxConns, c.Limits.MaxRPS)
	}
	// Profile in the file alone.
	c = mustLoad(t, Sources{Args: []string{"--config=macro.toml"}, ReadFile: f.read})
	if c.Profile != Macronode || c.MaxConns != 1024 {
		t.Errorf("file profile: %s %d", c.Profile, c.MaxConns)
	}
	// Env overrides the file's profile, flag overrides env.
	src := Sources{Args: []string{"--config=macro.toml"}, Env: []string{"SVC_DHT_PROFILE=micronode"}, ReadFile: f.read}
	c = mustLoad(t, src)
	if c.Profile != Micronode || c.MaxConns != 256 {
		t.Errorf("env over file profile: %s %d", c.Profile, c.MaxConns)
	}
	src.Args = append(src.Args, "--profile=macronode")
	c = mustLoad(t, src)
	if c.Profile != Macronode || c.MaxConns != 1024 {
		t.Errorf("flag over env profile: %s %d", c.Profile, c.MaxConns)
	}
	// An invalid profile is reported, not silently replaced.
	_, err := Load(Sources{Args: []string{"--profile=nanonode"}})
	if ps := problemsOf(t, err); !hasProblem(ps, "profile", "must be one of micronode, macronode") {
		t.Errorf("bad profile: %v", ps)
	}
}

func TestFlagForms(t *testing.T) {
	c := mustLoad(t, Sources{Args: []string{
		"--pq.enforce", "--pq.require_pq_on", "2030-01-01", // bare boolean, separate value
		"-alpha=4",                     // single dash works too
		"--bootstrap.seeds=quic://a:1", // repeated list flags extend the list
		"--bootstrap.seeds", "quic://b:2,quic://c:3",
		"--hop_budget=4", "--hop_budget=6", // a repeated scalar: the last wins
		"--diversity.exempt_private=false",
	}})
	if !c.PQ.Enforce || c.PQ.RequirePQOn != "2030-01-01" || c.Alpha != 4 || c.HopBudget != 6 || c.Diversity.ExemptPrivate {
		t.Errorf("flags: %+v", c)
	}
	if got := strings.Join(c.Bootstrap.Seeds, " "); got != "quic://a:1 quic://b:2 quic://c:3" {
		t.Errorf("seeds %q", got)
	}
	// A list flag replaces the environment's list rather than extending it.
	c = mustLoad(t, Sources{Args: []string{"--bootstrap.seeds=quic://f:1"}, Env: []string{"SVC_DHT_BOOTSTRAP_SEEDS=quic://e:1,quic://e:2"}})
	if got := strings.Join(c.Bootstrap.Seeds, " "); got != "quic://f:1" {
		t.Errorf("seeds %q", got)
	}
	// An empty list clears the file's.
	f := files{"s.toml": "[bootstrap]\nseeds = [\"quic://a:1\"]\n"}
	c = mustLoad(t, Sources{Args: []string{"--config=s.toml"}, Env: []string{"SVC_DHT_BOOTSTRAP_SEEDS="}, ReadFile: f.read})
	if len(c.Bootstrap.Seeds) != 0 {
		t.Errorf("seeds %q, want none", c.Bootstrap.Seeds)
	}
}

func TestCallerFlagSet(t *testing.T) {
	fs := flag.NewFlagSet("svc-dht", flag.ContinueOnError)
	strict := fs.Bool("strict-ready", false, "exit 4 on bootstrap timeout")
	AddFlags(fs)
	if err := fs.Parse([]string{"--strict-ready", "--k=24", "--log.level=debug", "devnet"}); err != nil {
		t.Fatal(err)
	}
	// Args is ignored when Flags is given; positional args are the caller's.
	c := mustLoad(t, Sources{Flags: fs, Args: []string{"--k=30"}, Env: []string{"SVC_DHT_K=16"}})
	if !*strict || c.K != 24 || c.Log.Level != "debug" {
		t.Errorf("k %d level %s strict %t", c.K, c.Log.Level, *strict)
	}
}

func TestConfigPathSources(t *testing.T) {
	f := files{"a.toml": "alpha = 5\n", "b.toml": "alpha = 6\n"}
	c := mustLoad(t, Sources{Env: []string{"SVC_DHT_CONFIG=a.toml"}, ReadFile: f.read})
	if c.Alpha != 5 {
		t.Errorf("env config: alpha %d", c.Alpha)
	}
	c = mustLoad(t, Sources{Args: []string{"--config=b.toml"}, Env: []string{"SVC_DHT_CONFIG=a.toml"}, ReadFile: f.read})
	if c.Alpha != 6 {
		t.Errorf("flag config over env: alpha %d", c.Alpha)
	}
	// The file goes through ReadFile only: nothing is read without a path.
	called := false
	c = mustLoad(t, Sources{ReadFile: func(string) ([]byte, error) { called = true; return nil, nil }})
	if called || c.Alpha != 3 {
		t.Errorf("read a file without --config (alpha %d)", c.Alpha)
	}
	_, err := Load(Sources{Args: []string{"--config=missing.toml"}, ReadFile: f.read})
	ps := problemsOf(t, err)
	if len(ps) != 1 || !strings.Contains(ps[0].String(), "missing.toml") || !strings.Contains(ps[0].Source, "--config") {
		t.Errorf("missing file: %v", ps)
	}
}

func TestCommandLineErrors(t *testing.T) {
	_, err := Load(Sources{Args: []string{"--help"}})
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	_, err = Load(Sources{Args: []string{"--no-such-flag=1"}})
	if ps := problemsOf(t, err); len(ps) != 1 || !strings.Contains(ps[0].Reason, "no-such-flag") {
		t.Errorf("unknown flag: %v", ps)
	}
	_, err = Load(Sources{Args: []string{"--alpha=2", "extra"}})
	if ps := problemsOf(t, err); len(ps) != 1 || !strings.Contains(ps[0].Reason, `unexpected argument "extra"`) {
		t.Errorf("positional: %v", ps)
	}
}

func TestUnknownKeys(t *testing.T) {
	f := files{"x.toml": `
seeds = ["quic://a:1"]
queue-cap = 3
[limits]
max_rps = 500
burst = 10
[limitz]
max_rps = 1
[bootstrap.extra]
a = 1
`}
	_, err := Load(Sources{Args: []string{"--config=x.toml"}, ReadFile: f.read,
		Env: []string{"SVC_DHT_FOO=1", "SVC_DHT_QUEUE_CAP=2", "OTHER_VAR=1", "svc_dht_alpha=9"}})
	ps := problemsOf(t, err)
	want := []struct{ key, reason string }{
		{"seeds", "unknown key; did you mean bootstrap.seeds?"},
		{"queue-cap", "unknown key"},
		{"limits.burst", "unknown key"},
		{"limitz", "unknown table"},
		{"bootstrap.extra", "unknown table"},
		{"SVC_DHT_FOO", "unknown environment variable"},
		{"SVC_DHT_QUEUE_CAP", "unknown environment variable"},
	}
	for _, w := range want {
		if !hasProblem(ps, w.key, w.reason) {
			t.Errorf("no problem %s: %s in\n%v", w.key, w.reason, err)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ps), len(want), err)
	}
	if !strings.Contains(err.Error(), "(from file x.toml)") {
		t.Errorf("file problems do not name the file:\n%v", err)
	}
	if got := suggest("max-conns"); got != "; did you mean max_conns?" {
		t.Errorf("suggest(max-conns) = %q", got)
	}
	if got := suggest("zzz"); got != "" {
		t.Errorf("suggest(zzz) = %q", got)
	}
}

func TestTOMLValueTypes(t *testing.T) {
	f := files{"ok.toml": `
frame_max = 1048576
chunk_size = "32 KiB"
[provider]
ttl_secs = 7200
refresh_secs = "1h"
[diversity]
asn_entropy_min = 2
asn_max_pct = "50%"
[pq]
require_pq_on = 2031-12-31
`}
	c := mustLoad(t, Sources{Args: []string{"--config=ok.toml"}, ReadFile: f.read})
	if c.FrameMax != MiB || c.ChunkSize != 32*KiB || c.Provider.TTL.Hours() != 2 || c.Diversity.ASNEntropyMin != 2 ||
		c.Diversity.ASNMaxPct != 0.5 || c.PQ.RequirePQOn != "2031-12-31" {
		t.Errorf("values: %+v", c)
	}
	bad := []struct{ line, key, reason string }{
		{`alpha = "3"`, "alpha", "want an integer, got a string"},
		{`alpha = 3.0`, "alpha", "want an integer, got a float"},
		{`alpha = 99999999999`, "alpha", "must be between 1 and 8"},
		{`rpc_timeout = 1500`, "rpc_timeout", "not a bare integer"},
		{`rpc_timeout = "1500"`, "rpc_timeout", "missing unit"},
		{`rpc_timeout = true`, "rpc_timeout", "want a duration string"},
		{`chunk_size = -5`, "chunk_size", "must not be negative"},
		{`chunk_size = "64KB"`, "chunk_size", "ambiguous unit"},
		{`chunk_size = 1.5`, "chunk_size", "want a size"},
		{`data_dir = 5`, "data_dir", "want a string, got an integer"},
		{`listen_addr = 2027-01-01`, "listen_addr", "want a string, got a date/time"},
		{`[amnesia]` + "\n" + `enabled = "yes"`, "amnesia.enabled", "want true or false, got a string"},
		{`[pq]` + "\n" + `algorithms = "ed25519"`, "pq.algorithms", "want an array of strings"},
		{`[pq]` + "\n" + `algorithms = ["ed25519", 1]`, "pq.algorithms", "element of type an integer"},
		{`[pq]` + "\n" + `require_pq_on = 2027-01-01T10:00:00Z`, "pq.require_pq_on", "want a string, got a date/time"},
		{`[diversity]` + "\n" + `asn_max_pct = nan`, "diversity.asn_max_pct", "finite"},
		{`[diversity]` + "\n" + `asn_max_pct = true`, "diversity.asn_max_pct", "want a number"},
		{`[log]` + "\n" + `level = ["info"]`, "log.level", "want a string, got an array"},
		{`[limits.max_rps]` + "\n" + `x = 1`, "limits.max_rps", "got a table"},
	}
	for _, b := range bad {
		f := files{"bad.toml": b.line + "\n"}
		_, err := Load(Sources{Args: []string{"--config=bad.toml"}, ReadFile: f.read})
		if ps := problemsOf(t, err); !hasProblem(ps, b.key, b.reason) {
			t.Errorf("%q: %v; want %s: %s", b.line, err, b.key, b.reason)
		}
	}
	_, err := Load(Sources{Args: []string{"--config=s.toml"}, ReadFile: files{"s.toml": "alpha = = 3\n"}.read})
	if ps := problemsOf(t, err); len(ps) != 1 || !strings.Contains(ps[0].Reason, "line 1") {
		t.Errorf("syntax error: %v", ps)
	}
}

func TestTextValueErrors(t *testing.T) {
	cases := []struct{ env, key, reason string }{
		{"SVC_DHT_K=abc", "k", `k = "abc": want an integer`},
		{"SVC_DHT_K=", "k", "want an integer"},
		{"SVC_DHT_K=99999999999999999999", "k", "want an integer"},
		{"SVC_DHT_RPC_TIMEOUT=1500", "rpc_timeout", "missing unit"},
		{"SVC_DHT_CHUNK_SIZE=1.5MiB", "chunk_size", "unknown unit"},
		{"SVC_DHT_PQ_ENFORCE=maybe", "pq.enforce", "want true or false"},
		{"SVC_DHT_DIVERSITY_ASN_MAX_PCT=lots", "diversity.asn_max_pct", "finite number"},
	}
	for _, c := range cases {
		_, err := Load(Sources{Env: []string{c.env}})
		if ps := problemsOf(t, err); !hasProblem(ps, c.key, c.reason) || !strings.Contains(err.Error(), "from env SVC_DHT_") {
			t.Errorf("%s: %v; want %s: %s", c.env, err, c.key, c.reason)
		}
	}
	// Accepted text forms.
	c := mustLoad(t, Sources{Env: []string{"SVC_DHT_PQ_DUAL_SIGN=off", "SVC_DHT_DIVERSITY_EXEMPT_PRIVATE=0",
		"SVC_DHT_PROVIDER_TTL_SECS=7200", "SVC_DHT_PROVIDER_REFRESH_SECS=3600", "SVC_DHT_LOG_LEVEL= warn "}})
	if c.PQ.DualSign || c.Diversity.ExemptPrivate || c.Provider.TTL.Hours() != 2 || c.Provider.Refresh.Hours() != 1 || c.Log.Level != "warn" {
		t.Errorf("text forms: %+v", c)
	}
}

// Every key can be set from the environment and from a flag.
func TestEveryKeyHasEnvAndFlag(t *testing.T) {
	for _, k := range Keys() {
		for _, src := range []Sources{
			{Env: []string{k.EnvVar() + "=" + k.Default}},
			{Args: []string{k.Flag() + "=" + k.Default}},
		} {
			if _, err := Load(src); err != nil {
				t.Errorf("%s: %v", k.Name, err)
			}
		}
	}
}

// Several problems in several sources are all reported, in a stable order.
func TestAllProblemsReported(t *testing.T) {
	src := Sources{
		Args:     []string{"--config=c.toml", "--alpha=0", "--log.level=loud"},
		Env:      []string{"SVC_DHT_BETA=9", "SVC_DHT_NOPE=1"},
		ReadFile: files{"c.toml": "k = 40\nhop_budget = 2\n"}.read,
	}
	_, err := Load(src)
	ps := problemsOf(t, err)
	for _, key := range []string{"alpha", "beta", "k", "hop_budget", "log.level", "SVC_DHT_NOPE"} {
		if !hasProblem(ps, key, "") {
			t.Errorf("no problem for %s in:\n%v", key, err)
		}
	}
	_, err2 := Load(src)
	if err2.Error() != err.Error() {
		t.Errorf("unstable report:\n%v\nvs\n%v", err, err2)
	}
}

// The brief's message format, with the source appended.
func TestMessageFormat(t *testing.T) {
	_, err := Load(Sources{Env: []string{"SVC_DHT_QUEUE_CAP_WORK=10"}})
	want := "config: queue_cap.work = 10: must be between 256 and 2048 (from env SVC_DHT_QUEUE_CAP_WORK)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// The TOML dump loads back to the same configuration.
func TestTOMLRoundTrip(t *testing.T) {
	c := mustLoad(t, Sources{Args: []string{"--profile=macronode", "--data_dir=/srv/dht \"x\"", "--rpc_timeout=1.2s",
		"--bootstrap.seeds=quic://a:1,b3:" + strings.Repeat("ab", 32) + "@quic://[::1]:4433", "--pq.require_pq_on=2030-06-01",
		"--diversity.asn_max_pct=33%", "--chunk_size=40000", "--provider.ttl_secs=90061"}})
	for _, cfg := range []*Config{c, defaults(Micronode)} {
		back, err := Load(Sources{Args: []string{"--config=dump.toml"}, ReadFile: files{"dump.toml": string(cfg.TOML())}.read})
		if err != nil {
			t.Fatalf("reload dump: %v\n%s", err, cfg.TOML())
		}
		if !reflect.DeepEqual(back, cfg) {
			t.Errorf("round trip differs:\n%s\nvs\n%s", back.TOML(), cfg.TOML())
		}
	}
}

func TestCheck(t *testing.T) {
	f := files{
		"good.toml":  "[limits]\nmax_rps = 2000\n",
		"bad.toml":   "alpha = 9\nbeta = \"x\"\nwho = 1\ndata_dir = \"/d\"\n",
		"macro.toml": "profile = \"macronode\"\ndata_dir = \"/var/lib/svc-dht\"\n",
	}
	if err := Check("good.toml", f.read); err != nil {
		t.Errorf("good: %v", err)
	}
	if err := Check("macro.toml", f.read); err != nil {
		t.Errorf("macro: %v", err)
	}
	ps := problemsOf(t, Check("bad.toml", f.read))
	for _, key := range []string{"alpha", "beta", "who", "data_dir"} {
		if !hasProblem(ps, key, "") {
			t.Errorf("Check(bad) misses %s: %v", key, ps)
		}
	}
	if len(ps) != 4 {
		t.Errorf("Check(bad): %d problems, want 4: %v", len(ps), ps)
	}
	if err := Check("none.toml", f.read); err == nil {
		t.Error("Check of a missing file passed")
	}
}
