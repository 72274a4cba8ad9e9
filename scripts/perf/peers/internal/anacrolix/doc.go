// Package anacrolix runs anacrolix/dht (BitTorrent mainline DHT, KRPC over
// plain UDP) through the comparison: a find_node server with the send rate
// limiter off, a UDP load generator, and an in-process swarm on loopback.
//
// Every server is built loopback-only: its socket is bound to a loopback
// address, its StartingNodes return only loopback seeds (never the default
// global routers such as router.bittorrent.com, which would need DNS), and an
// IP block list drops every packet to or from a non-loopback address.
//
// anacrolix/dht v2.23.0 answers find_node with the nodes closest to the
// query's info_hash field, not its target (server.go, setReturnNodes), so a
// standard find_node is answered for the all-zero ID. Every server here
// installs an OnQuery hook that copies target into info_hash for find_node,
// so answers, lookups and the library's own bootstrap work as BEP 5 intends.
// The hook costs a 20-byte copy per query.
package anacrolix
