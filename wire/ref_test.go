package wire

// Reference implementation for the property tests. The reference encoder is
// fxamacker/cbor in Core Deterministic mode applied to the structs of
// types.go. The reference decoder is independent of the specialised cursor:
// fxamacker parses the input into a generic tree (strict options), the tree
// is re-encoded in Core Deterministic mode and must reproduce the input
// (that is the canonical-form rule), every node must be in the profile, and
// the typed value is then built from the tree according to the schema of
// PROTOCOL.md.

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strconv"

	"github.com/fxamacker/cbor/v2"
	"pgregory.net/rapid"
)

// refEnc is fxamacker's Core Deterministic encoding with nil slices encoded
// as empty containers (the protocol never sends null).
var refEnc = func() cbor.EncMode {
	o := cbor.CoreDetEncOptions()
	o.NilContainers = cbor.NilContainerAsEmpty
	em, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// refDec parses into generic trees with the profile's limits.
var refDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  MaxNesting,
		MaxArrayElements: MaxItems,
		MaxMapPairs:      MaxItems,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// refStructDec decodes into the structs of types.go (fxamacker's own view).
var refStructDec = refDec

var errRef = errors.New("reference: rejected")

func refErr(why string) error { return errors.New("reference: " + why) }

// refParse parses b into a generic tree and checks canonical form and profile.
func refParse(b []byte) (any, error) {
	var v any
	if err := refDec.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	if err := refProfile(v); err != nil {
		return nil, err
	}
	re, err := refEnc.Marshal(v)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(re, b) {
		return nil, refErr("not in Core Deterministic Encoding")
	}
	return v, nil
}

// refProfile checks that every node of the tree is in the profile.
func refProfile(v any) error {
	switch t := v.(type) {
	case uint64, int64, []byte, string, bool:
		return nil
	case big.Int:
		return nil
	case []any:
		for _, e := range t {
			if err := refProfile(e); err != nil {
				return err
			}
		}
		return nil
	case map[any]any:
		for k, e := range t {
			if _, ok := k.(uint64); !ok {
				return refErr("map key not an unsigned integer")
			}
			if err := refProfile(e); err != nil {
				return err
			}
		}
		return nil
	}
	return refErr("item outside the profile")
}

type refMap map[any]any

func asMap(v any) (refMap, error) {
	m, ok := v.(map[any]any)
	if !ok {
		return nil, refErr("want map")
	}
	return refMap(m), nil
}

func (m refMap) get(k uint64) (any, bool) {
	v, ok := m[k]
	return v, ok
}

func (m refMap) uint(k uint64, max uint64, required bool) (uint64, bool, error) {
	v, ok := m[k]
	if !ok {
		if required {
			return 0, false, refErr("missing " + strconv.FormatUint(k, 10))
		}
		return 0, false, nil
	}
	u, ok := v.(uint64)
	if !ok || u > max {
		return 0, true, refErr("bad uint")
	}
	return u, true, nil
}

func (m refMap) int(k uint64, required bool) (int64, error) {
	v, ok := m[k]
	if !ok {
		if required {
			return 0, refErr("missing int")
		}
		return 0, nil
	}
	switch t := v.(type) {
	case uint64:
		if t > math.MaxInt64 {
			return 0, refErr("int overflow")
		}
		return int64(t), nil
	case int64:
		return t, nil
	}
	return 0, refErr("bad int")
}

func (m refMap) id(k uint64) ([IDLen]byte, error) {
	var out [IDLen]byte
	v, ok := m[k]
	if !ok {
		return out, refErr("missing id")
	}
	b, ok := v.([]byte)
	if !ok || len(b) != IDLen {
		return out, refErr("bad id")
	}
	copy(out[:], b)
	return out, nil
}

func (m refMap) bytes(k uint64, max int) ([]byte, error) {
	v, ok := m[k]
	if !ok {
		return nil, refErr("missing bytes")
	}
	b, ok := v.([]byte)
	if !ok || len(b) > max {
		return nil, refErr("bad bytes")
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

func (m refMap) array(k uint64, max int) ([]any, error) {
	v, ok := m[k]
	if !ok {
		return nil, refErr("missing array")
	}
	a, ok := v.([]any)
	if !ok || len(a) > max {
		return nil, refErr("bad array")
	}
	return a, nil
}

func (m refMap) boolean(k uint64) (bool, error) {
	v, ok := m[k]
	if !ok {
		return false, refErr("missing bool")
	}
	b, ok := v.(bool)
	if !ok {
		return false, refErr("bad bool")
	}
	return b, nil
}

func refAddrs(a []any) ([]string, error) {
	if len(a) > MaxAddrs {
		return nil, refErr("too many addrs")
	}
	var out []string
	for _, e := range a {
		s, ok := e.(string)
		if !ok || len(s) > MaxAddrLen {
			return nil, refErr("bad addr")
		}
		out = append(out, s)
	}
	return out, nil
}

func refNodeInfo(v any) (NodeInfo, error) {
	var n NodeInfo
	m, err := asMap(v)
	if err != nil {
		return n, err
	}
	if n.ID, err = m.id(0); err != nil {
		return n, err
	}
	a, err := m.array(1, MaxAddrs)
	if err != nil {
		return n, err
	}
	if n.Addrs, err = refAddrs(a); err != nil {
		return n, err
	}
	asn, _, err := m.uint(2, math.MaxUint32, false)
	if err != nil {
		return n, err
	}
	n.ASN = uint32(asn)
	n.LastSeen, err = m.int(3, false)
	return n, err
}

func refClosest(a []any) ([]NodeInfo, error) {
	var out []NodeInfo
	for _, e := range a {
		n, err := refNodeInfo(e)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func refSigs(a []any) ([]Signature, error) {
	var out []Signature
	for _, e := range a {
		m, err := asMap(e)
		if err != nil {
			return nil, err
		}
		alg, _, err := m.uint(0, math.MaxUint8, true)
		if err != nil {
			return nil, err
		}
		pk, err := m.bytes(1, MaxPublicKeyLen)
		if err != nil {
			return nil, err
		}
		sig, err := m.bytes(2, MaxSigLen)
		if err != nil {
			return nil, err
		}
		out = append(out, Signature{Alg: Alg(alg), PublicKey: pk, Sig: sig})
	}
	return out, nil
}

func refRecord(v any) (ProviderRecord, error) {
	var r ProviderRecord
	m, err := asMap(v)
	if err != nil {
		return r, err
	}
	pv, _, err := m.uint(0, math.MaxUint64, true)
	if err != nil {
		return r, err
	}
	if pv != ProtoVersion {
		return r, refErr("record proto_ver")
	}
	r.ProtoVer = pv
	if r.Key, err = m.id(1); err != nil {
		return r, err
	}
	if r.Publisher, err = m.id(2); err != nil {
		return r, err
	}
	a, err := m.array(3, MaxAddrs)
	if err != nil {
		return r, err
	}
	if r.Addrs, err = refAddrs(a); err != nil {
		return r, err
	}
	ttl, _, err := m.uint(4, math.MaxUint32, true)
	if err != nil {
		return r, err
	}
	r.TTL = uint32(ttl)
	if r.TS, err = m.int(5, true); err != nil {
		return r, err
	}
	signers, err := m.array(6, MaxSigners)
	if err != nil {
		return r, err
	}
	for _, s := range signers {
		p, ok := s.([]any)
		if !ok || len(p) != 2 {
			return r, refErr("bad signer")
		}
		alg, ok := p[0].(uint64)
		if !ok || alg > math.MaxUint8 {
			return r, refErr("bad signer alg")
		}
		h, ok := p[1].([]byte)
		if !ok || len(h) != IDLen {
			return r, refErr("bad signer hash")
		}
		var sg Signer
		sg.Alg = Alg(alg)
		copy(sg.KeyHash[:], h)
		r.Signers = append(r.Signers, sg)
	}
	sigs, err := m.array(7, MaxSigners)
	if err != nil {
		return r, err
	}
	r.Sigs, err = refSigs(sigs)
	return r, err
}

// refDecodeEnvelope is the reference for DecodeEnvelope.
func refDecodeEnvelope(b []byte) (Envelope, error) {
	var env Envelope
	if len(b) > FrameMax {
		return env, errRef
	}
	t, err := refParse(b)
	if err != nil {
		return env, err
	}
	m, err := asMap(t)
	if err != nil {
		return env, err
	}
	pv, _, err := m.uint(0, math.MaxUint64, true)
	if err != nil {
		return env, err
	}
	env.ProtoVer = pv
	op, _, err := m.uint(1, math.MaxUint8, true)
	if err != nil {
		return env, err
	}
	env.Op = Opcode(op)
	if env.CorrID, _, err = m.uint(2, math.MaxUint64, true); err != nil {
		return env, err
	}
	if env.TS, err = m.int(3, true); err != nil {
		return env, err
	}
	hops, _, err := m.uint(4, math.MaxUint8, true)
	if err != nil {
		return env, err
	}
	env.HopsSeen = uint8(hops)
	flags, _, err := m.uint(5, math.MaxUint8, true)
	if err != nil {
		return env, err
	}
	env.Flags = Flags(flags)
	body, ok := m.get(6)
	if !ok {
		return env, refErr("missing body")
	}
	if _, err := asMap(body); err != nil {
		return env, err
	}
	if env.Body, err = refEnc.Marshal(body); err != nil {
		return env, err
	}
	code, present, err := m.uint(7, math.MaxUint16, false)
	if err != nil {
		return env, err
	}
	if present && code == 0 {
		return env, refErr("code 0")
	}
	env.Code = Code(code)
	if r, ok := m.get(8); ok {
		s, ok := r.(string)
		if !ok || len(s) > MaxReasonLen {
			return env, refErr("bad reason")
		}
		env.Reason = s
	}
	return env, env.Validate()
}

// refDecodeBody is the reference for DecodeBody: it returns a pointer to the
// decoded body of the type newBody(op, resp) gives.
func refDecodeBody(op Opcode, resp bool, b []byte) (any, error) {
	t, err := refParse(b)
	if err != nil {
		return nil, err
	}
	m, err := asMap(t)
	if err != nil {
		return nil, err
	}
	switch {
	case op == OpPing && !resp:
		return &PingRequest{}, nil
	case op == OpPing:
		v, ok := m.get(0)
		if !ok {
			return nil, refErr("missing self")
		}
		n, err := refNodeInfo(v)
		return &PingResponse{Self: n}, err
	case (op == OpFindNode || op == OpFindValue) && !resp:
		id, err := m.id(0)
		if op == OpFindNode {
			return &FindNodeRequest{Target: id}, err
		}
		return &FindValueRequest{Key: id}, err
	case op == OpFindNode:
		a, err := m.array(0, MaxClosest)
		if err != nil {
			return nil, err
		}
		c, err := refClosest(a)
		return &FindNodeResponse{Closest: c}, err
	case op == OpFindValue:
		var r FindValueResponse
		_, hasC := m.get(0)
		_, hasP := m.get(1)
		if hasC && hasP {
			return nil, refErr("both")
		}
		if hasC {
			a, err := m.array(0, MaxClosest)
			if err != nil {
				return nil, err
			}
			if r.Closest, err = refClosest(a); err != nil {
				return nil, err
			}
		}
		if hasP {
			a, err := m.array(1, MaxProviders)
			if err != nil {
				return nil, err
			}
			for _, e := range a {
				rec, err := refRecord(e)
				if err != nil {
					return nil, err
				}
				r.Providers = append(r.Providers, rec)
			}
		}
		return &r, nil
	case op == OpProvide && !resp:
		v, ok := m.get(0)
		if !ok {
			return nil, refErr("missing record")
		}
		rec, err := refRecord(v)
		return &ProvideRequest{Record: rec}, err
	case op == OpStore && !resp:
		var r StoreRequest
		if r.Key, err = m.id(0); err != nil {
			return nil, err
		}
		if r.Value, err = m.bytes(1, FrameMax); err != nil {
			return nil, err
		}
		a, err := m.array(2, MaxSigners)
		if err != nil {
			return nil, err
		}
		r.Sigs, err = refSigs(a)
		return &r, err
	case op == OpProvide || op == OpStore:
		acc, err := m.boolean(0)
		if op == OpProvide {
			return &ProvideResponse{Accepted: acc}, err
		}
		return &StoreResponse{Accepted: acc}, err
	}
	return nil, refErr("unknown op")
}

// refDecodeRecord is the reference for DecodeProviderRecord.
func refDecodeRecord(b []byte) (ProviderRecord, error) {
	t, err := refParse(b)
	if err != nil {
		return ProviderRecord{}, err
	}
	return refRecord(t)
}

// newBody returns a pointer to a zero body of the type for op and direction.
func newBody(op Opcode, resp bool) any {
	switch {
	case op == OpPing && !resp:
		return &PingRequest{}
	case op == OpPing:
		return &PingResponse{}
	case op == OpFindNode && !resp:
		return &FindNodeRequest{}
	case op == OpFindNode:
		return &FindNodeResponse{}
	case op == OpFindValue && !resp:
		return &FindValueRequest{}
	case op == OpFindValue:
		return &FindValueResponse{}
	case op == OpProvide && !resp:
		return &ProvideRequest{}
	case op == OpProvide:
		return &ProvideResponse{}
	case op == OpStore && !resp:
		return &StoreRequest{}
	case op == OpStore:
		return &StoreResponse{}
	}
	return nil
}

// normalize sets every empty slice reachable from v to nil, so that values
// compare equal whether a decoder produced nil or empty slices.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				normalize(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			if v.CanSet() {
				v.SetZero()
			}
			return
		}
		for i := range v.Len() {
			normalize(v.Index(i))
		}
	}
}

// sameValue reports whether a and b (pointers) are equal up to nil/empty slices.
func sameValue(a, b any) bool {
	normalize(reflect.ValueOf(a))
	normalize(reflect.ValueOf(b))
	return reflect.DeepEqual(a, b)
}

// --- generators ---

func genID(t *rapid.T, label string) [IDLen]byte {
	var id [IDLen]byte
	copy(id[:], rapid.SliceOfN(rapid.Byte(), IDLen, IDLen).Draw(t, label))
	return id
}

func genAddr() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.Custom(func(t *rapid.T) string {
			return "quic://" + rapid.StringMatching(`[a-z0-9.\-]{1,40}`).Draw(t, "host") + ":" +
				strconv.Itoa(rapid.IntRange(1, 65535).Draw(t, "port"))
		}),
		rapid.StringN(0, 64, MaxAddrLen),
	)
}

