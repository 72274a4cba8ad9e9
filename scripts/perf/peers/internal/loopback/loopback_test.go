package loopback

import (
	"net"
	"testing"
)

func TestParseAddrPort(t *testing.T) {
	good := []string{"127.0.0.1:4001", "127.1.2.3:9", "[::1]:4001", "[::ffff:127.0.0.1]:80"}
	for _, s := range good {
		if _, err := ParseAddrPort(s, false); err != nil {
			t.Errorf("%s: unexpected error %v", s, err)
		}
	}
	bad := []string{"10.0.0.1:4001", "192.168.1.1:1", "8.8.8.8:53", "0.0.0.0:4001", "[::]:1",
		"localhost:4001", "router.bittorrent.com:6881", "127.0.0.1", "", "127.0.0.1:0"}
	for _, s := range bad {
		if _, err := ParseAddrPort(s, false); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
	if _, err := ParseAddrPort("127.0.0.1:0", true); err != nil {
		t.Errorf("port 0 with zeroPortOK: %v", err)
	}
}

func TestAddr(t *testing.T) {
	if !Addr(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}) || !Addr(&net.TCPAddr{IP: net.IPv6loopback}) {
		t.Error("loopback refused")
	}
	if Addr(&net.UDPAddr{IP: net.IPv4(67, 215, 246, 10), Port: 6881}) || Addr(&net.UnixAddr{Name: "x"}) || IP(nil) {
		t.Error("non-loopback accepted")
	}
}
