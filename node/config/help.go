package config

import (
	"strings"
)

// Help returns the --help text of the configuration flags: --config and
// one entry per key with its placeholder, description, defaults, range,
// whether it reloads, and its environment variable.
func Help() string {
	var b strings.Builder
	b.WriteString("Configuration (precedence: defaults < profile < file < environment < flags).\n" +
		"Every key can be set in the TOML file given by --config, as the environment\n" +
		"variable shown, or as a flag named like the key. Durations: 250ms, 5s, 1h.\n" +
		"Sizes: 65536, 64KiB, 1MiB. Lists: comma-separated. See docs/CONFIG.md.\n\n")
	b.WriteString("  --" + ConfigFlag + " FILE\n        TOML configuration file (env " + ConfigEnv + ")\n")
	for i := range table {
		k := &table[i]
		b.WriteString("  ")
		b.WriteString(k.Flag())
		if k.kind != kindBool {
			b.WriteString(" ")
		}
		b.WriteString(k.placeholder())
		b.WriteString("\n        ")
		b.WriteString(k.Desc)
		b.WriteString(" (default ")
		b.WriteString(displayDefault(k.Default))
		if k.Macro != "" {
			b.WriteString(", macronode ")
			b.WriteString(displayDefault(k.Macro))
		}
		if r := k.rangeText(); r != "" {
			b.WriteString("; ")
			b.WriteString(r)
		}
		if k.Reloadable {
			b.WriteString("; reloadable")
		}
		b.WriteString("; env ")
		b.WriteString(k.EnvVar())
		b.WriteString(")\n")
	}
	return b.String()
}

// placeholder is the argument shown after the flag in --help.
func (k *Key) placeholder() string {
	switch {
	case k.kind == kindBool:
		return "[=true|false]"
	case k.kind == kindList && k.Rule == ruleSeeds:
		return "SEED[,SEED...]"
	case k.kind == kindList && k.Rule == ruleQUICAddr:
		return "quic://HOST:PORT[,...]"
	case k.kind == kindList:
		return strings.Join(k.Allowed, "|") + "[,...]"
	case k.Allowed != nil:
		return strings.Join(k.Allowed, "|")
	case k.Rule == ruleHostPort:
		return "HOST:PORT"
	case k.Rule == rulePath:
		return "PATH"
	case k.Rule == ruleDate:
		return "YYYY-MM-DD"
	}
	switch k.kind {
	case kindInt:
		return "N"
	case kindFloat:
		return "X"
	case kindDuration:
		return "DURATION"
	case kindSize:
		return "SIZE"
	}
	return "STRING"
}

// rangeText describes the key's bounds, allowed values and rule.
func (k *Key) rangeText() string {
	var parts []string
	switch {
	case k.hasLo && k.hasHi && k.lo == k.hi:
		parts = append(parts, "fixed")
	case k.hasLo && k.hasHi:
		parts = append(parts, k.Min+" to "+k.Max)
	case k.hasLo:
		parts = append(parts, ">= "+k.Min)
	case k.hasHi:
		parts = append(parts, "<= "+k.Max)
	}
	if k.Allowed != nil {
		if k.kind == kindList {
			parts = append(parts, "any of "+strings.Join(k.Allowed, ", "))
		} else {
			parts = append(parts, "one of "+strings.Join(k.Allowed, ", "))
		}
	}
	if k.Rule != "" {
		parts = append(parts, k.Rule)
	}
	if k.kind == kindBool {
		parts = append(parts, "true or false")
	}
	return strings.Join(parts, "; ")
}

// mdEscape escapes text for a Markdown table cell.
var mdEscape = strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;")

