package wire

import (
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// This file holds the CBOR primitives of the specialised codec: appenders
// that emit Core Deterministic Encoding (shortest-form heads, definite
// lengths) and a cursor that reads the protocol's CBOR profile strictly.
//
// The profile (PROTOCOL.md "CBOR profile"): unsigned and negative integers,
// byte strings, UTF-8 text strings, arrays, maps whose keys are unsigned
// integers in strictly ascending order, and the simple values false and true.
// Every head is in shortest form and every length definite. Tags, floats,
// null, undefined and other simple values are rejected, also inside values
// of unknown keys. Input accepted by the cursor is therefore exactly the
// Core Deterministic Encoding of its value.

// CBOR major types.
const (
	majUint   = 0
	majNint   = 1
	majBytes  = 2
	majText   = 3
	majArray  = 4
	majMap    = 5
	majTag    = 6
	majSimple = 7
)

// Simple values allowed by the profile (additional information of major type 7).
const (
	simpleFalse = 20
	simpleTrue  = 21
)

// Decoding limits of the profile. They apply everywhere, including inside
// values of unknown keys; typed fields have tighter limits (MaxAddrs etc.).
const (
	// MaxNesting is the deepest nesting of arrays and maps: the outermost
	// map of a message is level 1.
	MaxNesting = 16
	// MaxItems is the largest number of elements of an array or of pairs of
	// a map.
	MaxItems = 1024
)

// appendHead appends a CBOR head of the given major type with argument v in
// shortest form.
func appendHead(dst []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(dst, m|byte(v))
	case v <= math.MaxUint8:
		return append(dst, m|24, byte(v))
	case v <= math.MaxUint16:
		return append(dst, m|25, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append(dst, m|26, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(dst, m|27, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendInt appends v as a CBOR unsigned (v >= 0) or negative integer.
func appendInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return appendHead(dst, majUint, uint64(v))
	}
	return appendHead(dst, majNint, uint64(^v)) // -1-v
}

// appendBytes appends b as a CBOR byte string.
func appendBytes(dst, b []byte) []byte {
	return append(appendHead(dst, majBytes, uint64(len(b))), b...)
}

// appendText appends s as a CBOR text string. The caller checks UTF-8.
func appendText(dst []byte, s string) []byte {
	return append(appendHead(dst, majText, uint64(len(s))), s...)
}

// appendBool appends a CBOR false or true.
func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, majSimple<<5|simpleTrue)
	}
	return append(dst, majSimple<<5|simpleFalse)
}

// decoder is a cursor over one CBOR item. It never allocates except for
// errors; byte and text strings it returns alias the input.
type decoder struct {
	b   []byte
	off int
}

// minArg[ai-24] is the smallest argument that needs additional information ai.
var minArg = [4]uint64{24, 1 << 8, 1 << 16, 1 << 32}

// head reads the initial byte and argument of the next item and enforces the
// profile: no tags, no indefinite lengths, shortest-form arguments, and in
// major type 7 only false and true.
func (d *decoder) head(what string) (major byte, arg uint64, err error) {
	if d.off >= len(d.b) {
		return 0, 0, truncated(what)
	}
	ib := d.b[d.off]
	major, ai := ib>>5, ib&0x1f
	switch major {
	case majTag:
		return 0, 0, malformed(what + ": CBOR tags are not allowed")
	case majSimple:
		if ai == simpleFalse || ai == simpleTrue {
			d.off++
			return major, uint64(ai), nil
		}
		return 0, 0, malformed(what + ": floats, null and simple values other than false/true are not allowed")
	}
	if ai < 24 {
		d.off++
		return major, uint64(ai), nil
	}
	if ai > 27 {
		return 0, 0, malformed(what + ": indefinite length or reserved additional information")
	}
	n := 1 << (ai - 24)
	if len(d.b)-d.off-1 < n {
		return 0, 0, truncated(what)
	}
	p := d.b[d.off+1 : d.off+1+n]
	for _, c := range p {
		arg = arg<<8 | uint64(c)
	}
	if arg < minArg[ai-24] {
		return 0, 0, malformed(what + ": integer or length not in shortest form")
	}
	d.off += 1 + n
	return major, arg, nil
}

// peek returns the major type of the next item without consuming it.
func (d *decoder) peek(what string) (byte, error) {
	if d.off >= len(d.b) {
		return 0, truncated(what)
	}
	return d.b[d.off] >> 5, nil
}

// uint reads an unsigned integer no larger than max.
func (d *decoder) uint(what string, max uint64) (uint64, error) {
	m, v, err := d.head(what)
	if err != nil {
		return 0, err
	}
	if m != majUint {
		return 0, wrongType(what, "unsigned integer", m)
	}
	if v > max {
		return 0, malformed(what + ": " + strconv.FormatUint(v, 10) + " exceeds " + strconv.FormatUint(max, 10))
	}
	return v, nil
}

// int reads an unsigned or negative integer that fits an int64.
func (d *decoder) int(what string) (int64, error) {
	m, v, err := d.head(what)
	if err != nil {
		return 0, err
	}
	if m != majUint && m != majNint {
		return 0, wrongType(what, "integer", m)
	}
	if v > math.MaxInt64 {
		return 0, malformed(what + ": integer overflows int64")
	}
	if m == majNint {
		return ^int64(v), nil // -1-v
	}
	return int64(v), nil
}

// boolean reads false or true.
func (d *decoder) boolean(what string) (bool, error) {
	m, v, err := d.head(what)
	if err != nil {
		return false, err
	}
	if m != majSimple {
		return false, wrongType(what, "boolean", m)
	}
	return v == simpleTrue, nil
}

