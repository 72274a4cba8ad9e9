package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/svc-dht/svc-dht/seeds"
)

// ExitBadConfig is the daemon's exit code for a configuration it refuses.
const ExitBadConfig = 2

// Problem is one thing wrong with a configuration.
type Problem struct {
	Key    string // dotted key, environment variable or flag; "" when not about one key
	Value  string // the offending value (TOML form, or the text given); may be ""
	Reason string // why it is refused
	Source string // where the value came from: "from file F", "from env V", "from flag --f", "default", "macronode default"
}

// String renders the problem as `config: KEY = VALUE: REASON (SOURCE)`.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString("config: ")
	if p.Key != "" {
		b.WriteString(p.Key)
		if p.Value != "" {
			b.WriteString(" = ")
			b.WriteString(p.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	if p.Source != "" {
		b.WriteString(" (")
		b.WriteString(p.Source)
		b.WriteString(")")
	}
	return b.String()
}

// ValidationError lists every problem found in a configuration. The daemon
// exits with ExitCode (2) on it.
type ValidationError struct {
	Problems []Problem
}

// Error renders one problem per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// ExitCode is the process exit code for a bad configuration: ExitBadConfig.
func (e *ValidationError) ExitCode() int { return ExitBadConfig }

type problems []Problem

func (ps *problems) add(p Problem) { *ps = append(*ps, p) }

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: slices.Clone(ps)}
}

// validate checks every key of c in table order. origin gives the source
// of each key's value and skip the keys whose last assignment already
// failed (both may be nil).
func validate(c *Config, ps *problems, origin []string, skip []bool) {
	for i := range table {
		k := &table[i]
		if skip != nil && skip[i] {
			continue
		}
		if reason := k.validate(c); reason != "" {
			p := Problem{Key: k.Name, Value: k.tomlText(c), Reason: reason}
			if origin != nil {
				p.Source = origin[i]
			}
			ps.add(p)
		}
	}
}

// validate returns why the key's value in c is refused, or "".
func (k *Key) validate(c *Config) string {
	if k.numeric() {
		x := k.number(c)
		if (k.hasLo && !(x >= k.lo)) || (k.hasHi && !(x <= k.hi)) {
			return k.rangeReason()
		}
	}
	switch k.kind {
	case kindString:
		s := k.value(c).String()
		if k.Allowed != nil && !slices.Contains(k.Allowed, s) {
			return "must be one of " + strings.Join(k.Allowed, ", ")
		}
		if reason := checkFormat(k.Rule, s); reason != "" {
			return reason
		}
	case kindList:
		list := k.value(c).Interface().([]string)
		var bad []string
		for i, s := range list {
			switch {
			case k.Allowed != nil && !slices.Contains(k.Allowed, s):
				bad = append(bad, tomlString(s)+": must be one of "+strings.Join(k.Allowed, ", "))
			case slices.Contains(list[:i], s):
				bad = append(bad, tomlString(s)+": listed twice")
			default:
				if reason := checkFormat(k.Rule, s); reason != "" {
					bad = append(bad, tomlString(s)+": "+reason)
				}
			}
		}
		if bad != nil {
			return strings.Join(bad, "; ")
		}
	}
	if k.check != nil {
		return k.check(c)
	}
	return ""
}

// rangeReason says what a numeric key's bounds require.
func (k *Key) rangeReason() string {
	switch {
	case k.hasLo && k.hasHi && k.lo == k.hi:
		return "must be " + k.Min + " (fixed)"
	case k.hasLo && k.hasHi:
		return "must be between " + k.Min + " and " + k.Max
	case k.hasLo:
		return "must be at least " + k.Min
	case k.hasHi:
		return "must be at most " + k.Max
	}
	return "out of range"
}

// checkFormat applies the syntax rule named by a key's Rule text.
func checkFormat(rule, s string) string {
	switch rule {
	case ruleHostPort:
		return checkHostPort(s)
	case ruleDate:
		if s == "" {
			return ""
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return "want a date YYYY-MM-DD"
		}
	case ruleSeeds:
		return checkSeed(s)
	case ruleQUICAddr:
		return checkQUICAddr(s)
	}
	return ""
}

// checkQUICAddr accepts an address peers can dial: quic://host:port with a
// host that is not a wildcard and a port that is not 0.
func checkQUICAddr(s string) string {
	const scheme = "quic://"
	hp, ok := strings.CutPrefix(s, scheme)
	if !ok {
		return "want quic://host:port"
	}
	if reason := checkHostPort(hp); reason != "" {
		return reason
	}
	host, port, _ := net.SplitHostPort(hp)
	switch ip, err := netip.ParseAddr(host); {
	case host == "":
		return "want a host: peers cannot dial an empty one"
	case err == nil && ip.IsUnspecified():
		return "host " + host + " is a wildcard: peers cannot dial it"
	case port == "0":
		return "port 0: peers cannot dial it"
	}
	return ""
}

