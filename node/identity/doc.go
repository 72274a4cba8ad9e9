// Package identity holds a node's keys and everything that signs or checks
// with them: NodeID and content-key derivation (BLAKE3-256), the Ed25519
// identity key with an optional ML-DSA-87 key for post-quantum dual
// signing, the key file format, signing of provider records, and their
// verification under a Policy (lifetime, clock skew, size, algorithms and
// the post-quantum deadline).
//
// NodeID = BLAKE3-256(Ed25519 public key); content keys are BLAKE3-256
// digests shown to humans as "b3:<64 hex>". The signed message of a record
// is defined in package wire (ProviderRecord.SignedMessage).
//
// Verification is reached through the Verifier interface so that a caller
// may swap in a pooled or caching implementation; RecordVerifier is the
// default one. Rejections carry wire codes: 1440 bad or missing signature,
// 1441 stale, future or over-long record, 1413 record over the size limit,
// 1422 malformed, 1400 unsupported proto_ver. VerifyInfo tells the caller
// which algorithm failed and whether the record was classical-only, for
// the pq_verify_fail_total{alg} and pq_classical_only_total metrics.
package identity
