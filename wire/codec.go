package wire

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Limits of typed fields (PROTOCOL.md lists them per message). Encoders
// refuse values over a limit, decoders reject them with CodeMalformed.
const (
	MaxAddrs        = 16   // addresses per NodeInfo or ProviderRecord
	MaxAddrLen      = 256  // bytes per address
	MaxClosest      = 32   // NodeInfos in a closest list (k is 16-32)
	MaxProviders    = 64   // ProviderRecords in a FIND_VALUE response
	MaxSigners      = 4    // signers, and signatures, per record
	MaxPublicKeyLen = 4096 // bytes of a public key in a Signature (ML-DSA-87: 2592)
	MaxSigLen       = 8192 // bytes of a signature (ML-DSA-87: 4627)
	MaxReasonLen    = 256  // bytes of an envelope's reason text
)

// String returns the opcode's name as used in metrics and logs
// ("ping", "find_node", "find_value", "provide", "store").
func (op Opcode) String() string {
	switch op {
	case OpPing:
		return "ping"
	case OpFindNode:
		return "find_node"
	case OpFindValue:
		return "find_value"
	case OpProvide:
		return "provide"
	case OpStore:
		return "store"
	}
	return "op(" + strconv.Itoa(int(op)) + ")"
}

// NewRequest returns the envelope of a request for op. The body is supplied
// when encoding (AppendEnvelope, AppendFrame).
func NewRequest(op Opcode, corrID uint64, ts int64) Envelope {
	return Envelope{ProtoVer: ProtoVersion, Op: op, CorrID: corrID, TS: ts, Flags: FlagReq}
}

// NewResponse returns the envelope of the response to req with the given
// code, timestamped ts. For a code other than CodeOK set Reason as needed;
// the body is supplied when encoding.
func NewResponse(req *Envelope, code Code, ts int64) Envelope {
	return Envelope{ProtoVer: ProtoVersion, Op: req.Op, CorrID: req.CorrID, TS: ts, Flags: FlagResp, Code: code}
}

// IsResponse reports whether the envelope is a response (FlagResp set).
func (e *Envelope) IsResponse() bool { return e.Flags&FlagResp != 0 }

// Err returns the error carried by a response envelope: nil for CodeOK and
// for requests, otherwise an *Error with the envelope's code and reason.
func (e *Envelope) Err() error {
	if !e.IsResponse() {
		return nil
	}
	return ErrorFromCode(e.Code, e.Reason)
}

// Validate checks the envelope's header fields (everything but the body)
// against the rules of PROTOCOL.md: proto_ver 1 (else CodeBadVersion), a
// known opcode, exactly one of REQ and RESP (HEDGE only with REQ, no other
// bits), a non-zero corr_id (a response with a non-OK code may carry 0),
// code absent in requests and from the closed set in responses, and a reason
// of at most MaxReasonLen bytes of UTF-8 in responses only.
func (e *Envelope) Validate() error {
	if e.ProtoVer != ProtoVersion {
		return &Error{Code: CodeBadVersion, Reason: "envelope.proto_ver " + strconv.FormatUint(e.ProtoVer, 10) + " not supported"}
	}
	if e.Op > OpStore {
		return malformed("envelope.opcode: unknown opcode " + strconv.Itoa(int(e.Op)))
	}
	f := e.Flags
	if f&^(FlagReq|FlagResp|FlagHedge) != 0 {
		return malformed("envelope.flags: unknown bits set")
	}
	req, resp := f&FlagReq != 0, f&FlagResp != 0
	if req == resp {
		return malformed("envelope.flags: exactly one of REQ and RESP must be set")
	}
	if req {
		if e.CorrID == 0 {
			return malformed("envelope.corr_id: zero in a request")
		}
		if e.Code != 0 || e.Reason != "" {
			return malformed("envelope: code or reason in a request")
		}
		return nil
	}
	if f&FlagHedge != 0 {
		return malformed("envelope.flags: HEDGE on a response")
	}
	if e.Code == 0 {
		return malformed("envelope.code: missing in a response")
	}
	if !e.Code.Valid() {
		return malformed("envelope.code: unknown code " + strconv.Itoa(int(e.Code)))
	}
	if e.CorrID == 0 && e.Code == CodeOK {
		return malformed("envelope.corr_id: zero in an OK response")
	}
	if len(e.Reason) > MaxReasonLen {
		return malformed("envelope.reason: " + strconv.Itoa(len(e.Reason)) + " bytes, max " + strconv.Itoa(MaxReasonLen))
	}
	if !utf8.ValidString(e.Reason) {
		return malformed("envelope.reason: not valid UTF-8")
	}
	return nil
}

