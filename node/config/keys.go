package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Key describes one configuration key. The key table (Keys) is the single
// list of knobs: defaults, profile values, validation and its messages, flag
// and environment names, --help, the TOML dump and docs/CONFIG.md are all
// generated from it. A key's Config field is the one whose toml tag path is
// the key's Name.
type Key struct {
	Name       string   // dotted TOML name; the flag is --Name
	Default    string   // default in text form (micronode, the default profile)
	Macro      string   // macronode default when it differs from Default ("" = same)
	Min, Max   string   // inclusive bounds of a number, duration or size ("" = none)
	Allowed    []string // closed set of values, or of list elements
	Rule       string   // further constraint or format, for docs ("host:port", "< provider.ttl_secs")
	Desc       string   // one-line description
	Reloadable bool     // may change on reload (SIGHUP) without a restart

	check func(c *Config) string // extra rule: the reason the value is bad, or ""
	date  bool                   // a YYYY-MM-DD string; also accepts a TOML local date
	idx   int                    // position in the table
	field []int                  // index path of the Config field
	kind  kind
	lo    float64 // parsed Min, Max
	hi    float64
	hasLo bool
	hasHi bool
}

// EnvVar is the key's environment variable: SVC_DHT_ and the name in upper
// case with dots as underscores (queue_cap.work = SVC_DHT_QUEUE_CAP_WORK).
func (k *Key) EnvVar() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(k.Name, ".", "_"))
}

// Flag is the key's command-line flag: "--" and the TOML name.
func (k *Key) Flag() string { return "--" + k.Name }

// DefaultFor is the key's default under profile p, in text form.
func (k *Key) DefaultFor(p Profile) string {
	if p == Macronode && k.Macro != "" {
		return k.Macro
	}
	return k.Default
}

// EnvPrefix starts every environment variable the configuration reads.
const EnvPrefix = "SVC_DHT_"

// Rule texts shared by several keys (also choose the --help placeholder).
const (
	ruleHostPort = "host:port"
	rulePath     = "path"
	ruleDate     = "YYYY-MM-DD or empty"
	ruleSeeds    = "quic://host:port or <b3-hex-id>@quic://host:port"
	ruleQUICAddr = "quic://host:port"
)

type kind uint8

const (
	kindBool kind = iota + 1
	kindInt
	kindFloat
	kindDuration
	kindSize
	kindString
	kindList
)

var (
	durationType = reflect.TypeFor[time.Duration]()
	sizeType     = reflect.TypeFor[Size]()
	listType     = reflect.TypeFor[[]string]()
)

