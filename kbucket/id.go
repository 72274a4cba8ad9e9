package kbucket

import (
	"encoding/hex"
	"fmt"
	"math/bits"
	"strings"
)

// IDLen is the length of an ID in bytes.
const IDLen = 32

// ID is a NodeID or a content key: a 256-bit BLAKE3 digest.
type ID [IDLen]byte

// Distance is the XOR distance between two IDs, compared as a big-endian
// unsigned integer.
type Distance [IDLen]byte

// Xor returns the XOR distance between a and b.
func Xor(a, b ID) Distance {
	var d Distance
	for i := range d {
		d[i] = a[i] ^ b[i]
	}
	return d
}

// Cmp compares two distances: -1 if d < o, 0 if equal, +1 if d > o.
func (d Distance) Cmp(o Distance) int {
	for i := range d {
		if d[i] != o[i] {
			if d[i] < o[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// CommonPrefixLen returns the number of leading bits a and b share (256 when
// they are equal). It is the bucket index of b in a's table.
func CommonPrefixLen(a, b ID) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return IDLen * 8
}

// CloserTo reports whether a is strictly closer to target than b.
func CloserTo(target, a, b ID) bool {
	for i := range target {
		da, db := a[i]^target[i], b[i]^target[i]
		if da != db {
			return da < db
		}
	}
	return false
}

// String renders the ID as 64 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short renders the first 8 hex digits, for logs.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// ParseID parses 64 hex digits, optionally prefixed by "b3:".
func ParseID(s string) (ID, error) {
	var id ID
	h := strings.TrimPrefix(s, "b3:")
	if len(h) != 2*IDLen {
		return id, fmt.Errorf("parse id %q: want %d hex digits, got %d", s, 2*IDLen, len(h))
	}
	if _, err := hex.Decode(id[:], []byte(h)); err != nil {
		return id, fmt.Errorf("parse id %q: %w", s, err)
	}
	return id, nil
}
