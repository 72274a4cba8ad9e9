package seeds

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/svc-dht/svc-dht/kbucket"
)

// Scheme is the URL scheme of every seed address.
const Scheme = "quic://"

// ErrConflictingID is returned by Merge when one address is pinned to two
// different node IDs.
var ErrConflictingID = errors.New("conflicting pinned node ids")

// Seed is one bootstrap peer: a QUIC address, optionally pinned to the node ID
// the peer must prove in its TLS certificate.
type Seed struct {
	// Addr is the canonical address "quic://host:port" (IPv6 in brackets,
	// hostnames lower-cased, IP literals in their canonical form). It is the
	// seed's identity for de-duplication and the label of
	// dht_bootstrap_seeds_up{seed}.
	Addr string
	// Host is the host name or IP literal, without brackets.
	Host string
	// Port is the UDP port, never 0.
	Port uint16
	// ID is the pinned node ID; meaningful only when Pinned is true.
	ID kbucket.ID
	// Pinned reports whether a dial must fail unless the peer proves ID.
	Pinned bool
}

// String renders the seed in the form Parse accepts: "quic://host:port", or
// "<64 hex id>@quic://host:port" when pinned. Parse(s.String()) == s.
func (s Seed) String() string {
	if !s.Pinned {
		return s.Addr
	}
	return s.ID.String() + "@" + s.Addr
}

// HostPort returns "host:port" for net.Dial-style APIs (IPv6 in brackets).
func (s Seed) HostPort() string { return net.JoinHostPort(s.Host, strconv.Itoa(int(s.Port))) }

// ParseError reports which part of a seed string is wrong.
type ParseError struct {
	Input string // the text given to Parse
	Part  string // "seed", "id", "scheme", "address", "host" or "port"
	Err   error  // what is wrong with that part
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("seed %q: bad %s: %v", e.Input, e.Part, e.Err)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// Parse parses "quic://host:port" or "<id>@quic://host:port", where id is 64
// hex digits with an optional "b3:" prefix. Host is a DNS name, an IPv4
// literal or a bracketed IPv6 literal (a zone such as "%eth0" is allowed);
// unspecified and multicast addresses are refused.
// Surrounding white space is ignored; the error names the part that is wrong.
func Parse(in string) (Seed, error) {
	var s Seed
	fail := func(part string, err error) (Seed, error) {
		return Seed{}, &ParseError{Input: in, Part: part, Err: err}
	}
	rest := strings.TrimSpace(in)
	if rest == "" {
		return fail("seed", errors.New("empty"))
	}
	if at := strings.IndexByte(rest, '@'); at >= 0 {
		if strings.Contains(rest[:at], "://") {
			return fail("address", errors.New("user part before '@' not allowed"))
		}
		if at == 0 {
			return fail("id", errors.New("empty before '@'"))
		}
		after := rest[at+1:]
		if j := strings.IndexByte(after, '@'); j >= 0 && !strings.Contains(after[:j], "://") {
			return fail("id", errors.New("more than one '@'"))
		}
		id, err := kbucket.ParseID(rest[:at])
		if err != nil {
			return fail("id", err)
		}
		s.ID, s.Pinned = id, true
		rest = rest[at+1:]
	}
	if len(rest) < len(Scheme) || !strings.EqualFold(rest[:len(Scheme)], Scheme) {
		if i := strings.Index(rest, "://"); i >= 0 {
			return fail("scheme", fmt.Errorf("%q is not supported, want %q", rest[:i+3], Scheme))
		}
		return fail("scheme", fmt.Errorf("missing %q", Scheme))
	}
	rest = rest[len(Scheme):]
	if i := strings.IndexAny(rest, "/?#@ \t"); i >= 0 {
		return fail("address", fmt.Errorf("unexpected %q after host:port (no path, query or user part allowed)", rest[i:]))
	}
	var host, port string
	var ip netip.Addr // valid when host is an IP literal
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return fail("host", errors.New("missing ']' after IPv6 literal"))
		}
		host, rest = rest[1:end], rest[end+1:]
		if !strings.HasPrefix(rest, ":") {
			return fail("port", errors.New("missing ':port' after ']'"))
		}
		port = rest[1:]
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return fail("host", fmt.Errorf("%q in brackets is not an IPv6 address", host))
		}
		ip = a
	} else {
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			return fail("port", errors.New("missing ':port'"))
		}
		host, port = rest[:i], rest[i+1:]
		if strings.IndexByte(host, ':') >= 0 {
			return fail("host", errors.New("IPv6 literal must be in brackets, as in quic://[2001:db8::1]:4433"))
		}
		if a, err := netip.ParseAddr(host); err == nil {
			ip = a
		} else if err := checkHostname(host); err != nil {
			return fail("host", err)
		} else {
			host = strings.ToLower(host)
		}
	}
	if ip.IsValid() {
		if ip.IsUnspecified() || ip.IsMulticast() {
			return fail("host", fmt.Errorf("%s is not a unicast address", ip))
		}
		host = ip.String()
	}
	if port == "" {
		return fail("port", errors.New("empty"))
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fail("port", fmt.Errorf("%q is not a number in 1-65535", port))
	}
	if p == 0 {
		return fail("port", errors.New("0 cannot be dialed"))
	}
	s.Host, s.Port = host, uint16(p)
	s.Addr = Scheme + s.HostPort()
	return s, nil
}

