// Package kad runs go-libp2p-kad-dht through the comparison: a FIND_NODE
// server in DHT server mode over QUIC, a load generator that sends raw kad
// FIND_NODE messages on reused streams from several client hosts, and an
// in-process swarm on loopback.
//
// Every host is built loopback-only: QUIC on 127.0.0.1 as the only transport,
// relay off, reachability forced (no AutoNAT probing), no NAT port mapping,
// no mDNS, a private DHT protocol prefix, no default bootstrap peers, and a
// connection gater that refuses any dial to or connection from a non-loopback
// address.
package kad