// Envelope keys.
const (
	keyProtoVer = 0
	keyOp       = 1
	keyCorrID   = 2
	keyTS       = 3
	keyHops     = 4
	keyFlags    = 5
	keyBody     = 6
	keyCode     = 7
	keyReason   = 8
)

// AppendEnvelope appends the Core Deterministic CBOR of env to dst. If body
// is non-nil it is encoded in place as the envelope's body (env.Body is
// ignored); its type must match env's opcode and direction (for example
// *FindNodeResponse for a FIND_NODE response). If body is nil, env.Body is
// used, which must hold one encoded map. If both are empty, the body is
// implied where the protocol defines it: {} for PING requests and for
// responses with a non-OK code, {0: false} for non-OK PROVIDE and STORE
// responses; other messages need a body.
//
// The envelope is validated first (see Validate); on error dst is returned
// unchanged. Encoding into a buffer with enough capacity does not allocate.
func AppendEnvelope(dst []byte, env *Envelope, body any) ([]byte, error) {
	if err := env.Validate(); err != nil {
		return dst, err
	}
	start := len(dst)
	pairs := 7
	if env.Code != 0 {
		pairs++
	}
	if env.Reason != "" {
		pairs++
	}
	dst = append(dst, majMap<<5|byte(pairs),
		keyProtoVer, byte(env.ProtoVer),
		keyOp, byte(env.Op),
		keyCorrID)
	dst = appendHead(dst, majUint, env.CorrID)
	dst = append(dst, keyTS)
	dst = appendInt(dst, env.TS)
	dst = append(dst, keyHops)
	dst = appendHead(dst, majUint, uint64(env.HopsSeen))
	dst = append(dst, keyFlags, byte(env.Flags), keyBody)
	switch {
	case body != nil:
		var op Opcode
		var resp bool
		var err error
		dst, op, resp, err = appendBody(dst, body)
		if err != nil {
			return dst[:start], err
		}
		if op != env.Op || resp != env.IsResponse() {
			return dst[:start], malformed("encode envelope: body type does not match " + bodyName(env.Op, env.IsResponse()))
		}
	case len(env.Body) == 0:
		switch {
		case env.IsResponse() && env.Code != CodeOK && (env.Op == OpProvide || env.Op == OpStore):
			dst = append(dst, majMap<<5|1, 0, majSimple<<5|simpleFalse) // {0: false}
		case env.IsResponse() && env.Code != CodeOK, env.Op == OpPing && !env.IsResponse():
			dst = append(dst, majMap<<5)
		default:
			return dst[:start], malformed("encode envelope: the " + bodyName(env.Op, env.IsResponse()) + " is required")
		}
	default:
		d := decoder{b: env.Body}
		if m, err := d.peek("envelope.body"); err != nil || m != majMap {
			return dst[:start], malformed("encode envelope: body is not an encoded CBOR map")
		}
		if err := d.skip("envelope.body", 2); err != nil {
			return dst[:start], err
		}
		if err := d.end("envelope.body"); err != nil {
			return dst[:start], err
		}
		dst = append(dst, env.Body...)
	}
	if env.Code != 0 {
		dst = append(dst, keyCode)
		dst = appendHead(dst, majUint, uint64(env.Code))
	}
	if env.Reason != "" {
		dst = append(dst, keyReason)
		dst = appendText(dst, env.Reason)
	}
	return dst, nil
}