func genAddrs(t *rapid.T, label string) []string {
	return rapid.SliceOfN(genAddr(), 0, MaxAddrs).Draw(t, label)
}

// genInt64 draws integers with every CBOR head width represented.
func genInt64() *rapid.Generator[int64] {
	return rapid.OneOf(
		rapid.Int64Range(-30, 30),
		rapid.Int64Range(-70000, 70000),
		rapid.Int64Range(1_600_000_000, 2_000_000_000),
		rapid.Int64(),
		rapid.SampledFrom([]int64{math.MinInt64, math.MaxInt64, 0, -1, 23, 24, -24, -25, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32}),
	)
}

func genUint64() *rapid.Generator[uint64] {
	return rapid.OneOf(
		rapid.Uint64Range(0, 30),
		rapid.Uint64Range(0, 70000),
		rapid.Uint64(),
		rapid.SampledFrom([]uint64{1, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, math.MaxUint64}),
	)
}

func genNodeInfo(t *rapid.T) NodeInfo {
	n := NodeInfo{ID: genID(t, "id"), Addrs: genAddrs(t, "addrs")}
	if rapid.Bool().Draw(t, "has_asn") {
		n.ASN = rapid.Uint32().Draw(t, "asn")
	}
	if rapid.Bool().Draw(t, "has_last_seen") {
		n.LastSeen = genInt64().Draw(t, "last_seen")
	}
	return n
}

