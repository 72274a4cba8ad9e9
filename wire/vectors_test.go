package wire

// Test vectors: testdata/vectors.json, the seed corpora under testdata/fuzz,
// and the generated examples section of PROTOCOL.md. `go test ./wire -run
// 'Vectors|ProtocolExamples' -update` regenerates them from the Go values
// below; normal runs check both directions against the committed files.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func init() {
	// record_test.go registers the same flag; whichever runs first wins.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "regenerate the files in testdata/ and the examples of PROTOCOL.md")
	}
}

// updating reports whether -update was given.
func updating() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	b, _ := g.Get().(bool)
	return b
}

const vectorTS = 1700000000

// vid returns the ID start, start+1, ..., start+31.
func vid(start byte) (id [IDLen]byte) {
	for i := range id {
		id[i] = start + byte(i)
	}
	return id
}

type vectorMsg struct {
	Name    string
	Comment string
	Env     Envelope
	Body    any
}

func vectorRecord() ProviderRecord {
	return ProviderRecord{
		ProtoVer:  ProtoVersion,
		Key:       vid(0x80),
		Publisher: vid(0xa0),
		Addrs:     []string{"quic://192.0.2.10:4433"},
		TTL:       86400,
		TS:        vectorTS,
		Signers:   []Signer{{Alg: AlgEd25519, KeyHash: vid(0xa0)}},
		Sigs: []Signature{{
			Alg:       AlgEd25519,
			PublicKey: bytes.Repeat([]byte{0xcc}, 32),
			Sig:       bytes.Repeat([]byte{0xdd}, 64),
		}},
	}
}

// vectorMessages is the set of positive vectors, one per message.
func vectorMessages() []vectorMsg {
	n1 := NodeInfo{ID: vid(0x20), Addrs: []string{"quic://192.0.2.1:4433"}, ASN: 64496, LastSeen: vectorTS - 60}
	n2 := NodeInfo{ID: vid(0x40), Addrs: []string{"quic://[2001:db8::2]:4433", "quic://198.51.100.2:4433"}, ASN: 64497}
	n3 := NodeInfo{ID: vid(0x60), Addrs: []string{"quic://203.0.113.3:4433"}}
	req := func(op Opcode, corr uint64, hops uint8, flags Flags) Envelope {
		e := NewRequest(op, corr, vectorTS)
		e.HopsSeen, e.Flags = hops, flags
		return e
	}
	resp := func(op Opcode, corr uint64, code Code, reason string) Envelope {
		r := Envelope{Op: op, CorrID: corr}
		e := NewResponse(&r, code, vectorTS+1)
		e.Reason = reason
		return e
	}
	rec := vectorRecord()
	return []vectorMsg{
		{"ping_request", "PING request, corr_id 1", req(OpPing, 1, 0, FlagReq), &PingRequest{}},
		{"ping_response", "PING response: the responder's NodeInfo", resp(OpPing, 1, CodeOK, ""), &PingResponse{Self: n1}},
		{"find_node_request", "FIND_NODE request, 8-byte corr_id, hops_seen 2", req(OpFindNode, 0x0123456789abcdef, 2, FlagReq), &FindNodeRequest{Target: vid(0x00)}},
		{"find_node_response", "FIND_NODE response with three NodeInfos (asn and last_seen omitted when 0)", resp(OpFindNode, 0x0123456789abcdef, CodeOK, ""), &FindNodeResponse{Closest: []NodeInfo{n1, n2, n3}}},
		{"find_value_request", "FIND_VALUE request sent as a hedge (flags REQ|HEDGE)", req(OpFindValue, 7, 1, FlagReq|FlagHedge), &FindValueRequest{Key: vid(0x80)}},
		{"find_value_response_closest", "FIND_VALUE response without providers: the closest nodes (key 0)", resp(OpFindValue, 7, CodeOK, ""), &FindValueResponse{Closest: []NodeInfo{n2, n3}}},
		{"find_value_response_providers", "FIND_VALUE response with one provider record (key 1); the signature bytes are placeholders, see record_ed25519.hex for a signed record", resp(OpFindValue, 7, CodeOK, ""), &FindValueResponse{Providers: []ProviderRecord{rec}}},
		{"find_value_response_empty", "FIND_VALUE response of a node that knows neither providers nor other nodes: empty map", resp(OpFindValue, 7, CodeOK, ""), &FindValueResponse{}},
		{"provide_request", "PROVIDE request carrying one record (placeholder signature bytes)", req(OpProvide, 9, 0, FlagReq), &ProvideRequest{Record: rec}},
		{"provide_response", "PROVIDE response: accepted", resp(OpProvide, 9, CodeOK, ""), &ProvideResponse{Accepted: true}},
		{"provide_response_rejected", "PROVIDE response: rejected with code 1440 and a reason", resp(OpProvide, 9, CodeBadSignature, "signature does not verify"), &ProvideResponse{Accepted: false}},
		{"store_request", "STORE request (feature-gated): key, value, signatures", req(OpStore, 10, 0, FlagReq), &StoreRequest{Key: vid(0x80), Value: []byte("hello"), Sigs: rec.Sigs}},
		{"store_response", "STORE response: accepted", resp(OpStore, 10, CodeOK, ""), &StoreResponse{Accepted: true}},
		{"error_response", "error response: FIND_NODE refused with 1501 busy, reason text, empty body", resp(OpFindNode, 11, CodeBusy, "work queue full"), nil},
	}
}