// keyDefs is the key table. Keys without a dot come first, then one group
// after the other (the TOML dump relies on it).
func keyDefs() []Key {
	return []Key{
		{Name: "profile", Default: string(Micronode), Macro: string(Macronode), Allowed: []string{string(Micronode), string(Macronode)},
			Desc: "node profile: micronode (lean, RAM-only) or macronode (larger caps, persistent); sets the defaults beneath the file"},
		{Name: "listen_addr", Default: "0.0.0.0:4433", Rule: ruleHostPort,
			Desc: "QUIC (UDP) address peers reach this node on; port 0 picks a free port"},
		{Name: "advertise_addrs", Rule: ruleQUICAddr,
			Desc: "addresses this node advertises (PING answers, default addrs of its provider records), e.g. a public or NAT-forwarded address; " +
				"empty = listen_addr when it names a host; with a wildcard listen_addr (0.0.0.0, [::]) and none set, the node advertises no address: " +
				"peers use the one they see its packets come from (it dials from its listening port), and a provide must pass addrs"},
		{Name: "ops_addr", Default: "127.0.0.1:9108", Rule: ruleHostPort,
			Desc: "HTTP ops plane and local client API (/metrics, /healthz, /readyz, /version); keep it on localhost"},
		{Name: "data_dir", Rule: rulePath, check: checkDataDir,
			Desc: "directory for the key file and the routing-table and provider-store snapshots; required without amnesia, refused with it"},
		{Name: "key_file", Rule: rulePath, check: checkKeyFile,
			Desc: "identity key file (mode 0600); empty = <data_dir>/node.key; refused with amnesia"},
		{Name: "alpha", Default: "3", Min: "1", Max: "8", Reloadable: true,
			Desc: "parallel probes per lookup round; more cuts tail latency and adds load"},
		{Name: "beta", Default: "1", Min: "0", Max: "4", Reloadable: true,
			Desc: "hedged probes sent for a probe slower than hedge_after; losers are cancelled"},
		{Name: "k", Default: "20", Min: "16", Max: "32",
			Desc: "bucket width and result-set size; more costs memory and sorting"},
		{Name: "hop_budget", Default: "5", Min: "3", Max: "8", Reloadable: true,
			Desc: "most lookup rounds before a lookup fails with HopExceeded"},
		{Name: "rpc_timeout", Default: "1500ms", Min: "800ms", Max: "2500ms", Reloadable: true,
			Desc: "deadline of one probe RPC"},
		{Name: "hedge_after", Default: "250ms", Min: "100ms", Max: "600ms", Reloadable: true,
			Desc: "delay before a slow probe is hedged; too low floods the network"},
		{Name: "bucket_refresh_interval", Default: "30s", Min: "10s", Max: "2m", Reloadable: true,
			Desc: "idle time after which a bucket is refreshed by a lookup of a random ID in it"},
		{Name: "frame_max", Default: "1MiB", Min: "1MiB", Max: "1MiB",
			Desc: "largest frame accepted or sent (DoS guardrail, fixed by the protocol)"},
		{Name: "chunk_size", Default: "64KiB", Min: "32KiB", Max: "128KiB",
			Desc: "write size for large bodies; 32KiB suits small devices"},
		{Name: "max_conns", Default: "256", Macro: "1024", Min: "16", Max: "65536",
			Desc: "pooled peer connections; the least recently used is closed first"},
		{Name: "conn_idle_timeout", Default: "1m", Min: "5s", Max: "30m",
			Desc: "idle time after which a pooled QUIC connection is closed"},
		{Name: "happy_eyeballs_delay", Default: "75ms", Min: "10ms", Max: "1s", Reloadable: true,
			Desc: "stagger before the second address family (IPv6/IPv4) is raced"},
		{Name: "event_loops", Default: "0", Min: "0", Max: "256",
			Desc: "event-loop goroutines; 0 = one per core (GOMAXPROCS)"},
		{Name: "shutdown_timeout", Default: "5s", Min: "1s", Max: "1m", Reloadable: true,
			Desc: "how long a graceful shutdown drains in-flight work"},

		{Name: "queue_cap.work", Default: "512", Macro: "1024", Min: "256", Max: "2048",
			Desc: "inbound work-queue depth, shared by the event loops; a full queue answers 1501 Busy at once (macronode: also the depth of the signature-check queue)"},

		{Name: "limits.max_rps", Default: "1000", Macro: "10000", Min: "10", Max: "1000000", Reloadable: true,
			Desc: "inbound requests per second from all peers, bursts of one second's worth (over: 1429)"},
		{Name: "limits.peer_rps", Default: "100", Macro: "500", Min: "1", Max: "100000", Rule: "<= limits.max_rps",
			check: checkPeerRPS, Reloadable: true,
			Desc: "inbound requests per second from one peer, bursts of one second's worth (over: 1429)"},
		{Name: "limits.max_inflight", Default: "1024", Macro: "4096", Min: "1", Max: "65536", Reloadable: true,
			Desc: "inbound requests admitted and not yet answered, queued ones included (over: 1429); keep it above queue_cap.work plus " +
				"event_loops (macronode: plus queue_cap.work again for the signature-check queue), else it binds first and a full work queue " +
				"(1501) is never reached; the transport serves at least this many streams at once (the value at start)"},

		{Name: "provider.ttl_secs", Default: "24h", Min: "1m", Max: "48h", Reloadable: true,
			Desc: "lifetime of the records this node publishes (a bare integer counts seconds)"},
		{Name: "provider.refresh_secs", Default: "12h", Min: "1m", Max: "48h", Rule: "< provider.ttl_secs",
			check: checkRefresh, Reloadable: true,
			Desc: "republish interval of this node's records (a bare integer counts seconds)"},
		{Name: "provider.max_record_bytes", Default: "8KiB", Min: "8KiB", Max: "64KiB", Reloadable: true,
			Desc: "largest encoded provider record accepted (over: 1413); a dual-signed one takes about 7.4KiB"},
		{Name: "provider.max_per_key", Default: "32", Macro: "256", Min: "1", Max: "65536", Rule: "<= provider.max_total",
			check: checkPerKey, Reloadable: true,
			Desc: "records stored per content key (over: 1429)"},
		{Name: "provider.max_per_publisher", Default: "256", Macro: "4096", Min: "1", Max: "1048576",
			Rule: "<= provider.max_total", check: checkPerPublisher, Reloadable: true,
			Desc: "records stored per publisher (over: 1429)"},
		{Name: "provider.max_total", Default: "2048", Macro: "65536", Min: "16", Max: "4194304", Reloadable: true,
			Desc: "records stored in total (over: 1429)"},

		{Name: "bootstrap.seeds", Rule: ruleSeeds, check: checkSeedList, Reloadable: true,
			Desc: "seed nodes to join through (comma-separated in env and flags)"},
		{Name: "bootstrap.use_default_seeds", Default: "true", Reloadable: true,
			Desc: "also dial the embedded default seed list"},
		{Name: "bootstrap.required", Default: "1", Min: "0", Max: "64", Rule: "<= seeds configured, if only configured seeds are used",
			check: checkRequired, Reloadable: true,
			Desc: "seeds that must answer before /readyz reports ready"},
		{Name: "bootstrap.ready_bucket_fill_pct", Default: "0.5", Min: "0", Max: "1", Reloadable: true,
			Desc: "share of the buckets populatable at the estimated network size that must be non-empty for ready (0.5 or 50%)"},
		{Name: "bootstrap.timeout", Default: "5m", Min: "10s", Max: "1h",
			Desc: "how long to wait for readiness before --strict-ready exits with code 4"},

		{Name: "diversity.asn_max_pct", Default: "0.4", Min: "0.25", Max: "0.6",
			Desc: "largest share of a bucket's capacity one ASN may hold (0.4 or 40%)"},
		{Name: "diversity.asn_entropy_min", Default: "1.5", Min: "1", Max: "2",
			Desc: "bucket ASN entropy in bits below which a warning metric fires"},
		{Name: "diversity.exempt_private", Default: "true",
			Desc: "loopback and private-range peers are exempt from the ASN caps"},
		{Name: "diversity.asn_db", Rule: rulePath,
			Desc: "IP-to-ASN table (CSV/TSV), read at start; empty = IPv4 /16 and IPv6 /32 prefixes stand in for ASNs"},

		{Name: "pq.dual_sign", Default: "true", check: checkDualSign, Reloadable: true,
			Desc: "sign provider records with both Ed25519 and ML-DSA-87"},
		{Name: "pq.algorithms", Default: "ed25519,ml-dsa-87", Allowed: []string{algEd25519, algMLDSA87},
			Rule: "must include ed25519", check: checkAlgorithms,
			Desc: "signature algorithms accepted in provider records (others: 1440)"},
		{Name: "pq.require_pq_on", Rule: ruleDate, date: true, Reloadable: true,
			Desc: "from this date, classical-only records are counted and warned about"},
		{Name: "pq.enforce", Default: "false", check: checkEnforce, Reloadable: true,
			Desc: "reject classical-only records from pq.require_pq_on on"},
		{Name: "pq.hybrid_kex", Default: "true",
			Desc: "TLS key exchange X25519MLKEM768 (Go's default, about 40% more handshake CPU); false = X25519 only"},

		{Name: "amnesia.enabled", Default: "true", Macro: "false",
			Desc: "RAM only: identity generated at every start, nothing written to disk"},

		{Name: "log.format", Default: "json", Allowed: []string{"json", "text"},
			Desc: "log line format (log/slog handlers)"},
		{Name: "log.level", Default: "info", Allowed: []string{"debug", "info", "warn", "error"}, Reloadable: true,
			Desc: "least severe level logged"},

		{Name: "store.enabled", Default: "false",
			Desc: "serve STORE (opcode 0x04), feature-gated off by default"},

		{Name: "runtime.max_procs", Default: "1", Macro: "0", Min: "0", Max: "1024",
			Desc: "GOMAXPROCS of the daemon, set before the node starts (event_loops = 0 follows it): the most OS threads running Go code at once; " +
				"0 = Go's default (the CPUs available); the GOMAXPROCS environment variable, when set, wins"},
	}
}