// DecodeEnvelope decodes one envelope from b, which must hold exactly one
// CBOR item (no trailing bytes), into env, overwriting every field. The body
// is checked to be a well-formed map of the profile and copied into env.Body,
// reusing its capacity: decoding repeatedly into the same Envelope does not
// allocate once Body has grown (a non-empty reason allocates its string).
// Decode the body with DecodeBody.
//
// Errors are *Error: CodeFrameTooLarge if len(b) > FrameMax, CodeBadVersion
// if proto_ver (the first key) is not 1, CodeMalformed for anything else.
// On error env holds whatever was decoded before the failure.
func DecodeEnvelope(b []byte, env *Envelope) error {
	if len(b) > FrameMax {
		return &Error{Code: CodeFrameTooLarge, Reason: "envelope of " + strconv.Itoa(len(b)) + " bytes exceeds " + strconv.Itoa(FrameMax)}
	}
	body := env.Body[:0]
	*env = Envelope{}
	d := decoder{b: b}
	const what = "envelope"
	seen, err := d.fields(what, 1, func(k uint64) (bool, error) {
		switch k {
		case keyProtoVer:
			v, err := d.uint("envelope.proto_ver", math.MaxUint64)
			if err != nil {
				return true, err
			}
			if v != ProtoVersion {
				return true, &Error{Code: CodeBadVersion, Reason: "envelope.proto_ver " + strconv.FormatUint(v, 10) + " not supported"}
			}
			env.ProtoVer = v
		case keyOp:
			v, err := d.uint("envelope.opcode", math.MaxUint8)
			env.Op = Opcode(v)
			return true, err
		case keyCorrID:
			v, err := d.uint("envelope.corr_id", math.MaxUint64)
			env.CorrID = v
			return true, err
		case keyTS:
			v, err := d.int("envelope.ts")
			env.TS = v
			return true, err
		case keyHops:
			v, err := d.uint("envelope.hops_seen", math.MaxUint8)
			env.HopsSeen = uint8(v)
			return true, err
		case keyFlags:
			v, err := d.uint("envelope.flags", math.MaxUint8)
			env.Flags = Flags(v)
			return true, err
		case keyBody:
			m, err := d.peek("envelope.body")
			if err != nil {
				return true, err
			}
			if m != majMap {
				return true, wrongType("envelope.body", "map", m)
			}
			start := d.off
			if err := d.skip("envelope.body", 2); err != nil {
				return true, err
			}
			body = append(body, b[start:d.off]...)
		case keyCode:
			v, err := d.uint("envelope.code", math.MaxUint16)
			env.Code = Code(v)
			return true, err
		case keyReason:
			s, err := d.str("envelope.reason", majText, MaxReasonLen)
			env.Reason = string(s)
			return true, err
		default:
			return false, nil
		}
		return true, nil
	})
	env.Body = body
	if err != nil {
		return err
	}
	if err := d.end(what); err != nil {
		return err
	}
	const required = 1<<keyProtoVer | 1<<keyOp | 1<<keyCorrID | 1<<keyTS | 1<<keyHops | 1<<keyFlags | 1<<keyBody
	if seen&required != required {
		return missing(what, missingName(seen, required, envelopeFields[:]))
	}
	if seen&(1<<keyCode) != 0 && env.Code == 0 {
		return malformed("envelope.code: 0 is not a code")
	}
	return env.Validate()
}

var envelopeFields = [...]string{"proto_ver (0)", "opcode (1)", "corr_id (2)", "ts (3)", "hops_seen (4)", "flags (5)", "body (6)"}

// missingName names the first required key absent from seen.
func missingName(seen, required uint64, names []string) string {
	for k := range names {
		if required&(1<<k) != 0 && seen&(1<<k) == 0 {
			return names[k]
		}
	}
	return "?"
}

// bodyName names the body expected for op in a request or response.
func bodyName(op Opcode, resp bool) string {
	if resp {
		return op.String() + " response body"
	}
	return op.String() + " request body"
}

// AppendBody appends the Core Deterministic CBOR of a message body to dst.
// body is a pointer to (or a value of) one of the body types of types.go.
// Values over a limit are refused with CodeMalformed and dst is returned
// unchanged.
func AppendBody(dst []byte, body any) ([]byte, error) {
	out, _, _, err := appendBody(dst, body)
	return out, err
}

