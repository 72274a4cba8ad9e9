// Package core is the protocol core of an svc-dht node as a state machine
// without I/O (SPEC §5-7, DESIGN "The core is a state machine without I/O").
//
// A [Core] takes events, each with the current time — an inbound request
// ([Core.HandleRequest]), a probe's answer or failure ([Core.HandleResponse],
// [Core.HandleFailure]), a timer firing ([Core.HandleTimer]), or a call to
// start an operation ([Core.FindNode], [Core.FindValue], [Core.Provide],
// [Core.Ping], [Core.Bootstrap]) — and returns [Action] values: send this
// request to that peer under a probe id, cancel a probe, arm a timer, an
// operation finished. It never sleeps, spawns goroutines, reads the clock,
// touches sockets or uses the global random generator. The same core is
// driven by the real QUIC runtime and by the simulator (node/sim).
//
// # The caller's side of the contract
//
//   - The runtime decodes envelopes into [Request] and [Response] values and
//     encodes the [Response] that HandleRequest fills; the core never sees
//     bytes. HandleRequest answers synchronously by filling the caller's
//     Response (reusing its slices' capacity), so the inbound hot path
//     (quota → routing-table update → closest-k → reply body) does not
//     allocate.
//   - AppendRequest/DecodeRequest and AppendResponse/DecodeResponse convert
//     between these values and wire envelopes for runtimes that move bytes.
//   - Returned action slices belong to the core and are valid until the
//     next call; the caller carries them out in order.
//   - Each ActSend is answered by exactly one HandleResponse or
//     HandleFailure, or by nothing at all once the probe was cancelled or
//     timed out (the core enforces RPCTimeout itself with a timer and emits
//     ActCancel then). Late answers are ignored.
//   - Timers are identified by [TimerID]; the core tolerates early, late and
//     duplicate firings, so a runtime need not cancel superseded timers.
//
// # Lookups (SPEC §5)
//
// A lookup keeps a candidate list ordered by XOR distance to the target,
// seeded with the K closest peers of the routing table (and, for
// [Core.Bootstrap], the seeds). It keeps Alpha probe groups in flight, each
// sent to the closest unqueried candidate among the K closest candidates in
// play (not failed or cancelled). A probe silent for HedgeAfter gets up to
// Beta hedged probes (HEDGE flag) to the next-best unqueried candidates
// (probes silent for HedgeAfter do not count towards the K closest here:
// a hedge stands in for them, so it may go one place further out for
// each); the probe and its hedges form a group that occupies one of the Alpha
// slots, and when one member answers the others are cancelled (an ActCancel
// each, counted in Stats.HedgesCanceled). Each probe fails after RPCTimeout;
// failed peers are reported to the routing table (kbucket.Table.Failed) and
// skipped. Answers with a non-OK code mark the candidate failed for this
// lookup only (the peer is alive).
//
// The final round (Kademlia's "if a round of FIND_NODEs fails to return a
// node any closer than the closest already seen, the initiator resends the
// FIND_NODE to all of the k closest nodes it has not already queried"), in
// the core's asynchronous form: the lookup has converged after an OK answer
// when the closest candidate in play is the same before and after the
// answer's contacts are added, and that candidate has answered itself (the
// answer brought nothing closer than the closest seen, and the closest seen
// knows nothing closer either; an answer from a farther node while the
// closest is still silent does not count). From then on the lookup keeps up
// to K probe groups in flight instead of Alpha, so every unqueried member
// of the K closest is asked at once rather than Alpha at a time, which
// saves the several round trips a converged lookup would otherwise spend
// draining the K closest. The final round lasts to the end: a closer node
// learned during it is among the K closest, which the lookup has to ask
// anyway, and is asked at once instead of waiting for the round to drain.
// Hedging, RPCTimeout and LookupMaxRPCs apply as before; the same rule
// holds for FIND_VALUE and the lookup phase of PROVIDE.
//
// Termination: the lookup ends when the K closest candidates in play have
// all answered, or when no probe is in flight and no candidate within the
// hop budget is left to ask among the K closest. A primary probe silent for
// HedgeAfter whose hedge finds no unasked candidate to go to (all those it
// could stand in with were asked already, typically because closer nodes
// learned in the final round displaced answered ones) is superseded: it no
// longer holds the lookup up once a full K of other candidates in play have
// answered, as if its hedge had gone to one of them and won (it is then
// cancelled). Without this, such a lookup would wait RPCTimeout for a dead
// peer. Because only candidates
// among the current K closest are ever asked, "a round brings nothing
// closer" (SPEC §5) needs no separate stopping rule: a round that brings
// nothing closer adds nothing askable and starts the final round, and the
// lookup ends as soon as the members of the K closest have answered. A
// FIND_VALUE ends early once ProviderEnough distinct valid provider records
// are found (the records are verified with the RecordVerifier), outstanding
// probes are then cancelled. LookupMaxRPCs bounds the probes of one lookup,
// so a lookup always ends within a bounded number of RPCTimeouts.
//
// # Hops and the hop budget
//
// Every candidate carries the depth of its discovery chain: peers from the
// local routing table (and seeds) have depth 1; a peer first learned from
// the answer of a depth-d responder has depth d+1 (if it is learned again
// through a shorter chain before it is asked, it takes the smaller depth).
// Asking a candidate of depth d is the d-th hop of the chain from the local
// table. Candidates deeper than HopBudget are never asked.
//
// The hop count of a lookup ([Result.Hops]) is the length of the discovery
// chain from the local table to the node that returned the answer:
//   - FIND_VALUE with providers: the depth of the first responder that
//     returned a valid record (0 when the local store answered);
//   - FIND_NODE, and the lookup phase of PROVIDE: the depth of the closest
//     node that answered (the closest node found, which confirmed itself).
//
// When the closest candidate in play was never asked because it lies beyond
// the budget, the result carries wire.ErrHopExceeded (with the answered
// nodes still listed in Result.Closest).
//
// # Providers (SPEC §6)
//
// [Core.Provide] signs a record with the RecordSigner, runs a FIND_NODE
// lookup for the key and sends PROVIDE to the K closest nodes that
// answered; Result.Replicas counts the ones that accepted. Own records are
// republished every ProviderRefresh (re-signed with a fresh ts).
// [Core.ProvideWithTTL] gives a record a ttl of its own, which its
// republications keep (they come every ttl/2 when the ttl is not longer
// than ProviderRefresh). [Core.SetTunables] changes the lookup knobs,
// provider lifetimes and store bounds of a running core (configuration
// reload); [Core.ProviderRecords] and [Core.ImportProvider] save and
// restore the provider store (snapshots).
//
// Inbound PROVIDE records are stored with bounds per key, per publisher and
// in total; over a bound the answer is 1429 QuotaExceeded, decided before
// the record is verified (quotas before heavy work). Records within the
// bounds are verified (RecordVerifier; its error's wire code is the answer:
// 1440, 1441, 1413, 1422) and then stored.
// The store is idempotent per (key, publisher): a repeat that is not older
// replaces the record (extending its expiry); an older replay changes
// nothing. Expired records are dropped by a sweep every SweepInterval and
// are never served.
//
// STORE is feature-gated (Config.EnableStore). When off it is answered with
// 1404 NotFound ("the operation does not exist here") rather than 1422,
// since the request itself is well formed. When on, values are content
// addressed (key = BLAKE3-256(value)) and bounded in size (1413) and total
// bytes (1429).
//
// # Routing-table maintenance and quotas
//
// Every successful exchange — an inbound request that passed the quotas, an
// answer to a probe — is reported to the table (kbucket.Table.Seen). When a
// full bucket asks for ping-before-evict, the core sends a PING to the
// least-recently-seen entry and reports the outcome with PingResult —
// unless that entry was heard from within EvictPingMinAge: then it is known
// alive and stays without a probe (this stops ping cascades, where each
// eviction ping, itself an inbound request from a possibly unknown peer,
// would trigger another one).
//
// Bucket refresh (SPEC §4): buckets not used for BucketRefreshInterval that
// can be populated at the estimated network size are refreshed by a
// FIND_NODE of a random ID in their range. A bucket is used by a lookup
// whose target lies in its range and, when the bucket is full, by any
// successful exchange with one of its entries (kbucket.Table.NoteExchange):
// a full bucket has no room to fill, so in a busy network its refreshes
// become rare. Its entries are checked one by one instead: besides
// ping-before-evict, each refresh check PINGs the least-recently-seen
// entry of full buckets when it has been silent for the interval (an
// answer refreshes it, FailThreshold failures evict it). A bucket with
// room is used only by lookups: its refresh is what finds the peers it
// lacks and probes the entries nobody talks to. Refreshes are spread
// rather than fired in waves: the core checks every
// BucketRefreshInterval/8, starting one interval after Start plus a random
// phase of less than a check period (from Deps.Rand, so deterministic
// under a seed), and each check refreshes only the stalest ceil(P/8) of
// the P populatable buckets (and pings at most as many silent entries),
// which still refreshes every stale bucket within one interval. A
// bootstrap, as soon as its self-lookup ends, refreshes every populatable
// bucket at once: that is how a new node fills its table.
//
// Inbound requests pass a global and a per-peer rate limit (GCRA, one int64
// of state per peer, at most MaxTrackedPeers peers) before any work; over
// them the answer is 1429 QuotaExceeded. Busy (1501) belongs to the
// runtime's bounded work queue, which sits in front of the core. Starting
// more than MaxLookups concurrent operations fails with a 1429 quota error.
package core