// table is the key table, bound to the Config fields once.
var table = buildTable(keyDefs())

// groups holds the dotted prefixes of the key names ("limits", ...).
var groups = func() map[string]bool {
	g := map[string]bool{}
	for i := range table {
		if group, _, ok := strings.Cut(table[i].Name, "."); ok {
			g[group] = true
		}
	}
	return g
}()

// Keys returns a copy of the key table, in documentation order.
func Keys() []Key { return slices.Clone(table) }

// LookupKey finds a key by its dotted name.
func LookupKey(name string) (Key, bool) {
	if k := keyByName(name); k != nil {
		return *k, true
	}
	return Key{}, false
}

func keyByName(name string) *Key {
	for i := range table {
		if table[i].Name == name {
			return &table[i]
		}
	}
	return nil
}

// buildTable binds every key to its Config field by toml tag, parses its
// bounds and defaults, and checks the table against the struct. A mistake
// here is a programming error and panics at start-up (tests exercise it).
func buildTable(keys []Key) []Key {
	root := reflect.TypeFor[Config]()
	names := map[string]bool{}
	envs := map[string]bool{}
	seenGroup := map[string]bool{}
	lastGroup := ""
	scratch := new(Config) // parses bounds and defaults: one allocation, not a few per key
	for i := range keys {
		k := &keys[i]
		k.idx = i
		if names[k.Name] || envs[k.EnvVar()] {
			panic("config: duplicate key " + k.Name)
		}
		names[k.Name], envs[k.EnvVar()] = true, true
		group, _, dotted := strings.Cut(k.Name, ".")
		if !dotted {
			group = ""
		}
		if group != lastGroup {
			if seenGroup[group] {
				panic("config: keys of group " + group + " are not contiguous")
			}
			seenGroup[lastGroup], lastGroup = true, group
		}
		ft := bindField(root, k)
		switch {
		case ft == durationType:
			k.kind = kindDuration
		case ft == sizeType:
			k.kind = kindSize
		case ft == listType:
			k.kind = kindList
		case ft.Kind() == reflect.Bool:
			k.kind = kindBool
		case ft.Kind() == reflect.Int:
			k.kind = kindInt
		case ft.Kind() == reflect.Float64:
			k.kind = kindFloat
		case ft.Kind() == reflect.String:
			k.kind = kindString
		default:
			panic("config: unsupported field type " + ft.String() + " for " + k.Name)
		}
		if (k.Min != "" || k.Max != "") && !k.numeric() {
			panic("config: bounds on non-numeric key " + k.Name)
		}
		if k.Min != "" {
			k.lo, k.hasLo = mustNumber(k, k.Min, scratch), true
		}
		if k.Max != "" {
			k.hi, k.hasHi = mustNumber(k, k.Max, scratch), true
		}
		for j, d := range []string{k.Default, k.Macro} {
			if j == 1 && d == "" {
				continue // no macronode override
			}
			*scratch = Config{}
			if err := k.setText(scratch, d); err != nil {
				panic("config: bad default of " + k.Name + ": " + err.Error())
			}
			if got := k.text(scratch); got != d {
				panic("config: default of " + k.Name + " is not in canonical form: " + d + " vs " + got)
			}
		}
	}
	checkCovered(root, "", names)
	return keys
}

