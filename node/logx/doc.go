// Package logx builds the node's structured logger: log/slog writing one
// JSON object (or logfmt-style text line) per event, with the field names
// of SPEC §9 — ts, level, service, event, corr_id, op, peer_id, asn,
// reason, latency_ms, hops — and a guarantee that key material and record
// payloads never reach the output.
//
// New renames slog's "time" to "ts" (UTC) and "msg" to "event", writes the
// level in lower case and adds service="svc-dht" to every line. The
// message of a log call is the event name ("lookup_done",
// "seed_dial_failed", ...); the helpers CorrID, Op, PeerID, ASN, Reason,
// Err, Latency and Hops build the other fields with their agreed names and
// types.
//
// # Redaction
//
// Every attribute goes through a ReplaceAttr hook after slog has resolved
// LogValuer values (so *identity.Identity logs its NodeID only). The hook
// redacts any value whose type can hold key material or a payload: every
// byte slice or byte array (ed25519.PrivateKey and PublicKey, seeds,
// cbor.RawMessage bodies, signatures), and every struct, pointer, slice or
// map whose type reaches one of those or an interface other than error (so
// identity.Identity by value, wire.Signature, wire.Envelope,
// wire.StoreRequest and map[string]any are redacted). A wire.ProviderRecord
// (or a pointer to one) is replaced by a summary of its public fields —
// content key, publisher, ttl, ts and signer count — never its addresses or
// signatures. kbucket.ID values are rendered as "b3:<hex>" and net.IP
// values are kept, since both are public. Errors are logged by their
// message.
//
// The guarantee is by type: a string that a caller built from key bytes
// (for example with hex.EncodeToString) cannot be told apart from other
// text and is logged as given; log IDs and sizes, never encodings of keys.
package logx
