// Package wire is svc-dht's wire protocol, proto_ver 1: the message types,
// their CBOR codec, framing, buffer pools and the closed error set. Its
// normative description, field by field with hex examples, is PROTOCOL.md in
// this directory; testdata/vectors.json holds the byte-exact test vectors.
//
// # Codec
//
// Messages are CBOR maps with small unsigned-integer keys in Core
// Deterministic Encoding. The codec in this package is specialised: it
// appends encodings without reflection (AppendEnvelope, AppendBody,
// AppendFrame, AppendProviderRecord) and decodes with a strict cursor
// (DecodeEnvelope, DecodeBody, DecodeProviderRecord) that accepts only the
// protocol's CBOR profile. Property tests and the fuzz targets check, on
// random and mutated inputs, that its output is byte-identical to
// github.com/fxamacker/cbor/v2 in Core Deterministic mode and that its
// decoder accepts and rejects exactly what a reference decoder built on
// fxamacker does; fxamacker is that reference, it is not used at run time.
//
// Decoding is strict: wrong CBOR types, wrong-length IDs and keys (a 31- or
// 33-byte ID is rejected, never padded or cut), missing required fields,
// trailing bytes, non-shortest or indefinite-length encodings, tags, floats
// and out-of-range values are CodeMalformed; a proto_ver other than 1 is
// CodeBadVersion; input over FrameMax is CodeFrameTooLarge. Unknown map keys
// are skipped. Containers are limited in depth (MaxNesting) and size
// (MaxItems and the per-field limits), so hostile input cannot make the
// decoder allocate much.
//
// The hot path (decode a FIND_NODE request, encode a 20-node response into a
// pooled buffer) does not allocate.
//
// # Framing and buffers
//
// A frame is a 4-byte big-endian length and one envelope. ReadFrame checks
// the length against the cap before it allocates anything; WriteFrame hands
// large frames to the stream in chunk_size pieces. Pools keeps frame-sized
// and chunk-sized buffers for reuse and lets oversize ones go.
//
// # Errors
//
// Every protocol and transport failure is an *Error: either one of the wire
// codes (Code) or one of the local-only errors (ErrHopExceeded,
// ErrNoBootstrap, ErrTransportDown). Use errors.Is with the Err* sentinels,
// CodeOf to pick the code to send, and ErrorFromCode (or Envelope.Err) to
// turn a received code back into an error.
package wire