// bindField finds the field whose toml tag path is k.Name.
func bindField(t reflect.Type, k *Key) reflect.Type {
	for part := range strings.SplitSeq(k.Name, ".") {
		f, ok := fieldByTag(t, part)
		if !ok {
			panic("config: no Config field for key " + k.Name)
		}
		k.field = append(k.field, f.Index...)
		t = f.Type
	}
	return t
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("toml") == tag {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// checkCovered panics if a leaf field of Config has no key.
func checkCovered(t reflect.Type, prefix string, names map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name := prefix + f.Tag.Get("toml")
		if f.Type.Kind() == reflect.Struct {
			checkCovered(f.Type, name+".", names)
		} else if !names[name] {
			panic("config: Config field " + f.Name + " (" + name + ") has no key")
		}
	}
}

// mustNumber parses the bound s of k, using scratch (overwritten) to hold
// it.
func mustNumber(k *Key, s string, scratch *Config) float64 {
	*scratch = Config{}
	if err := k.setText(scratch, s); err != nil {
		panic("config: bad bound of " + k.Name + ": " + err.Error())
	}
	return k.number(scratch)
}

func (k *Key) value(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(k.field)
}

// number is the value of a numeric key as float64 (exact for every value
// the bounds allow).
func (k *Key) number(c *Config) float64 {
	v := k.value(c)
	if k.kind == kindFloat {
		return v.Float()
	}
	return float64(v.Int())
}

func (k *Key) numeric() bool {
	switch k.kind {
	case kindInt, kindFloat, kindDuration, kindSize:
		return true
	}
	return false
}

// setText sets the key from its text form (defaults, environment, flags).
func (k *Key) setText(c *Config, s string) error {
	v := k.value(c)
	switch k.kind {
	case kindBool:
		b, err := parseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case kindInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return errors.New("want an integer")
		}
		if v.OverflowInt(n) {
			return errors.New(k.rangeReason())
		}
		v.SetInt(n)
	case kindFloat:
		f, err := parseFloat(s)
		if err != nil {
			return err
		}
		v.SetFloat(f)
	case kindDuration:
		d, err := parseDuration(s, k.bareSeconds())
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case kindSize:
		n, err := parseSize(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(n))
	case kindString:
		v.SetString(strings.TrimSpace(s))
	case kindList:
		v.Set(reflect.ValueOf(splitList(s)))
	}
	return nil
}

