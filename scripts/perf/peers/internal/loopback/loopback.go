package loopback

import (
	"fmt"
	"net"
	"net/netip"
)

// ParseAddrPort parses "ip:port" and refuses anything that is not a literal
// loopback IP (host names are refused too: no DNS look-ups). Port 0 is
// allowed only when zeroPortOK is set.
func ParseAddrPort(s string, zeroPortOK bool) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: want a literal loopback ip:port (e.g. 127.0.0.1:4001): %w", s, err)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return netip.AddrPort{}, fmt.Errorf("address %q is not a loopback address: only 127.0.0.0/8 and ::1 are allowed", s)
	}
	if ap.Port() == 0 && !zeroPortOK {
		return netip.AddrPort{}, fmt.Errorf("address %q: port must not be 0", s)
	}
	return ap, nil
}

// IP reports whether ip is a loopback address.
func IP(ip net.IP) bool { return ip != nil && ip.IsLoopback() }

// Addr reports whether a is a UDP or TCP address on loopback.
func Addr(a net.Addr) bool {
	switch a := a.(type) {
	case *net.UDPAddr:
		return IP(a.IP)
	case *net.TCPAddr:
		return IP(a.IP)
	}
	return false
}