// appendBody encodes body and reports the opcode and direction it belongs to.
func appendBody(dst []byte, body any) (out []byte, op Opcode, resp bool, err error) {
	if isNilPointer(body) {
		return dst, 0, false, malformed("encode: nil body pointer")
	}
	start := len(dst)
	switch v := body.(type) {
	case *PingRequest, PingRequest:
		return append(dst, majMap<<5), OpPing, false, nil
	case *PingResponse:
		dst = append(dst, majMap<<5|1, 0)
		dst, err = appendNodeInfo(dst, &v.Self)
		op, resp = OpPing, true
	case PingResponse:
		dst = append(dst, majMap<<5|1, 0)
		dst, err = appendNodeInfo(dst, &v.Self)
		op, resp = OpPing, true
	case *FindNodeRequest:
		dst, op = appendTarget(dst, &v.Target), OpFindNode
	case FindNodeRequest:
		dst, op = appendTarget(dst, &v.Target), OpFindNode
	case *FindNodeResponse:
		dst, err = appendClosest(append(dst, majMap<<5|1, 0), v.Closest)
		op, resp = OpFindNode, true
	case FindNodeResponse:
		dst, err = appendClosest(append(dst, majMap<<5|1, 0), v.Closest)
		op, resp = OpFindNode, true
	case *FindValueRequest:
		dst, op = appendTarget(dst, &v.Key), OpFindValue
	case FindValueRequest:
		dst, op = appendTarget(dst, &v.Key), OpFindValue
	case *FindValueResponse:
		dst, err = appendFindValueResponse(dst, v)
		op, resp = OpFindValue, true
	case FindValueResponse:
		dst, err = appendFindValueResponse(dst, &v)
		op, resp = OpFindValue, true
	case *ProvideRequest:
		dst, err = appendProviderRecord(append(dst, majMap<<5|1, 0), &v.Record)
		op = OpProvide
	case ProvideRequest:
		dst, err = appendProviderRecord(append(dst, majMap<<5|1, 0), &v.Record)
		op = OpProvide
	case *ProvideResponse:
		dst, op, resp = appendBool(append(dst, majMap<<5|1, 0), v.Accepted), OpProvide, true
	case ProvideResponse:
		dst, op, resp = appendBool(append(dst, majMap<<5|1, 0), v.Accepted), OpProvide, true
	case *StoreRequest:
		dst, err = appendStoreRequest(dst, v)
		op = OpStore
	case StoreRequest:
		dst, err = appendStoreRequest(dst, &v)
		op = OpStore
	case *StoreResponse:
		dst, op, resp = appendBool(append(dst, majMap<<5|1, 0), v.Accepted), OpStore, true
	case StoreResponse:
		dst, op, resp = appendBool(append(dst, majMap<<5|1, 0), v.Accepted), OpStore, true
	default:
		return dst, 0, false, malformed("encode: unsupported body type (want a body type of package wire)")
	}
	if err != nil {
		return dst[:start], 0, false, err
	}
	return dst, op, resp, nil
}

// isNilPointer reports whether v is a nil pointer to a body type.
func isNilPointer(v any) bool {
	switch p := v.(type) {
	case *PingRequest:
		return p == nil
	case *PingResponse:
		return p == nil
	case *FindNodeRequest:
		return p == nil
	case *FindNodeResponse:
		return p == nil
	case *FindValueRequest:
		return p == nil
	case *FindValueResponse:
		return p == nil
	case *ProvideRequest:
		return p == nil
	case *ProvideResponse:
		return p == nil
	case *StoreRequest:
		return p == nil
	case *StoreResponse:
		return p == nil
	}
	return false
}

// appendTarget appends {0: id}, the body of FIND_NODE and FIND_VALUE requests.
func appendTarget(dst []byte, id *[IDLen]byte) []byte {
	dst = append(dst, majMap<<5|1, 0, majBytes<<5|24, IDLen)
	return append(dst, id[:]...)
}

func appendNodeInfo(dst []byte, n *NodeInfo) ([]byte, error) {
	pairs := byte(2)
	if n.ASN != 0 {
		pairs++
	}
	if n.LastSeen != 0 {
		pairs++
	}
	dst = append(dst, majMap<<5|pairs, 0, majBytes<<5|24, IDLen)
	dst = append(dst, n.ID[:]...)
	dst = append(dst, 1)
	dst, err := appendAddrs(dst, n.Addrs, "encode node_info.addrs")
	if err != nil {
		return dst, err
	}
	if n.ASN != 0 {
		dst = appendHead(append(dst, 2), majUint, uint64(n.ASN))
	}
	if n.LastSeen != 0 {
		dst = appendInt(append(dst, 3), n.LastSeen)
	}
	return dst, nil
}

func appendAddrs(dst []byte, addrs []string, what string) ([]byte, error) {
	if len(addrs) > MaxAddrs {
		return dst, malformed(what + ": " + strconv.Itoa(len(addrs)) + " addresses, max " + strconv.Itoa(MaxAddrs))
	}
	dst = appendHead(dst, majArray, uint64(len(addrs)))
	for _, a := range addrs {
		if len(a) > MaxAddrLen {
			return dst, malformed(what + ": address of " + strconv.Itoa(len(a)) + " bytes, max " + strconv.Itoa(MaxAddrLen))
		}
		if !utf8.ValidString(a) {
			return dst, malformed(what + ": address is not valid UTF-8")
		}
		dst = appendText(dst, a)
	}
	return dst, nil
}