// setTOML sets the key from a decoded TOML value.
func (k *Key) setTOML(c *Config, x any) error {
	v := k.value(c)
	switch k.kind {
	case kindBool:
		if b, ok := x.(bool); ok {
			v.SetBool(b)
			return nil
		}
		return fmt.Errorf("want true or false, got %s", tomlTypeName(x))
	case kindInt:
		if n, ok := x.(int64); ok {
			if v.OverflowInt(n) {
				return errors.New(k.rangeReason())
			}
			v.SetInt(n)
			return nil
		}
		return fmt.Errorf("want an integer, got %s", tomlTypeName(x))
	case kindFloat:
		switch f := x.(type) {
		case float64:
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return errors.New("want a finite number")
			}
			v.SetFloat(f)
			return nil
		case int64:
			v.SetFloat(float64(f))
			return nil
		case string:
			return k.setText(c, f)
		}
		return fmt.Errorf("want a number, got %s", tomlTypeName(x))
	case kindDuration:
		switch d := x.(type) {
		case string:
			return k.setText(c, d)
		case int64:
			if d == 0 || k.bareSeconds() {
				return k.setText(c, strconv.FormatInt(d, 10))
			}
			return errors.New("want a string with a unit (e.g. \"250ms\", \"5s\"), not a bare integer")
		}
		return fmt.Errorf("want a duration string (e.g. \"250ms\", \"5s\"), got %s", tomlTypeName(x))
	case kindSize:
		switch n := x.(type) {
		case string:
			return k.setText(c, n)
		case int64:
			if n < 0 {
				return errors.New("must not be negative")
			}
			v.SetInt(n)
			return nil
		}
		return fmt.Errorf("want a size (e.g. \"64KiB\" or bytes), got %s", tomlTypeName(x))
	case kindString:
		switch s := x.(type) {
		case string:
			v.SetString(s)
			return nil
		case time.Time:
			if k.date && s.Location().String() == "date-local" {
				v.SetString(s.Format(time.DateOnly))
				return nil
			}
		}
		return fmt.Errorf("want a string, got %s", tomlTypeName(x))
	case kindList:
		arr, ok := x.([]any)
		if !ok {
			return fmt.Errorf("want an array of strings, got %s", tomlTypeName(x))
		}
		list := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want an array of strings, got an element of type %s", tomlTypeName(e))
			}
			list = append(list, s)
		}
		v.Set(reflect.ValueOf(list))
	}
	return nil
}

// bareSeconds reports whether a bare integer counts seconds (keys ending in
// _secs).
func (k *Key) bareSeconds() bool { return strings.HasSuffix(k.Name, "_secs") }

// text renders the key's value in text form (defaults, flags, environment).
func (k *Key) text(c *Config) string {
	v := k.value(c)
	switch k.kind {
	case kindBool:
		if v.Bool() {
			return "true"
		}
		return "false"
	case kindInt:
		return strconv.FormatInt(v.Int(), 10)
	case kindFloat:
		return formatFloat(v.Float())
	case kindDuration:
		return FormatDuration(time.Duration(v.Int()))
	case kindSize:
		return Size(v.Int()).String()
	case kindList:
		return strings.Join(v.Interface().([]string), ",")
	}
	return v.String()
}

// tomlText renders the key's value as a TOML value.
func (k *Key) tomlText(c *Config) string {
	switch k.kind {
	case kindDuration, kindSize:
		return tomlString(k.text(c))
	case kindString:
		return tomlString(k.value(c).String())
	case kindList:
		list := k.value(c).Interface().([]string)
		parts := make([]string, len(list))
		for i, s := range list {
			parts[i] = tomlString(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return k.text(c)
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, errors.New("want true or false")
}

func tomlTypeName(x any) string {
	switch x.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date/time"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", x)
}