// vectorReject is a negative vector: bytes and the code they must fail with.
type vectorReject struct {
	Name    string `json:"name"`
	Comment string `json:"comment"`
	Layer   string `json:"layer"` // "frame" (ReadFrame) or "message" (DecodeEnvelope + DecodeBody)
	Hex     string `json:"hex"`
	Code    Code   `json:"code"`
}

// mustEnvelope encodes a vector message.
func mustEnvelope(t testing.TB, m vectorMsg) []byte {
	t.Helper()
	b, err := AppendEnvelope(nil, &m.Env, m.Body)
	if err != nil {
		t.Fatalf("%s: %v", m.Name, err)
	}
	return b
}

// editTree decodes b into a generic tree, applies fn and re-encodes it
// canonically.
func editTree(t testing.TB, b []byte, fn func(m map[any]any)) []byte {
	t.Helper()
	var v any
	if err := refDec.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	fn(v.(map[any]any))
	out, err := refEnc.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withBody encodes env with a raw body given as bytes, bypassing body checks.
func withBody(t testing.TB, env Envelope, body []byte) []byte {
	t.Helper()
	env.Body = []byte{0xa0}
	b, err := AppendEnvelope(nil, &env, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Only code and reason can follow the body; splice the given body in.
	i := bytes.LastIndex(b, []byte{keyBody, 0xa0})
	return slices.Concat(b[:i+1], body, b[i+2:])
}

func splice(b []byte, old, new []byte) []byte {
	i := bytes.Index(b, old)
	if i < 0 {
		panic(fmt.Sprintf("splice: %x not in %x", old, b))
	}
	return slices.Concat(b[:i], new, b[i+len(old):])
}

func frameOf(b []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(len(b)))
}

// vectorRejects builds the negative vectors from the positive ones.
func vectorRejects(t testing.TB) []vectorReject {
	msgs := map[string][]byte{}
	for _, m := range vectorMessages() {
		msgs[m.Name] = mustEnvelope(t, m)
	}
	ping := msgs["ping_request"]
	fnReq := NewRequest(OpFindNode, 5, vectorTS)
	id := vid(0)
	provideBody := editTree(t, must(AppendBody(nil, &ProvideRequest{Record: vectorRecord()})), func(m map[any]any) {
		m[uint64(0)].(map[any]any)[uint64(0)] = uint64(2)
	})
	tooMany := make([]string, MaxAddrs+1)
	for i := range tooMany {
		tooMany[i] = "quic://192.0.2.1:" + strconv.Itoa(4000+i)
	}
	tooManyBody := editTree(t, must(AppendBody(nil, &PingResponse{Self: NodeInfo{ID: vid(0x20)}})), func(m map[any]any) {
		addrs := make([]any, len(tooMany))
		for i, a := range tooMany {
			addrs[i] = a
		}
		m[uint64(0)].(map[any]any)[uint64(1)] = addrs
	})
	msg := func(name, comment string, code Code, b []byte) vectorReject {
		return vectorReject{Name: name, Comment: comment, Layer: "message", Hex: hex.EncodeToString(b), Code: code}
	}
	frame := func(name, comment string, code Code, b []byte) vectorReject {
		return vectorReject{Name: name, Comment: comment, Layer: "frame", Hex: hex.EncodeToString(b), Code: code}
	}
	pingResp := NewResponse(&Envelope{Op: OpPing, CorrID: 1}, CodeOK, vectorTS)
	return []vectorReject{
		msg("bad_proto_ver", "ping_request with proto_ver 2", CodeBadVersion, editTree(t, ping, func(m map[any]any) { m[uint64(0)] = uint64(2) })),
		msg("truncated", "ping_request without its last byte", CodeMalformed, ping[:len(ping)-1]),
		msg("trailing_bytes", "ping_request followed by one extra byte 00", CodeMalformed, append(slices.Clone(ping), 0)),
		msg("wrong_length_id_31", "FIND_NODE request whose target is 31 bytes", CodeMalformed, withBody(t, fnReq, slices.Concat([]byte{0xa1, 0x00, 0x58, 0x1f}, id[:31]))),
		msg("wrong_length_id_33", "FIND_NODE request whose target is 33 bytes", CodeMalformed, withBody(t, fnReq, slices.Concat([]byte{0xa1, 0x00, 0x58, 0x21}, id[:], []byte{0x20}))),
		msg("missing_required_field", "ping_request without corr_id (key 2)", CodeMalformed, editTree(t, ping, func(m map[any]any) { delete(m, uint64(keyCorrID)) })),
		msg("missing_body_field", "FIND_NODE request whose body is {} (target missing)", CodeMalformed, withBody(t, fnReq, []byte{0xa0})),
		msg("wrong_type", "ping_request whose corr_id is the text \"1\"", CodeMalformed, editTree(t, ping, func(m map[any]any) { m[uint64(keyCorrID)] = "1" })),
		msg("wrong_type_id", "FIND_NODE request whose target is a text string", CodeMalformed, withBody(t, fnReq, slices.Concat([]byte{0xa1, 0x00, 0x78, 0x20}, bytes.Repeat([]byte{'a'}, 32)))),
		msg("null_body", "ping_request whose body is null", CodeMalformed, editTree(t, ping, func(m map[any]any) { m[uint64(keyBody)] = nil })),
		msg("float", "ping_request whose ts is a float", CodeMalformed, editTree(t, ping, func(m map[any]any) { m[uint64(keyTS)] = 1.7e9 })),
		msg("tag", "ping_request whose body is tagged (tag 0)", CodeMalformed, splice(ping, []byte{keyBody, 0xa0}, []byte{keyBody, 0xc0, 0xa0})),
		msg("indefinite_length", "ping_request whose body is an indefinite-length map", CodeMalformed, splice(ping, []byte{keyBody, 0xa0}, []byte{keyBody, 0xbf, 0xff})),
		msg("non_shortest_int", "ping_request whose corr_id 1 is encoded in two bytes (18 01)", CodeMalformed, splice(ping, []byte{keyCorrID, 0x01}, []byte{keyCorrID, 0x18, 0x01})),
		msg("unsorted_keys", "ping_request with keys 0 and 1 swapped", CodeMalformed, splice(ping, []byte{0x00, 0x01, 0x01, 0x00}, []byte{0x01, 0x00, 0x00, 0x01})),
		msg("duplicate_key", "ping_request whose key 1 is replaced by a second key 0", CodeMalformed, splice(ping, []byte{0x00, 0x01, 0x01, 0x00}, []byte{0x00, 0x01, 0x00, 0x01})),
		msg("unknown_opcode", "request with opcode 9", CodeMalformed, editTree(t, ping, func(m map[any]any) { m[uint64(keyOp)] = uint64(9) })),
		msg("bad_flags", "ping_request with both REQ and RESP set", CodeMalformed, editTree(t, ping, func(m map[any]any) { m[uint64(keyFlags)] = uint64(FlagReq | FlagResp) })),
		msg("zero_corr_id", "request with corr_id 0", CodeMalformed, editTree(t, ping, func(m map[any]any) { m[uint64(keyCorrID)] = uint64(0) })),
		msg("code_in_request", "request carrying code 1000", CodeMalformed, editTree(t, ping, func(m map[any]any) { m[uint64(keyCode)] = uint64(CodeOK) })),
		msg("unknown_code", "response with code 1234", CodeMalformed, editTree(t, msgs["ping_response"], func(m map[any]any) { m[uint64(keyCode)] = uint64(1234) })),
		msg("nesting_too_deep", "ping_request with an unknown key 9 holding arrays nested 16 deep (17 levels with the envelope)", CodeMalformed, editTree(t, ping, func(m map[any]any) { m[uint64(9)] = nested(MaxNesting) })),
		msg("too_many_addrs", "PING response whose NodeInfo has 17 addresses", CodeMalformed, withBody(t, pingResp, tooManyBody)),
		msg("record_bad_proto_ver", "PROVIDE request whose record has proto_ver 2", CodeBadVersion, withBody(t, NewRequest(OpProvide, 9, vectorTS), provideBody)),
		frame("frame_oversize", "length prefix 1 MiB + 1 (00100001): refused before reading further", CodeFrameTooLarge, []byte{0x00, 0x10, 0x00, 0x01}),
		frame("frame_zero_length", "length prefix 0", CodeMalformed, []byte{0, 0, 0, 0}),
		frame("frame_truncated", fmt.Sprintf("length prefix %d (ping_request) followed by only 5 bytes", len(ping)), CodeMalformed, slices.Concat(frameOf(ping), ping[:5])),
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// decodeOnly are positive vectors that decode to a vector message but are
// not what an encoder produces: unknown keys are ignored.
func decodeOnlyVectors(t testing.TB) []struct {
	Name, Comment, Of string
	B                 []byte
} {
	var fn vectorMsg
	for _, m := range vectorMessages() {
		if m.Name == "find_node_request" {
			fn = m
		}
	}
	b := mustEnvelope(t, fn)
	withUnknown := editTree(t, b, func(m map[any]any) {
		m[uint64(9)] = map[any]any{uint64(0): "future field"}
		body := m[uint64(keyBody)].(map[any]any)
		body[uint64(5)] = []any{uint64(1), []byte{2}}
	})
	return []struct {
		Name, Comment, Of string
		B                 []byte
	}{
		{"unknown_keys_ignored", "find_node_request with an unknown envelope key 9 and an unknown body key 5: decodes to find_node_request", "find_node_request", withUnknown},
	}
}

type vectorJSONMsg struct {
	Name       string `json:"name"`
	Comment    string `json:"comment"`
	Hex        string `json:"hex"`
	Diag       string `json:"diag"`
	DecodeOnly string `json:"decodes_to,omitempty"`
}

type vectorFileJSON struct {
	Description string          `json:"description"`
	Messages    []vectorJSONMsg `json:"messages"`
	Rejects     []vectorReject  `json:"rejects"`
}

func diag(t testing.TB, b []byte) string {
	dm, err := cbor.DiagOptions{ByteStringEncoding: cbor.ByteStringBase16Encoding}.DiagMode()
	if err != nil {
		t.Fatal(err)
	}
	s, err := dm.Diagnose(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// buildVectorFile renders testdata/vectors.json.
func buildVectorFile(t testing.TB) []byte {
	f := vectorFileJSON{
		Description: "svc-dht wire proto_ver 1 test vectors. messages: hex is one envelope (the frame payload, without the 4-byte length prefix); " +
			"diag is its RFC 8949 diagnostic notation; decodes_to names the message an input decodes to when it is not canonical encoder output. " +
			"rejects: layer \"message\" inputs fail DecodeEnvelope or DecodeBody, layer \"frame\" inputs (length prefix and payload) fail ReadFrame, with the given code. " +
			"Regenerate with: go test ./wire -run 'Vectors|ProtocolExamples' -update",
		Rejects: vectorRejects(t),
	}
	for _, m := range vectorMessages() {
		b := mustEnvelope(t, m)
		f.Messages = append(f.Messages, vectorJSONMsg{Name: m.Name, Comment: m.Comment, Hex: hex.EncodeToString(b), Diag: diag(t, b)})
	}
	for _, d := range decodeOnlyVectors(t) {
		f.Messages = append(f.Messages, vectorJSONMsg{Name: d.Name, Comment: d.Comment, Hex: hex.EncodeToString(d.B), Diag: diag(t, d.B), DecodeOnly: d.Of})
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

const vectorPath = "testdata/vectors.json"

func TestVectorsFileUpToDate(t *testing.T) {
	want := buildVectorFile(t)
	if updating() {
		if err := os.WriteFile(vectorPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		writeFuzzCorpus(t)
	}
	got, err := os.ReadFile(vectorPath)
	if err != nil {
		t.Fatalf("%v (run go test ./wire -run Vectors -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the Go values (run go test ./wire -run Vectors -update and review the diff)", vectorPath)
	}
}

func readVectorFile(t *testing.T) vectorFileJSON {
	t.Helper()
	b, err := os.ReadFile(vectorPath)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFileJSON
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestVectorsMessages checks every positive vector of the committed file both
// ways: encode(value) == bytes and decode(bytes) == value.
func TestVectorsMessages(t *testing.T) {
	f := readVectorFile(t)
	byName := map[string]vectorMsg{}
	for _, m := range vectorMessages() {
		byName[m.Name] = m
	}
	if len(f.Messages) < len(byName) {
		t.Fatalf("vectors.json has %d messages, want at least %d", len(f.Messages), len(byName))
	}
	for _, v := range f.Messages {
		t.Run(v.Name, func(t *testing.T) {
			b, err := hex.DecodeString(v.Hex)
			if err != nil {
				t.Fatal(err)
			}
			of := v.Name
			if v.DecodeOnly != "" {
				of = v.DecodeOnly
			}
			m, ok := byName[of]
			if !ok {
				t.Fatalf("no Go value for vector %q", of)
			}
			if v.DecodeOnly == "" {
				enc, err := AppendEnvelope(nil, &m.Env, m.Body)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, b) {
					t.Fatalf("encode(value) = %x, vector %x", enc, b)
				}
			}
			var env Envelope
			if err := DecodeEnvelope(b, &env); err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := m.Env
			want.Body = must(AppendBody(nil, orEmpty(m.Body)))
			raw := env.Body
			if v.DecodeOnly != "" {
				env.Body = want.Body // the raw body keeps the unknown key
			}
			if !sameValue(&env, &want) {
				t.Fatalf("decode(bytes) envelope = %+v, want %+v", env, want)
			}
			if m.Body == nil {
				return // error response: body {} not decoded
			}
			body := newBody(env.Op, env.IsResponse())
			if err := DecodeBody(env.Op, env.Flags, raw, body); err != nil {
				t.Fatalf("decode body: %v", err)
			}
			if !sameValue(body, m.Body) {
				t.Fatalf("decode(bytes) body = %+v, want %+v", body, m.Body)
			}
		})
	}
}

func orEmpty(body any) any {
	if body == nil {
		return &PingRequest{} // the empty map
	}
	return body
}

// decodeMessage runs the full receive path on one envelope.
func decodeMessage(b []byte) error {
	var env Envelope
	if err := DecodeEnvelope(b, &env); err != nil {
		return err
	}
	return DecodeBody(env.Op, env.Flags, env.Body, newBody(env.Op, env.IsResponse()))
}

// TestVectorsRejects checks that every negative vector of the committed file
// fails with its code.
func TestVectorsRejects(t *testing.T) {
	f := readVectorFile(t)
	if len(f.Rejects) == 0 {
		t.Fatal("no reject vectors")
	}
	for _, v := range f.Rejects {
		t.Run(v.Name, func(t *testing.T) {
			b, err := hex.DecodeString(v.Hex)
			if err != nil {
				t.Fatal(err)
			}
			switch v.Layer {
			case "message":
				err = decodeMessage(b)
			case "frame":
				_, err = ReadFrame(bytes.NewReader(b), nil, 0)
			default:
				t.Fatalf("unknown layer %q", v.Layer)
			}
			if err == nil {
				t.Fatalf("accepted, want code %d", v.Code)
			}
			if got := CodeOf(err); got != v.Code {
				t.Fatalf("code %d (%v), want %d", got, err, v.Code)
			}
		})
	}
}

// writeFuzzCorpus writes the seed corpora of the fuzz targets from the vectors.
func writeFuzzCorpus(t *testing.T) {
	t.Helper()
	f := readVectorFileBytes(t, buildVectorFile(t))
	write := func(target, name string, b []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range f.Messages {
		b, _ := hex.DecodeString(m.Hex)
		write("FuzzDecodeEnvelope", m.Name, b)
		write("FuzzReadFrame", m.Name, slices.Concat(frameOf(b), b))
	}
	for _, r := range f.Rejects {
		b, _ := hex.DecodeString(r.Hex)
		if r.Layer == "message" {
			write("FuzzDecodeEnvelope", "reject_"+r.Name, b)
			write("FuzzReadFrame", "reject_"+r.Name, slices.Concat(frameOf(b), b))
		} else {
			write("FuzzReadFrame", "reject_"+r.Name, b)
		}
	}
	rec := vectorRecord()
	write("FuzzDecodeProviderRecord", "record", must(AppendProviderRecord(nil, &rec)))
	rec.Signers = append(rec.Signers, Signer{Alg: AlgMLDSA87, KeyHash: vid(0xc0)})
	rec.Sigs = append(rec.Sigs, Signature{Alg: AlgMLDSA87, PublicKey: bytes.Repeat([]byte{0xee}, 2592), Sig: bytes.Repeat([]byte{0xff}, 4627)})
	write("FuzzDecodeProviderRecord", "record_dual_sized", must(AppendProviderRecord(nil, &rec)))
	write("FuzzDecodeProviderRecord", "empty_map", []byte{0xa0})
	minimal := ProviderRecord{ProtoVer: ProtoVersion, Key: vid(1), Publisher: vid(2), TS: -1}
	write("FuzzDecodeProviderRecord", "record_minimal", must(AppendProviderRecord(nil, &minimal)))
	write("FuzzDecodeProviderRecord", "record_unknown_key", editTree(t, must(AppendProviderRecord(nil, &minimal)), func(m map[any]any) {
		m[uint64(9)] = []any{"future", uint64(1)}
	}))
	// The records carried by vector messages.
	for _, m := range vectorMessages() {
		switch b := m.Body.(type) {
		case *ProvideRequest:
			write("FuzzDecodeProviderRecord", m.Name, must(AppendProviderRecord(nil, &b.Record)))
		}
	}
}

func readVectorFileBytes(t *testing.T, b []byte) vectorFileJSON {
	t.Helper()
	var f vectorFileJSON
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// --- PROTOCOL.md examples ---

const (
	examplesBegin = "<!-- BEGIN GENERATED EXAMPLES (go test ./wire -run ProtocolExamples -update) -->"
	examplesEnd   = "<!-- END GENERATED EXAMPLES -->"
)

// buildExamples renders the worked examples section of PROTOCOL.md from the
// vectors: every message annotated byte by byte, then the reject table.
func buildExamples(t testing.TB) string {
	var s strings.Builder
	s.WriteString(examplesBegin + "\n\n")
	s.WriteString("Each listing is one envelope, the hex of the vector of the same name in\n" +
		"`testdata/vectors.json`; bytes are on the left, `#` starts an annotation\n" +
		"(`key name = value`). A frame carrying it prefixes the 4-byte length.\n\n")
	for _, m := range vectorMessages() {
		b := mustEnvelope(t, m)
		ann, err := annotate(b)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		fmt.Fprintf(&s, "#### %s\n\n%s (%d bytes).\n\n```text\n%s```\n\n", m.Name, m.Comment, len(b), ann)
	}
	s.WriteString("#### Rejected inputs\n\n" +
		"Layer `message`: the bytes are one envelope given to DecodeEnvelope and then\n" +
		"DecodeBody. Layer `frame`: the bytes are read by ReadFrame.\n\n" +
		"| name | layer | code | input | hex |\n|---|---|---|---|---|\n")
	for _, r := range vectorRejects(t) {
		h := r.Hex
		if len(h) > 48 {
			h = h[:48] + "…"
		}
		fmt.Fprintf(&s, "| %s | %s | %d %s | %s | `%s` |\n", r.Name, r.Layer, r.Code, r.Code, r.Comment, h)
	}
	s.WriteString("\nThe full hex of every rejected input is in `testdata/vectors.json`.\n\n" + examplesEnd)
	return s.String()
}

const protocolPath = "PROTOCOL.md"

func TestProtocolExamplesUpToDate(t *testing.T) {
	doc, err := os.ReadFile(protocolPath)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(doc, []byte(examplesBegin))
	j := bytes.Index(doc, []byte(examplesEnd))
	if i < 0 || j < i {
		t.Fatalf("%s: generated examples markers not found", protocolPath)
	}
	want := buildExamples(t)
	got := string(doc[i : j+len(examplesEnd)])
	if got == want {
		return
	}
	if !updating() {
		t.Fatalf("%s examples are out of date (run go test ./wire -run ProtocolExamples -update)", protocolPath)
	}
	out := slices.Concat(doc[:i], []byte(want), doc[j+len(examplesEnd):])
	if err := os.WriteFile(protocolPath, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestProtocolExamplesMatchVectors parses the listings of PROTOCOL.md back
// to bytes (ignoring annotations) and compares them with vectors.json.
func TestProtocolExamplesMatchVectors(t *testing.T) {
	doc, err := os.ReadFile(protocolPath)
	if err != nil {
		t.Fatal(err)
	}
	f := readVectorFile(t)
	found := 0
	for _, v := range f.Messages {
		if v.DecodeOnly != "" {
			continue
		}
		head := []byte("#### " + v.Name + "\n")
		i := bytes.Index(doc, head)
		if i < 0 {
			t.Errorf("PROTOCOL.md has no example %s", v.Name)
			continue
		}
		rest := doc[i:]
		a := bytes.Index(rest, []byte("```text\n"))
		z := bytes.Index(rest[a+8:], []byte("```"))
		if a < 0 || z < 0 {
			t.Fatalf("example %s: no listing", v.Name)
		}
		var hx strings.Builder
		for _, line := range strings.Split(string(rest[a+8:a+8+z]), "\n") {
			line, _, _ = strings.Cut(line, "#")
			hx.WriteString(strings.Join(strings.Fields(line), ""))
		}
		if hx.String() != v.Hex {
			t.Errorf("example %s: listing %s, vector %s", v.Name, hx.String(), v.Hex)
		}
		found++
	}
	if found == 0 {
		t.Fatal("no examples checked")
	}
}

// annotate renders one envelope as an annotated hex listing.
func annotate(b []byte) (string, error) {
	a := annotator{d: decoder{b: b}}
	if err := a.item("envelope", 0, nil, "envelope"); err != nil {
		return "", err
	}
	if err := a.d.end("envelope"); err != nil {
		return "", err
	}
	return a.out.String(), nil
}

// annotator walks an envelope with the schema's field names. Opcode and
// flags precede the body in canonical key order, so the body's schema is
// known when it is reached.
type annotator struct {
	d    decoder
	out  strings.Builder
	op   Opcode
	resp bool
}

func (a *annotator) line(indent int, raw []byte, comment string) {
	var h strings.Builder
	h.WriteString(strings.Repeat("  ", indent))
	for i, c := range raw {
		if i > 0 {
			h.WriteByte(' ')
		}
		h.WriteString(hex.EncodeToString([]byte{c}))
	}
	if comment == "" {
		a.out.WriteString(h.String() + "\n")
		return
	}
	fmt.Fprintf(&a.out, "%-40s # %s\n", h.String(), comment)
}

// content writes the bytes of a string, 16 to a line.
func (a *annotator) content(indent int, s []byte) {
	for len(s) > 0 {
		n := min(16, len(s))
		a.line(indent, s[:n], "")
		s = s[n:]
	}
}

var schemaNames = map[string][]string{
	"envelope":          {"proto_ver", "opcode", "corr_id", "ts", "hops_seen", "flags", "body", "code", "reason"},
	"node_info":         {"id", "addrs", "asn", "last_seen"},
	"record":            {"proto_ver", "key", "publisher", "addrs", "ttl", "ts", "signers", "sigs"},
	"signature":         {"alg", "pk", "sig"},
	"body:ping:1":       {"self"},
	"body:find_node:0":  {"target"},
	"body:find_node:1":  {"closest"},
	"body:find_value:0": {"key"},
	"body:find_value:1": {"closest", "providers"},
	"body:provide:0":    {"record"},
	"body:provide:1":    {"accepted"},
	"body:store:0":      {"key", "value", "sigs"},
	"body:store:1":      {"accepted"},
}

// field returns the name of key k in a map of context ctx and the context
// of its value.
func field(ctx string, k uint64) (string, string) {
	n := schemaNames[ctx]
	if k >= uint64(len(n)) {
		return "(unknown)", "unknown"
	}
	switch name := n[k]; name {
	case "self":
		return name, "node_info"
	case "closest":
		return name, "[]node_info"
	case "providers":
		return name, "[]record"
	case "record":
		return name, "record"
	case "sigs":
		return name, "[]signature"
	case "signers":
		return name, "[]signer"
	default:
		return name, ctx + "." + name
	}
}

// extra explains a few integer values.
func (a *annotator) extra(ctx string, v uint64) string {
	switch ctx {
	case "envelope.opcode":
		a.op = Opcode(v)
		return " (" + strings.ToUpper(Opcode(v).String()) + ")"
	case "envelope.flags":
		a.resp = Flags(v)&FlagResp != 0
		var f []string
		for _, b := range []struct {
			f Flags
			n string
		}{{FlagReq, "REQ"}, {FlagResp, "RESP"}, {FlagHedge, "HEDGE"}} {
			if Flags(v)&b.f != 0 {
				f = append(f, b.n)
			}
		}
		return " (" + strings.Join(f, "|") + ")"
	case "envelope.code":
		return " (" + Code(v).String() + ")"
	case "signature.alg", "signer.alg":
		switch Alg(v) {
		case AlgEd25519:
			return " (Ed25519)"
		case AlgMLDSA87:
			return " (ML-DSA-87)"
		}
	}
	return ""
}

func (a *annotator) item(ctx string, indent int, key []byte, label string) error {
	start := a.d.off
	m, arg, err := a.d.head(label)
	if err != nil {
		return err
	}
	headRaw := slices.Concat(key, a.d.b[start:a.d.off])
	switch m {
	case majUint:
		a.line(indent, headRaw, label+" = "+strconv.FormatUint(arg, 10)+a.extra(ctx, arg))
	case majNint:
		a.line(indent, headRaw, label+" = "+strconv.FormatInt(^int64(arg), 10))
	case majSimple:
		a.line(indent, headRaw, label+" = "+strconv.FormatBool(arg == simpleTrue))
	case majBytes, majText:
		s := a.d.b[a.d.off : a.d.off+int(arg)]
		a.d.off += int(arg)
		switch {
		case m == majText && len(s) <= 6:
			a.line(indent, slices.Concat(headRaw, s), label+" = "+strconv.Quote(string(s)))
		case m == majText:
			a.line(indent, headRaw, label+" = "+strconv.Quote(string(s)))
			a.content(indent+1, s)
		default:
			a.line(indent, headRaw, fmt.Sprintf("%s: %d bytes", label, len(s)))
			a.content(indent+1, s)
		}
	case majArray:
		a.line(indent, headRaw, fmt.Sprintf("%s: array(%d)", label, arg))
		if ctx == "signer" {
			if err := a.item("signer.alg", indent+1, nil, "alg"); err != nil {
				return err
			}
			return a.item("signer.key_hash", indent+1, nil, "key_hash")
		}
		elem := strings.TrimPrefix(ctx, "[]")
		for i := range int(arg) {
			l := fmt.Sprintf("[%d]", i)
			if _, ok := schemaNames[elem]; ok || elem == "signer" {
				l += " " + elem
			}
			if err := a.item(elem, indent+1, nil, l); err != nil {
				return err
			}
		}
	case majMap:
		if ctx == "envelope.body" {
			dir := "0"
			if a.resp {
				dir = "1"
			}
			ctx = "body:" + a.op.String() + ":" + dir
		}
		a.line(indent, headRaw, fmt.Sprintf("%s: map(%d)", label, arg))
		for range int(arg) {
			ks := a.d.off
			k, err := a.d.uint("key", ^uint64(0))
			if err != nil {
				return err
			}
			name, vctx := field(ctx, k)
			if err := a.item(vctx, indent+1, a.d.b[ks:a.d.off], fmt.Sprintf("%d %s", k, name)); err != nil {
				return err
			}
		}
	}
	return nil
}
