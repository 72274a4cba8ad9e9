package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// ConfigFlag and ConfigEnv name the configuration file. They are not keys:
// the file cannot name itself.
const (
	ConfigFlag = "config"
	ConfigEnv  = EnvPrefix + "CONFIG"
)

// Sources are the inputs of a configuration, apart from the defaults.
// Precedence: defaults < profile < file < environment < flags.
type Sources struct {
	// Args are command-line arguments without the program name, parsed with
	// the flags of AddFlags; positional arguments are refused. Ignored when
	// Flags is set.
	Args []string
	// Flags is an already parsed FlagSet on which AddFlags registered the
	// configuration flags (next to the caller's own); only the flags set on
	// the command line count.
	Flags *flag.FlagSet
	// Env holds KEY=VALUE entries as from os.Environ; only SVC_DHT_* ones
	// are read, and an unknown SVC_DHT_* variable is an error.
	Env []string
	// ReadFile reads the configuration file named by --config or
	// SVC_DHT_CONFIG; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
}

// setting is one assignment of a key by a source.
type setting struct {
	key    *Key
	raw    any  // text (environment, flags) or a decoded TOML value (file)
	toml   bool // raw is a TOML value
	source string
}

func (st setting) set(c *Config) error {
	if st.toml {
		return st.key.setTOML(c, st.raw)
	}
	return st.key.setText(c, st.raw.(string))
}

// Load builds the configuration from src over the defaults and validates
// it. The profile is chosen first (flag over environment over file over
// the micronode default) and its defaults lie beneath the file, so a
// profile chosen by flag still lets the file's values win over the
// profile's defaults. Every error is a *ValidationError listing all the
// problems found, except a -h/--help argument, which returns an error
// wrapping flag.ErrHelp.
func Load(src Sources) (*Config, error) { return load(src, "") }

// Check validates a configuration file on its own (defaults, the profile it
// names, and its values; no environment or flags), for `svc-dht config
// check FILE`. It returns nil or a *ValidationError listing every problem.
// readFile nil means os.ReadFile.
func Check(path string, readFile func(string) ([]byte, error)) error {
	_, err := load(Sources{Args: []string{"--" + ConfigFlag + "=" + path}, ReadFile: readFile}, "")
	return err
}

