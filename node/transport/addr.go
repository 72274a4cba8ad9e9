package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Scheme is the prefix of every transport address.
const Scheme = "quic://"

// parseAddr splits "quic://host:port" into a lowercased host without
// brackets and a port, and returns the pool key "host:port".
func parseAddr(addr string) (host string, port uint16, key string, err error) {
	rest, ok := strings.CutPrefix(addr, Scheme)
	if !ok {
		return "", 0, "", fmt.Errorf("address %q: want %shost:port", addr, Scheme)
	}
	h, p, err := net.SplitHostPort(rest)
	if err != nil {
		return "", 0, "", fmt.Errorf("address %q: %w", addr, err)
	}
	if h == "" {
		return "", 0, "", fmt.Errorf("address %q: empty host", addr)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, "", fmt.Errorf("address %q: bad port %q", addr, p)
	}
	h = strings.ToLower(h)
	return h, uint16(n), net.JoinHostPort(h, p), nil
}

// resolve returns the candidate addresses of host in happy-eyeballs order:
// IPv6 and IPv4 alternating, IPv6 first (RFC 8305 §4), each family in the
// resolver's order. IP literals are not resolved.
func resolve(ctx context.Context, r Resolver, host string, port uint16) ([]netip.AddrPort, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return nil, fmt.Errorf("resolve %s: zoned addresses are not supported", host)
		}
		return []netip.AddrPort{netip.AddrPortFrom(ip.Unmap(), port)}, nil
	}
	ips, err := r(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	var v6, v4 []netip.AddrPort
	for _, ip := range ips {
		ip = ip.Unmap()
		switch {
		case !ip.IsValid() || ip.IsUnspecified() || ip.Zone() != "":
			continue
		case ip.Is4():
			v4 = append(v4, netip.AddrPortFrom(ip, port))
		default:
			v6 = append(v6, netip.AddrPortFrom(ip, port))
		}
	}
	if len(v6)+len(v4) == 0 {
		return nil, fmt.Errorf("resolve %s: %w", host, errNoAddress)
	}
	out := make([]netip.AddrPort, 0, len(v6)+len(v4))
	for i := 0; i < len(v6) || i < len(v4); i++ {
		if i < len(v6) {
			out = append(out, v6[i])
		}
		if i < len(v4) {
			out = append(out, v4[i])
		}
	}
	return out, nil
}

var errNoAddress = errors.New("no usable address")