func genNodes(t *rapid.T, max int) []NodeInfo {
	n := rapid.IntRange(0, max).Draw(t, "n_nodes")
	out := make([]NodeInfo, n)
	for i := range out {
		out[i] = genNodeInfo(t)
	}
	return out
}

func genSigs(t *rapid.T) []Signature {
	n := rapid.IntRange(0, MaxSigners).Draw(t, "n_sigs")
	out := make([]Signature, n)
	for i := range out {
		out[i] = Signature{
			Alg:       Alg(rapid.Uint8().Draw(t, "alg")),
			PublicKey: rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "pk"),
			Sig:       rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "sig"),
		}
	}
	return out
}

func genRecord(t *rapid.T) ProviderRecord {
	r := ProviderRecord{
		ProtoVer:  ProtoVersion,
		Key:       genID(t, "key"),
		Publisher: genID(t, "publisher"),
		Addrs:     genAddrs(t, "addrs"),
		TTL:       rapid.Uint32().Draw(t, "ttl"),
		TS:        genInt64().Draw(t, "ts"),
	}
	n := rapid.IntRange(0, MaxSigners).Draw(t, "n_signers")
	for range n {
		var s Signer
		s.Alg = Alg(rapid.Uint8().Draw(t, "alg"))
		s.KeyHash = genID(t, "key_hash")
		r.Signers = append(r.Signers, s)
	}
	r.Sigs = genSigs(t)
	return r
}