func appendClosest(dst []byte, nodes []NodeInfo) ([]byte, error) {
	if len(nodes) > MaxClosest {
		return dst, malformed("encode closest: " + strconv.Itoa(len(nodes)) + " nodes, max " + strconv.Itoa(MaxClosest))
	}
	dst = appendHead(dst, majArray, uint64(len(nodes)))
	var err error
	for i := range nodes {
		if dst, err = appendNodeInfo(dst, &nodes[i]); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func appendFindValueResponse(dst []byte, r *FindValueResponse) ([]byte, error) {
	switch {
	case len(r.Closest) > 0 && len(r.Providers) > 0:
		return dst, malformed("encode find_value response: both closest and providers set")
	case len(r.Providers) > 0:
		if len(r.Providers) > MaxProviders {
			return dst, malformed("encode find_value response: " + strconv.Itoa(len(r.Providers)) + " providers, max " + strconv.Itoa(MaxProviders))
		}
		dst = append(dst, majMap<<5|1, 1)
		dst = appendHead(dst, majArray, uint64(len(r.Providers)))
		var err error
		for i := range r.Providers {
			if dst, err = appendProviderRecord(dst, &r.Providers[i]); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case len(r.Closest) > 0:
		return appendClosest(append(dst, majMap<<5|1, 0), r.Closest)
	}
	return append(dst, majMap<<5), nil
}

// AppendProviderRecord appends the Core Deterministic CBOR of r (all eight
// fields, the form carried in PROVIDE and FIND_VALUE) to dst. r.ProtoVer must
// be 1; on error dst is returned unchanged.
func AppendProviderRecord(dst []byte, r *ProviderRecord) ([]byte, error) {
	out, err := appendProviderRecord(dst, r)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func appendProviderRecord(dst []byte, r *ProviderRecord) ([]byte, error) {
	if r.ProtoVer != ProtoVersion {
		return dst, &Error{Code: CodeBadVersion, Reason: "encode provider_record: proto_ver " + strconv.FormatUint(r.ProtoVer, 10) + " not supported"}
	}
	if len(r.Signers) > MaxSigners {
		return dst, malformed("encode provider_record.signers: " + strconv.Itoa(len(r.Signers)) + " signers, max " + strconv.Itoa(MaxSigners))
	}
	dst = append(dst, majMap<<5|8, 0, ProtoVersion, 1, majBytes<<5|24, IDLen)
	dst = append(dst, r.Key[:]...)
	dst = append(dst, 2, majBytes<<5|24, IDLen)
	dst = append(dst, r.Publisher[:]...)
	dst = append(dst, 3)
	dst, err := appendAddrs(dst, r.Addrs, "encode provider_record.addrs")
	if err != nil {
		return dst, err
	}
	dst = appendHead(append(dst, 4), majUint, uint64(r.TTL))
	dst = appendInt(append(dst, 5), r.TS)
	dst = append(dst, 6)
	dst = appendHead(dst, majArray, uint64(len(r.Signers)))
	for i := range r.Signers {
		s := &r.Signers[i]
		dst = appendHead(append(dst, majArray<<5|2), majUint, uint64(s.Alg))
		dst = append(dst, majBytes<<5|24, IDLen)
		dst = append(dst, s.KeyHash[:]...)
	}
	dst = append(dst, 7)
	return appendSigs(dst, r.Sigs, "encode provider_record.sigs")
}

func appendSigs(dst []byte, sigs []Signature, what string) ([]byte, error) {
	if len(sigs) > MaxSigners {
		return dst, malformed(what + ": " + strconv.Itoa(len(sigs)) + " signatures, max " + strconv.Itoa(MaxSigners))
	}
	dst = appendHead(dst, majArray, uint64(len(sigs)))
	for i := range sigs {
		s := &sigs[i]
		if len(s.PublicKey) > MaxPublicKeyLen {
			return dst, malformed(what + ": public key of " + strconv.Itoa(len(s.PublicKey)) + " bytes, max " + strconv.Itoa(MaxPublicKeyLen))
		}
		if len(s.Sig) > MaxSigLen {
			return dst, malformed(what + ": signature of " + strconv.Itoa(len(s.Sig)) + " bytes, max " + strconv.Itoa(MaxSigLen))
		}
		dst = appendHead(append(dst, majMap<<5|3, 0), majUint, uint64(s.Alg))
		dst = appendBytes(append(dst, 1), s.PublicKey)
		dst = appendBytes(append(dst, 2), s.Sig)
	}
	return dst, nil
}

func appendStoreRequest(dst []byte, r *StoreRequest) ([]byte, error) {
	dst = append(dst, majMap<<5|3, 0, majBytes<<5|24, IDLen)
	dst = append(dst, r.Key[:]...)
	dst = appendBytes(append(dst, 1), r.Value)
	return appendSigs(append(dst, 2), r.Sigs, "encode store.sigs")
}

// DecodeBody decodes the body raw of an envelope with opcode op and flags
// into v, which must be a pointer to the body type of that opcode and
// direction (for example *FindNodeRequest for a FIND_NODE request). *v is
// overwritten; slices and strings in it are freshly allocated and never
// alias raw, so they may be retained. Bodies of FIND_NODE and FIND_VALUE
// requests decode without allocating.
//
// Only decode the body of a response whose code is CodeOK: error responses
// carry an empty map ({0: false} for PROVIDE and STORE), and a non-OK
// PROVIDE or STORE response means not accepted.
//
// Errors are *Error: CodeBadVersion for a record whose proto_ver is not 1,
// CodeFrameTooLarge if raw exceeds FrameMax, CodeMalformed otherwise.
func DecodeBody(op Opcode, flags Flags, raw []byte, v any) error {
	if len(raw) > FrameMax {
		return &Error{Code: CodeFrameTooLarge, Reason: "body of " + strconv.Itoa(len(raw)) + " bytes exceeds " + strconv.Itoa(FrameMax)}
	}
	if isNilPointer(v) {
		return malformed("decode: nil body pointer")
	}
	resp := flags&FlagResp != 0
	d := decoder{b: raw}
	var err error
	var wantOp Opcode
	var wantResp bool
	switch t := v.(type) {
	case *PingRequest:
		wantOp = OpPing
		if op == wantOp && !resp {
			*t = PingRequest{}
			err = d.emptyBody("ping request body")
		}
	case *PingResponse:
		wantOp, wantResp = OpPing, true
		if op == wantOp && resp {
			err = d.pingResponse(t)
		}
	case *FindNodeRequest:
		wantOp = OpFindNode
		if op == wantOp && !resp {
			err = d.target("find_node request body", "find_node request target", &t.Target)
		}
	case *FindNodeResponse:
		wantOp, wantResp = OpFindNode, true
		if op == wantOp && resp {
			err = d.findNodeResponse(t)
		}
	case *FindValueRequest:
		wantOp = OpFindValue
		if op == wantOp && !resp {
			err = d.target("find_value request body", "find_value request key", &t.Key)
		}
	case *FindValueResponse:
		wantOp, wantResp = OpFindValue, true
		if op == wantOp && resp {
			err = d.findValueResponse(t)
		}
	case *ProvideRequest:
		wantOp = OpProvide
		if op == wantOp && !resp {
			err = d.provideRequest(t)
		}
	case *ProvideResponse:
		wantOp, wantResp = OpProvide, true
		if op == wantOp && resp {
			t.Accepted, err = d.accepted("provide response body", "provide response accepted")
		}
	case *StoreRequest:
		wantOp = OpStore
		if op == wantOp && !resp {
			err = d.storeRequest(t)
		}
	case *StoreResponse:
		wantOp, wantResp = OpStore, true
		if op == wantOp && resp {
			t.Accepted, err = d.accepted("store response body", "store response accepted")
		}
	default:
		return malformed("decode: unsupported body type (want a pointer to a body type of package wire)")
	}
	if op != wantOp || resp != wantResp {
		return malformed("decode: wrong Go type for the " + bodyName(op, resp))
	}
	if err != nil {
		return err
	}
	if d.off != len(raw) {
		return d.end(bodyName(op, resp))
	}
	return nil
}

// DecodeProviderRecord decodes one ProviderRecord from b, which must hold
// exactly one CBOR item, into r (overwritten). It checks structure only
// (types, lengths, limits, required fields; proto_ver 1 else CodeBadVersion),
// not signatures or times.
func DecodeProviderRecord(b []byte, r *ProviderRecord) error {
	if len(b) > FrameMax {
		return &Error{Code: CodeFrameTooLarge, Reason: "record of " + strconv.Itoa(len(b)) + " bytes exceeds " + strconv.Itoa(FrameMax)}
	}
	d := decoder{b: b}
	if err := d.record(r, 1); err != nil {
		return err
	}
	return d.end("provider_record")
}

// emptyBody reads a body map without known keys (unknown keys are skipped).
func (d *decoder) emptyBody(what string) error {
	_, err := d.fields(what, 1, func(uint64) (bool, error) { return false, nil })
	return err
}

// target reads {0: id}, the body of FIND_NODE and FIND_VALUE requests.
func (d *decoder) target(what, field string, id *[IDLen]byte) error {
	seen, err := d.fields(what, 1, func(k uint64) (bool, error) {
		if k == 0 {
			return true, d.id(field, id)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if seen&1 == 0 {
		return missing(what, "target (0)")
	}
	return nil
}

// accepted reads {0: bool}, the body of PROVIDE and STORE responses.
func (d *decoder) accepted(what, field string) (bool, error) {
	var acc bool
	seen, err := d.fields(what, 1, func(k uint64) (bool, error) {
		if k != 0 {
			return false, nil
		}
		var err error
		acc, err = d.boolean(field)
		return true, err
	})
	if err != nil {
		return false, err
	}
	if seen&1 == 0 {
		return false, missing(what, "accepted (0)")
	}
	return acc, nil
}

func (d *decoder) pingResponse(r *PingResponse) error {
	const what = "ping response body"
	*r = PingResponse{}
	seen, err := d.fields(what, 1, func(k uint64) (bool, error) {
		if k == 0 {
			return true, d.nodeInfo(&r.Self, 2)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if seen&1 == 0 {
		return missing(what, "self (0)")
	}
	return nil
}

func (d *decoder) findNodeResponse(r *FindNodeResponse) error {
	const what = "find_node response body"
	*r = FindNodeResponse{}
	seen, err := d.fields(what, 1, func(k uint64) (bool, error) {
		if k == 0 {
			var err error
			r.Closest, err = d.closest("find_node response closest", 2)
			return true, err
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if seen&1 == 0 {
		return missing(what, "closest (0)")
	}
	return nil
}

func (d *decoder) findValueResponse(r *FindValueResponse) error {
	const what = "find_value response body"
	*r = FindValueResponse{}
	seen, err := d.fields(what, 1, func(k uint64) (bool, error) {
		var err error
		switch k {
		case 0:
			r.Closest, err = d.closest("find_value response closest", 2)
		case 1:
			r.Providers, err = d.providers(2)
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return err
	}
	if seen&3 == 3 {
		return malformed(what + ": both closest (0) and providers (1) present")
	}
	return nil
}

func (d *decoder) provideRequest(r *ProvideRequest) error {
	const what = "provide request body"
	*r = ProvideRequest{}
	seen, err := d.fields(what, 1, func(k uint64) (bool, error) {
		if k == 0 {
			return true, d.record(&r.Record, 2)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if seen&1 == 0 {
		return missing(what, "record (0)")
	}
	return nil
}

func (d *decoder) storeRequest(r *StoreRequest) error {
	const what = "store request body"
	*r = StoreRequest{}
	seen, err := d.fields(what, 1, func(k uint64) (bool, error) {
		var err error
		switch k {
		case 0:
			err = d.id("store.key", &r.Key)
		case 1:
			var b []byte
			b, err = d.str("store.value", majBytes, FrameMax)
			r.Value = clone(b)
		case 2:
			r.Sigs, err = d.sigs("store.sigs", 2)
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return err
	}
	if seen&7 != 7 {
		return missing(what, missingName(seen, 7, []string{"key (0)", "value (1)", "sigs (2)"}))
	}
	return nil
}

// nodeInfo reads a NodeInfo map at nesting level depth.
func (d *decoder) nodeInfo(n *NodeInfo, depth int) error {
	const what = "node_info"
	*n = NodeInfo{}
	seen, err := d.fields(what, depth, func(k uint64) (bool, error) {
		var err error
		switch k {
		case 0:
			err = d.id("node_info.id", &n.ID)
		case 1:
			n.Addrs, err = d.addrs("node_info.addrs", depth+1)
		case 2:
			var v uint64
			v, err = d.uint("node_info.asn", math.MaxUint32)
			n.ASN = uint32(v)
		case 3:
			n.LastSeen, err = d.int("node_info.last_seen")
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return err
	}
	if seen&3 != 3 {
		return missing(what, missingName(seen, 3, []string{"id (0)", "addrs (1)"}))
	}
	return nil
}

// addrs reads an array of at most MaxAddrs texts of at most MaxAddrLen bytes.
func (d *decoder) addrs(what string, depth int) ([]string, error) {
	n, err := d.container(what, majArray, depth, MaxAddrs)
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		s, err := d.str(what, majText, MaxAddrLen)
		if err != nil {
			return nil, err
		}
		out[i] = string(s)
	}
	return out, nil
}

// closest reads an array of at most MaxClosest NodeInfos.
func (d *decoder) closest(what string, depth int) ([]NodeInfo, error) {
	n, err := d.container(what, majArray, depth, MaxClosest)
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]NodeInfo, n)
	for i := range out {
		if err := d.nodeInfo(&out[i], depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// providers reads an array of at most MaxProviders ProviderRecords.
func (d *decoder) providers(depth int) ([]ProviderRecord, error) {
	n, err := d.container("find_value response providers", majArray, depth, MaxProviders)
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]ProviderRecord, n)
	for i := range out {
		if err := d.record(&out[i], depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var recordFields = [...]string{"proto_ver (0)", "key (1)", "publisher (2)", "addrs (3)", "ttl (4)", "ts (5)", "signers (6)", "sigs (7)"}

// record reads a ProviderRecord map at nesting level depth.
func (d *decoder) record(r *ProviderRecord, depth int) error {
	const what = "provider_record"
	*r = ProviderRecord{}
	seen, err := d.fields(what, depth, func(k uint64) (bool, error) {
		var err error
		switch k {
		case 0:
			r.ProtoVer, err = d.uint("provider_record.proto_ver", math.MaxUint64)
			if err == nil && r.ProtoVer != ProtoVersion {
				err = &Error{Code: CodeBadVersion, Reason: "provider_record.proto_ver " + strconv.FormatUint(r.ProtoVer, 10) + " not supported"}
			}
		case 1:
			err = d.id("provider_record.key", &r.Key)
		case 2:
			err = d.id("provider_record.publisher", &r.Publisher)
		case 3:
			r.Addrs, err = d.addrs("provider_record.addrs", depth+1)
		case 4:
			var v uint64
			v, err = d.uint("provider_record.ttl", math.MaxUint32)
			r.TTL = uint32(v)
		case 5:
			r.TS, err = d.int("provider_record.ts")
		case 6:
			r.Signers, err = d.signers(depth + 1)
		case 7:
			r.Sigs, err = d.sigs("provider_record.sigs", depth+1)
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return err
	}
	if seen&0xff != 0xff {
		return missing(what, missingName(seen, 0xff, recordFields[:]))
	}
	return nil
}

// signers reads an array of at most MaxSigners [alg, key hash] pairs.
func (d *decoder) signers(depth int) ([]Signer, error) {
	const what = "provider_record.signers"
	n, err := d.container(what, majArray, depth, MaxSigners)
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]Signer, n)
	for i := range out {
		m, err := d.container(what, majArray, depth+1, MaxItems)
		if err != nil {
			return nil, err
		}
		if m != 2 {
			return nil, malformed(what + ": signer is an array of " + strconv.Itoa(m) + " elements, want 2")
		}
		alg, err := d.uint(what+" alg", math.MaxUint8)
		if err != nil {
			return nil, err
		}
		out[i].Alg = Alg(alg)
		if err := d.id(what+" key hash", &out[i].KeyHash); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sigs reads an array of at most MaxSigners Signature maps.
func (d *decoder) sigs(what string, depth int) ([]Signature, error) {
	n, err := d.container(what, majArray, depth, MaxSigners)
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]Signature, n)
	for i := range out {
		s := &out[i]
		seen, err := d.fields(what, depth+1, func(k uint64) (bool, error) {
			var err error
			var b []byte
			switch k {
			case 0:
				var v uint64
				v, err = d.uint("signature.alg", math.MaxUint8)
				s.Alg = Alg(v)
			case 1:
				b, err = d.str("signature.pk", majBytes, MaxPublicKeyLen)
				s.PublicKey = clone(b)
			case 2:
				b, err = d.str("signature.sig", majBytes, MaxSigLen)
				s.Sig = clone(b)
			default:
				return false, nil
			}
			return true, err
		})
		if err != nil {
			return nil, err
		}
		if seen&7 != 7 {
			return nil, missing("signature", missingName(seen, 7, []string{"alg (0)", "pk (1)", "sig (2)"}))
		}
	}
	return out, nil
}

// clone copies b; empty input gives nil.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