// checkHostname accepts RFC 1123 host names: dot-separated labels of ASCII
// letters, digits and inner hyphens, 1-63 bytes each, 253 bytes in all, with a
// last label that is not all digits (so "1.2.3" or "10.0.0.256" are not taken
// for names).
func checkHostname(h string) error {
	if h == "" {
		return errors.New("empty")
	}
	if len(h) > 253 {
		return fmt.Errorf("name is %d bytes, max 253", len(h))
	}
	allDigits := false
	for label := range strings.SplitSeq(h, ".") {
		if label == "" {
			return fmt.Errorf("%q has an empty label", h)
		}
		if len(label) > 63 {
			return fmt.Errorf("%q has a label over 63 bytes", h)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q has a label starting or ending with '-'", h)
		}
		allDigits = true
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				allDigits = false
			default:
				return fmt.Errorf("%q: character %q not allowed in a host name (use punycode for IDNs)", h, c)
			}
		}
	}
	if allDigits {
		return fmt.Errorf("%q is neither an IP address nor a host name", h)
	}
	return nil
}

// ParseStrings parses configured seed strings (e.g. bootstrap.seeds) and
// merges duplicates as Merge does.
func ParseStrings(list []string) ([]Seed, error) {
	out := make([]Seed, 0, len(list))
	for i, str := range list {
		s, err := Parse(str)
		if err != nil {
			return nil, fmt.Errorf("seed %d: %w", i+1, err)
		}
		out = append(out, s)
	}
	return Merge(out)
}

// ParseList parses a seed list file: one seed per line, '#' starts a comment,
// blank lines are skipped. name is used in error messages. Duplicates are
// merged as Merge does.
func ParseList(name, text string) ([]Seed, error) {
	var out []Seed
	for n, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		s, err := Parse(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, n+1, err)
		}
		out = append(out, s)
	}
	merged, err := Merge(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return merged, nil
}

// Merge concatenates seed lists in order (configured seeds first, then the
// defaults) and drops later entries whose Addr was already seen. When one
// entry for an address is pinned and another is not, the pin is kept; two
// different pinned IDs for one address are an error wrapping
// ErrConflictingID. Addresses are compared as written after canonicalisation:
// a host name and an IP literal for the same machine are two seeds.
func Merge(lists ...[]Seed) ([]Seed, error) {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]Seed, 0, n)
	idx := make(map[string]int, n)
	for _, l := range lists {
		for _, s := range l {
			i, dup := idx[s.Addr]
			if !dup {
				idx[s.Addr] = len(out)
				out = append(out, s)
				continue
			}
			have := &out[i]
			switch {
			case !s.Pinned:
			case !have.Pinned:
				have.ID, have.Pinned = s.ID, true
			case have.ID != s.ID:
				return nil, fmt.Errorf("merge seeds: %s pinned to %s and %s: %w", s.Addr, have.ID.Short(), s.ID.Short(), ErrConflictingID)
			}
		}
	}
	return out, nil
}

// FromConfig builds the seed list a node dials: the configured seeds (as in
// bootstrap.seeds) followed, when useDefaults is set, by the embedded
// default list, merged and de-duplicated. An empty result means the node is
// the first node of its network.
func FromConfig(configured []string, useDefaults bool) ([]Seed, error) {
	conf, err := ParseStrings(configured)
	if err != nil {
		return nil, fmt.Errorf("bootstrap.seeds: %w", err)
	}
	if !useDefaults {
		return conf, nil
	}
	def, err := Default()
	if err != nil {
		return nil, err
	}
	return Merge(conf, def)
}