// genBody draws a valid body for op and direction; it returns a pointer.
func genBody(t *rapid.T, op Opcode, resp bool) any {
	body := newBody(op, resp)
	switch v := body.(type) {
	case *PingResponse:
		v.Self = genNodeInfo(t)
	case *FindNodeRequest:
		v.Target = genID(t, "target")
	case *FindNodeResponse:
		v.Closest = genNodes(t, MaxClosest)
	case *FindValueRequest:
		v.Key = genID(t, "key")
	case *FindValueResponse:
		if rapid.Bool().Draw(t, "providers") {
			n := rapid.IntRange(0, 4).Draw(t, "n_providers")
			for range n {
				v.Providers = append(v.Providers, genRecord(t))
			}
		} else {
			v.Closest = genNodes(t, MaxClosest)
		}
	case *ProvideRequest:
		v.Record = genRecord(t)
	case *ProvideResponse:
		v.Accepted = rapid.Bool().Draw(t, "accepted")
	case *StoreRequest:
		v.Key = genID(t, "key")
		v.Value = rapid.SliceOfN(rapid.Byte(), 0, 600).Draw(t, "value")
		v.Sigs = genSigs(t)
	case *StoreResponse:
		v.Accepted = rapid.Bool().Draw(t, "accepted")
	}
	return body
}