// load builds a Config; a non-empty pin fixes the profile whose defaults
// are used (Reload keeps the running profile).
func load(src Sources, pin Profile) (*Config, error) {
	var ps problems
	flagSets, flagPath, err := flagSettings(src, &ps)
	if err != nil {
		return nil, err
	}
	envSets, envPath := envSettings(src.Env, &ps)
	path, pathSource := flagPath, "from flag --"+ConfigFlag
	if path == "" {
		path, pathSource = envPath, "from env "+ConfigEnv
	}
	var fileSets []setting
	if path != "" {
		readFile := src.ReadFile
		if readFile == nil {
			readFile = os.ReadFile
		}
		fileSets = fileSettings(path, pathSource, readFile, &ps)
	}

	profile := pin
	if profile == "" {
		profile = chooseProfile(fileSets, envSets, flagSets)
	}
	c := defaults(profile)
	origin := make([]string, len(table))
	for i := range table {
		origin[i] = "default"
		if profile == Macronode && table[i].Macro != "" {
			origin[i] = "macronode default"
		}
	}
	failed := make([]bool, len(table))
	for _, layer := range [][]setting{fileSets, envSets, flagSets} {
		for _, st := range layer {
			err := st.set(c)
			i := st.key.idx
			if err != nil {
				ps.add(Problem{Key: st.key.Name, Value: tomlAny(st.raw), Reason: err.Error(), Source: st.source})
				failed[i] = true
				continue
			}
			origin[i], failed[i] = st.source, false
		}
	}
	validate(c, &ps, origin, failed)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// chooseProfile picks the profile of the highest layer that sets a valid
// one; an invalid one is reported when it is applied.
func chooseProfile(layers ...[]setting) Profile {
	p := Micronode
	for _, layer := range layers {
		for _, st := range layer {
			if st.key.Name != "profile" {
				continue
			}
			var c Config
			if err := st.set(&c); err == nil && (c.Profile == Micronode || c.Profile == Macronode) {
				p = c.Profile
			}
		}
	}
	return p
}

// flagValue collects the occurrences of one configuration flag.
type flagValue struct {
	key  *Key // nil for --config
	vals []string
}

func (f *flagValue) String() string {
	if f == nil || f.key == nil {
		return ""
	}
	return f.key.Default
}

func (f *flagValue) Set(s string) error {
	f.vals = append(f.vals, s)
	return nil
}

// IsBoolFlag lets a boolean key be given as a bare flag (--pq.enforce).
func (f *flagValue) IsBoolFlag() bool { return f.key != nil && f.key.kind == kindBool }

// AddFlags registers on fs the flag --config and one flag per key, named
// like the key in the file (--queue_cap.work, --bootstrap.seeds). A
// boolean flag may be given bare (--pq.enforce). A list flag takes a
// comma-separated list and may be repeated to extend it. Pass the parsed fs
// as Sources.Flags.
func AddFlags(fs *flag.FlagSet) {
	fs.Var(&flagValue{}, ConfigFlag, "TOML configuration file")
	for i := range table {
		k := &table[i]
		fs.Var(&flagValue{key: k}, k.Name, k.Desc)
	}
}

// flagSettings returns the flag assignments and the --config path. Only a
// help request is returned as err; other problems go to ps.
func flagSettings(src Sources, ps *problems) (sets []setting, path string, err error) {
	fs := src.Flags
	if fs == nil {
		fs = flag.NewFlagSet("svc-dht", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		AddFlags(fs)
		if err := fs.Parse(src.Args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, "", fmt.Errorf("config: %w", err)
			}
			ps.add(Problem{Reason: err.Error(), Source: "command line"})
			return nil, "", nil
		}
		for _, a := range fs.Args() {
			ps.add(Problem{Reason: fmt.Sprintf("unexpected argument %q", a), Source: "command line"})
		}
	}
	fs.Visit(func(f *flag.Flag) {
		v, ok := f.Value.(*flagValue)
		if !ok || len(v.vals) == 0 {
			return
		}
		if v.key == nil {
			path = v.vals[len(v.vals)-1]
			return
		}
		val := v.vals[len(v.vals)-1]
		if v.key.kind == kindList {
			val = strings.Join(v.vals, ",")
		}
		sets = append(sets, setting{key: v.key, raw: val, source: "from flag " + v.key.Flag()})
	})
	return sets, path, nil
}

// envSettings returns the SVC_DHT_* assignments (sorted by name; the last
// entry of a repeated name wins) and SVC_DHT_CONFIG.
func envSettings(env []string, ps *problems) (sets []setting, path string) {
	vals := map[string]string{}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, EnvPrefix) {
			vals[name] = val
		}
	}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if name == ConfigEnv {
			path = vals[name]
			continue
		}
		k := keyByEnv(name)
		if k == nil {
			ps.add(Problem{Key: name, Reason: "unknown environment variable (svc-dht reads " + EnvPrefix +
				"<KEY> with the key in upper case and dots as underscores, e.g. " + EnvPrefix + "QUEUE_CAP_WORK)"})
			continue
		}
		sets = append(sets, setting{key: k, raw: vals[name], source: "from env " + name})
	}
	return sets, path
}

func keyByEnv(name string) *Key {
	for i := range table {
		if table[i].EnvVar() == name {
			return &table[i]
		}
	}
	return nil
}

// fileSettings reads and decodes the TOML file and returns its
// assignments in key order; unknown keys are problems.
func fileSettings(path, pathSource string, readFile func(string) ([]byte, error), ps *problems) []setting {
	data, err := readFile(path)
	if err != nil {
		ps.add(Problem{Reason: fmt.Sprintf("read config file: %v", err), Source: pathSource})
		return nil
	}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		ps.add(Problem{Reason: fmt.Sprintf("parse %s: %v", path, err)})
		return nil
	}
	var sets []setting
	walkTOML("", doc, "from file "+path, &sets, ps)
	return sets
}

func walkTOML(prefix string, m map[string]any, source string, sets *[]setting, ps *problems) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		full := prefix + name
		v := m[name]
		k := keyByName(full)
		sub, isTable := v.(map[string]any)
		switch {
		case k != nil:
			*sets = append(*sets, setting{key: k, raw: v, toml: true, source: source})
		case isTable && prefix == "" && groups[full]:
			walkTOML(full+".", sub, source, sets, ps)
		default:
			what := "unknown key"
			if isTable {
				what = "unknown table"
			}
			ps.add(Problem{Key: full, Reason: what + suggest(full), Source: source})
		}
	}
}

// suggest proposes a key for a mistyped name: the same name with
// underscores for dashes, or the key whose last part matches.
func suggest(name string) string {
	if k := keyByName(strings.ReplaceAll(name, "-", "_")); k != nil {
		return "; did you mean " + k.Name + "?"
	}
	last := name[strings.LastIndexByte(name, '.')+1:]
	for i := range table {
		n := table[i].Name
		if n != name && n[strings.LastIndexByte(n, '.')+1:] == last {
			return "; did you mean " + n + "?"
		}
	}
	return ""
}
