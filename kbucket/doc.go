// Package kbucket is the Kademlia routing table of svc-dht (SPEC §4): node and
// content IDs, the XOR metric, 256 buckets indexed by common-prefix length
// with the local ID, replacement caches, ping-before-evict, closest-k
// selection, and the anti-eclipse diversity rules (per-bucket ASN caps and
// incrementally tracked Shannon entropy of each bucket's ASN mix).
//
// # No I/O inside
//
// A [Table] never sends, sleeps, spawns goroutines or reads the clock. Every
// method that depends on time takes now (unix nanoseconds) from the caller.
// When a full bucket needs its least-recently-seen entry probed before it can
// be evicted, [Table.Seen] returns that entry as [SeenResult.PingCandidate];
// the caller pings it and reports the answer with [Table.PingResult].
//
// # Concurrency
//
// A Table has a single writer: the owner (the node core) is the only
// goroutine that calls its methods. Other goroutines read immutable
// [Snapshot] values that the owner obtains with [Table.Snapshot] and hands
// over (for example through an atomic.Pointer). A Snapshot is rebuilt only
// for the buckets that changed since the previous one and is cached until the
// next mutation.
//
// # Diversity groups
//
// Each peer belongs to a diversity [Group] derived from its observed IP
// address: its ASN when a [Resolver] knows it, otherwise a synthetic group
// for its IPv4 /16 or IPv6 /32 prefix (a separate namespace, so it can never
// collide with a real ASN). Loopback, private (RFC 1918, ULA), link-local and
// CGNAT (100.64.0.0/10) addresses form the exempt group unless
// [Config.ExemptPrivate] is false, in which case they are grouped by prefix
// like any other address.
//
// No non-exempt group may hold more than floor(ASNMaxPct*K) entries of a
// bucket. For each bucket the table keeps per-group counts n_g and the sum
// S = Σ n_g·log2(n_g), so the Shannon entropy of the bucket's mix,
// H = log2(n) - S/n, is updated in O(1) per insert or eviction. S is kept in
// fixed point (the c·log2(c) terms are pre-rounded integers), so the running
// value never drifts from a from-scratch computation. Exempt peers count as
// singleton groups: they add to n but never concentrate the mix. When a slot
// frees up, the replacement that raises the entropy most (the one whose group
// is rarest in the bucket) is promoted; when the replacement cache overflows,
// the candidate that would raise it least is dropped.
//
// # Closest-k
//
// The entries of bucket i all share the same XOR-distance prefix to any
// target, so the buckets themselves are totally ordered by distance to the
// target: bucket i precedes every deeper bucket exactly when the target
// differs from the local ID at bit i. [Table.Closest] walks the non-empty
// buckets in that order and sorts only the entries of the buckets it takes
// (at most K per bucket), stopping as soon as n peers are collected. This is
// partial selection without a full sort and without allocation when dst has
// room.
package kbucket