// checkHostPort accepts host:port with an optional host (all interfaces),
// an IP literal (IPv6 in brackets) or a host name, and a port 0-65535.
func checkHostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "want host:port (IPv6 in brackets, e.g. [::1]:4433)"
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Sprintf("port %q: want a number 0-65535", port)
	}
	if host == "" {
		return ""
	}
	return checkHost(host)
}

// checkSeed parses one seed with the seeds package, the parser the
// runtime uses.
func checkSeed(s string) string {
	if _, err := seeds.Parse(s); err != nil {
		var pe *seeds.ParseError
		if errors.As(err, &pe) {
			return "bad " + pe.Part + ": " + pe.Err.Error()
		}
		return err.Error()
	}
	return ""
}

// checkSeedList refuses one address pinned to two different IDs.
func checkSeedList(c *Config) string {
	list := make([]seeds.Seed, 0, len(c.Bootstrap.Seeds))
	for _, s := range c.Bootstrap.Seeds {
		sd, err := seeds.Parse(s)
		if err != nil {
			return "" // reported element by element
		}
		list = append(list, sd)
	}
	if _, err := seeds.Merge(list); err != nil {
		return err.Error()
	}
	return ""
}

// checkHost accepts an IP literal (with an optional zone) or a DNS name.
func checkHost(h string) string {
	if _, err := netip.ParseAddr(h); err == nil {
		return ""
	}
	if strings.Contains(h, ":") {
		return fmt.Sprintf("host %q: not a valid IPv6 address", h)
	}
	if len(h) > 253 {
		return fmt.Sprintf("host %q: longer than 253 characters", h)
	}
	for label := range strings.SplitSeq(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("host %q: not a valid host name", h)
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-') {
				return fmt.Sprintf("host %q: not a valid host name", h)
			}
		}
	}
	return ""
}

// Cross-key rules. Each returns the reason its key is refused, or "".

const amnesiaOn = "amnesia.enabled = true (the micronode default): amnesia writes nothing to disk; "

func checkDataDir(c *Config) string {
	switch {
	case c.Amnesia.Enabled && c.DataDir != "":
		return "not allowed while " + amnesiaOn + "remove data_dir or set amnesia.enabled = false"
	case !c.Amnesia.Enabled && c.DataDir == "":
		return "required when amnesia.enabled = false (the macronode default): the identity key, " +
			"routing table and provider store are persisted there; set data_dir or amnesia.enabled = true"
	}
	return ""
}

func checkKeyFile(c *Config) string {
	if c.Amnesia.Enabled && c.KeyFile != "" {
		return "not allowed while " + amnesiaOn + "remove key_file or set amnesia.enabled = false"
	}
	return ""
}

func checkPeerRPS(c *Config) string {
	if c.Limits.PeerRPS > c.Limits.MaxRPS {
		return fmt.Sprintf("must not exceed limits.max_rps (%d)", c.Limits.MaxRPS)
	}
	return ""
}

func checkRefresh(c *Config) string {
	if c.Provider.Refresh >= c.Provider.TTL {
		return "must be less than provider.ttl_secs (" + FormatDuration(c.Provider.TTL) + ")"
	}
	return ""
}

func checkPerKey(c *Config) string { return notAboveTotal(c.Provider.MaxPerKey, c) }

func checkPerPublisher(c *Config) string { return notAboveTotal(c.Provider.MaxPerPublisher, c) }

func notAboveTotal(n int, c *Config) string {
	if n > c.Provider.MaxTotal {
		return fmt.Sprintf("must not exceed provider.max_total (%d)", c.Provider.MaxTotal)
	}
	return ""
}

func checkRequired(c *Config) string {
	b := c.Bootstrap
	if !b.UseDefaultSeeds && len(b.Seeds) > 0 && b.Required > len(b.Seeds) {
		return fmt.Sprintf("only %d seeds configured in bootstrap.seeds (and bootstrap.use_default_seeds = false)", len(b.Seeds))
	}
	return ""
}

func checkDualSign(c *Config) string {
	if c.PQ.DualSign && !c.PQ.HasAlgorithm(algMLDSA87) {
		return "needs " + algMLDSA87 + " in pq.algorithms"
	}
	return ""
}

func checkAlgorithms(c *Config) string {
	if !c.PQ.HasAlgorithm(algEd25519) {
		return "must include " + algEd25519 + " (the identity key)"
	}
	return ""
}

func checkEnforce(c *Config) string {
	switch {
	case !c.PQ.Enforce:
	case c.PQ.RequirePQOn == "":
		return "needs pq.require_pq_on (the date from which classical-only records are rejected)"
	case !c.PQ.HasAlgorithm(algMLDSA87):
		return "needs " + algMLDSA87 + " in pq.algorithms"
	}
	return ""
}