func displayDefault(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// MarkdownTable returns the key table as Markdown: key, the micronode and
// macronode defaults, range or format, whether it reloads, description.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| key | micronode | macronode | range / format | reload | description |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for i := range table {
		k := &table[i]
		reload := "restart"
		if k.Reloadable {
			reload = "yes"
		}
		cells := []string{
			"`" + k.Name + "`",
			"`" + displayDefault(k.Default) + "`",
			"`" + displayDefault(k.DefaultFor(Macronode)) + "`",
			mdEscape.Replace(k.rangeText()),
			reload,
			mdEscape.Replace(k.Desc),
		}
		b.WriteString("|")
		for _, cell := range cells {
			b.WriteString(" ")
			b.WriteString(cell)
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Document returns docs/CONFIG.md: how the sources combine, the value
// formats, validation, amnesia and reload rules, and MarkdownTable.
func Document() string {
	return `# svc-dht configuration

<!-- Generated from node/config's key table by
     go test ./node/config -run TestConfigTableUpToDate -update
     Do not edit by hand. -->

Sources, from lowest to highest precedence: built-in defaults < profile defaults <
TOML file (` + "`--config FILE` or `" + ConfigEnv + "`" + `) < environment ` + "`" + EnvPrefix + "*`" + ` < flags.
The profile (` + "`micronode`, the default, or `macronode`" + `) may be chosen in any source; the
highest one wins, and its defaults always lie beneath the file: ` + "`--profile macronode`" + ` with a
file setting ` + "`max_conns = 300`" + ` runs with 300 connections.

- **File**: TOML. Dotted keys are tables: ` + "`[queue_cap]` / `work = 512`, or `queue_cap.work = 512`" + `.
  Unknown keys and tables are errors.
- **Environment**: ` + "`" + EnvPrefix + "`" + ` and the key in upper case with dots as underscores
  (` + "`" + EnvPrefix + "QUEUE_CAP_WORK=1024`" + `). An unknown ` + "`" + EnvPrefix + "*`" + ` variable is an error.
- **Flags**: ` + "`--`" + ` and the key exactly as in the file (` + "`--queue_cap.work=1024`" + `). Booleans may be
  bare (` + "`--pq.enforce`" + `); a list flag takes a comma-separated list and may be repeated to extend it.
- **Values**: durations ` + "`250ms`, `5s`, `1h30m`" + ` (a unit is required, except that keys ending in
  ` + "`_secs`" + ` also take a bare number of seconds); sizes in bytes or with ` + "`KiB`, `MiB`, `GiB`" + `
  (` + "`64KiB`, `1MiB`" + `; decimal ` + "`KB`/`MB`" + ` are refused as ambiguous); fractions ` + "`0.4` or `40%`" + `;
  lists are TOML arrays in the file and comma-separated in the environment and flags.
- **Validation** is strict and reports every problem as
  ` + "`config: KEY = VALUE: REASON (SOURCE)`" + `; the daemon then exits with code 2.
  ` + "`svc-dht config check FILE`" + ` checks a file on its own.
- **Amnesia** (` + "`amnesia.enabled`" + `, on in micronode) keeps everything in RAM: a ` + "`data_dir` or `key_file`" + `
  is then refused. Without amnesia ` + "`data_dir`" + ` is required (the macronode profile needs one).
- **Reload** (SIGHUP): a changed key marked *yes* takes its new value; a changed key marked *restart*
  keeps its running value until the next start and is reported. The reloaded sources are read under the
  running profile. An invalid reload changes nothing: the running configuration stays.

` + MarkdownTable()
}

// TOML renders the configuration as a TOML file that loads back to the same
// values (for `svc-dht config show` and as a starting point for a file).
func (c *Config) TOML() []byte {
	var b strings.Builder
	b.WriteString("# svc-dht configuration; keys and ranges: docs/CONFIG.md\n")
	group := ""
	for i := range table {
		k := &table[i]
		name := k.Name
		if g, leaf, ok := strings.Cut(k.Name, "."); ok {
			if g != group {
				group = g
				b.WriteString("\n[" + g + "]\n")
			}
			name = leaf
		}
		b.WriteString(name)
		b.WriteString(" = ")
		b.WriteString(k.tomlText(c))
		b.WriteString("\n")
	}
	return []byte(b.String())
}
