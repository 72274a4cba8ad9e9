package kbucket

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Resolver maps an observed IP to its ASN (ok=false when unknown). The asndb
// package implements it. LookupASN is called from the table owner's
// goroutine only; it must not block.
type Resolver interface {
	LookupASN(ip netip.Addr) (asn uint32, ok bool)
}

// Group is the diversity group of a peer: its ASN from the Resolver, or when
// there is no Resolver or the address is unknown to it, a synthetic group
// from the IPv4 /16 or IPv6 /32 prefix. The kinds live in separate
// namespaces (the top byte), so a prefix group never equals an ASN group.
// GroupExempt (0) marks loopback/private/link-local/ULA/CGNAT peers when they
// are exempt from the caps.
type Group uint64

// Group kinds, stored in the top byte.
const (
	groupKindShift        = 56
	kindASN        uint64 = 1 << groupKindShift
	kindV4         uint64 = 2 << groupKindShift
	kindV6         uint64 = 3 << groupKindShift
	kindNoAddr     uint64 = 4 << groupKindShift
)

const (
	// GroupExempt is the group of peers exempt from the diversity caps.
	GroupExempt Group = 0
	// GroupNoAddr is the (capped) group of peers reported without a valid,
	// specified observed address; callers should always supply one.
	GroupNoAddr Group = Group(kindNoAddr)
)

// ASNGroup returns the group of an ASN.
func ASNGroup(asn uint32) Group { return Group(kindASN | uint64(asn)) }

// PrefixGroup returns the synthetic group of ip: its IPv4 /16 or IPv6 /32
// prefix (IPv4-mapped IPv6 addresses count as IPv4).
func PrefixGroup(ip netip.Addr) Group {
	ip = ip.Unmap()
	switch {
	case ip.Is4():
		b := ip.As4()
		return Group(kindV4 | uint64(b[0])<<8 | uint64(b[1]))
	case ip.Is6():
		b := ip.As16()
		return Group(kindV6 | uint64(binary.BigEndian.Uint32(b[:4])))
	}
	return GroupNoAddr
}

// ASN returns the ASN of an ASN group.
func (g Group) ASN() (asn uint32, ok bool) {
	if uint64(g)&^(1<<groupKindShift-1) != kindASN {
		return 0, false
	}
	return uint32(g), true
}

// Exempt reports whether g is the exempt group.
func (g Group) Exempt() bool { return g == GroupExempt }

// String renders the group for logs and metrics: "exempt", "AS64496",
// "v4:192.0/16", "v6:2001:db8::/32" or "noaddr".
func (g Group) String() string {
	v := uint64(g)
	low := v & (1<<groupKindShift - 1)
	switch v &^ (1<<groupKindShift - 1) {
	case 0:
		if v == 0 {
			return "exempt"
		}
	case kindASN:
		return fmt.Sprintf("AS%d", low)
	case kindV4:
		return fmt.Sprintf("v4:%d.%d/16", low>>8, low&0xff)
	case kindV6:
		var b [16]byte
		binary.BigEndian.PutUint32(b[:4], uint32(low))
		return "v6:" + netip.PrefixFrom(netip.AddrFrom16(b), 32).String()
	case kindNoAddr:
		return "noaddr"
	}
	return fmt.Sprintf("group(%#x)", v)
}

// IsSpecialPurpose reports whether ip is loopback, private (RFC 1918 or
// IPv6 ULA), link-local, CGNAT shared space (100.64.0.0/10) or unspecified:
// the addresses that are exempt from diversity caps by default.
func IsSpecialPurpose(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() {
		return true
	}
	if ip.Is4() {
		b := ip.As4()
		return b[0] == 100 && b[1]&0xc0 == 64
	}
	return false
}

// groupOf classifies an observed address (see Group).
func groupOf(ip netip.Addr, r Resolver, exemptPrivate bool) Group {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() {
		return GroupNoAddr
	}
	if IsSpecialPurpose(ip) {
		if exemptPrivate {
			return GroupExempt
		}
		return PrefixGroup(ip) // no public ASN: counted by prefix
	}
	if r != nil {
		if asn, ok := r.LookupASN(ip); ok {
			return ASNGroup(asn)
		}
	}
	return PrefixGroup(ip)
}