// str reads a byte string (major 2) or text string (major 3) of at most max
// bytes and returns it aliased to the input. Text is checked for UTF-8.
func (d *decoder) str(what string, major byte, max int) ([]byte, error) {
	m, n, err := d.head(what)
	if err != nil {
		return nil, err
	}
	if m != major {
		if major == majText {
			return nil, wrongType(what, "text string", m)
		}
		return nil, wrongType(what, "byte string", m)
	}
	if n > uint64(len(d.b)-d.off) {
		return nil, truncated(what)
	}
	if n > uint64(max) {
		return nil, malformed(what + ": " + strconv.FormatUint(n, 10) + " bytes, max " + strconv.Itoa(max))
	}
	s := d.b[d.off : d.off+int(n)]
	if major == majText && !utf8.Valid(s) {
		return nil, malformed(what + ": text is not valid UTF-8")
	}
	d.off += int(n)
	return s, nil
}

// id reads a byte string of exactly IDLen bytes into dst.
func (d *decoder) id(what string, dst *[IDLen]byte) error {
	b, err := d.str(what, majBytes, math.MaxInt)
	if err != nil {
		return err
	}
	if len(b) != IDLen {
		return malformed(what + ": want " + strconv.Itoa(IDLen) + " bytes, got " + strconv.Itoa(len(b)))
	}
	copy(dst[:], b)
	return nil
}

// container reads the head of an array or map at nesting level depth and
// returns its element (pair) count, which must not exceed max.
func (d *decoder) container(what string, major byte, depth, max int) (int, error) {
	m, n, err := d.head(what)
	if err != nil {
		return 0, err
	}
	if m != major {
		if major == majMap {
			return 0, wrongType(what, "map", m)
		}
		return 0, wrongType(what, "array", m)
	}
	if depth > MaxNesting {
		return 0, malformed(what + ": nested deeper than " + strconv.Itoa(MaxNesting))
	}
	if n > uint64(max) {
		return 0, malformed(what + ": " + strconv.FormatUint(n, 10) + " elements, max " + strconv.Itoa(max))
	}
	return int(n), nil
}

// keyOrder checks that the keys of one map are strictly ascending.
type keyOrder struct {
	next uint64 // smallest key allowed next
	full bool   // the last key was MaxUint64: no further key is allowed
}

// key reads a map key: an unsigned integer greater than the previous key.
func (d *decoder) key(o *keyOrder, what string) (uint64, error) {
	m, k, err := d.head(what)
	if err != nil {
		return 0, err
	}
	if m != majUint {
		return 0, malformed(what + ": map key is not an unsigned integer")
	}
	if o.full || k < o.next {
		return 0, malformed(what + ": map keys duplicated or not in ascending order")
	}
	if k == math.MaxUint64 {
		o.full = true
	} else {
		o.next = k + 1
	}
	return k, nil
}

// fields walks a map at nesting level depth. For each key it calls fn, which
// decodes the value of a known key and returns true, or returns false to
// have the value skipped (unknown keys are ignored). It returns the set of
// known keys seen (bit k for key k < 64).
func (d *decoder) fields(what string, depth int, fn func(k uint64) (bool, error)) (uint64, error) {
	n, err := d.container(what, majMap, depth, MaxItems)
	if err != nil {
		return 0, err
	}
	var seen uint64
	var o keyOrder
	for range n {
		k, err := d.key(&o, what)
		if err != nil {
			return 0, err
		}
		known, err := fn(k)
		if err != nil {
			return 0, err
		}
		if !known {
			if err := d.skip(what, depth+1); err != nil {
				return 0, err
			}
			continue
		}
		seen |= 1 << k // known keys are all < 64
	}
	return seen, nil
}

// skip validates and steps over one item of the profile whose containers, if
// any, start at nesting level depth.
func (d *decoder) skip(what string, depth int) error {
	m, n, err := d.head(what)
	if err != nil {
		return err
	}
	switch m {
	case majBytes, majText:
		if n > uint64(len(d.b)-d.off) {
			return truncated(what)
		}
		s := d.b[d.off : d.off+int(n)]
		if m == majText && !utf8.Valid(s) {
			return malformed(what + ": text is not valid UTF-8")
		}
		d.off += int(n)
	case majArray, majMap:
		if depth > MaxNesting {
			return malformed(what + ": nested deeper than " + strconv.Itoa(MaxNesting))
		}
		if n > MaxItems {
			return malformed(what + ": " + strconv.FormatUint(n, 10) + " elements, max " + strconv.Itoa(MaxItems))
		}
		var o keyOrder
		for range n {
			if m == majMap {
				if _, err := d.key(&o, what); err != nil {
					return err
				}
			}
			if err := d.skip(what, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// end checks that the whole input was consumed.
func (d *decoder) end(what string) error {
	if d.off != len(d.b) {
		return malformed(what + ": " + strconv.Itoa(len(d.b)-d.off) + " trailing bytes after the item")
	}
	return nil
}

// truncated reports input that ends inside an item.
func truncated(what string) *Error {
	return wrapError(CodeMalformed, "", what+": truncated", io.ErrUnexpectedEOF)
}

// wrongType reports an item of an unexpected major type.
func wrongType(what, want string, got byte) *Error {
	return malformed(what + ": want " + want + ", got " + majorName(got))
}

// missing reports a required map key that is absent.
func missing(what, field string) *Error {
	return malformed(what + ": missing required field " + field)
}

func majorName(m byte) string {
	switch m {
	case majUint:
		return "unsigned integer"
	case majNint:
		return "negative integer"
	case majBytes:
		return "byte string"
	case majText:
		return "text string"
	case majArray:
		return "array"
	case majMap:
		return "map"
	case majTag:
		return "tag"
	}
	return "simple value"
}
