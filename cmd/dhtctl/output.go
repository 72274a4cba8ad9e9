package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/svc-dht/svc-dht/node/api"
)

// ms renders a duration as fractional milliseconds ("1.5 ms").
func ms(m api.Millis) string {
	b, _ := m.MarshalJSON()
	return string(b) + " ms"
}

// unixTime renders unix seconds in UTC (RFC 3339).
func unixTime(s int64) string { return time.Unix(s, 0).UTC().Format(time.RFC3339) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// table returns a tab-aligned writer on w; flush it when done. A line
// without a tab ends the block of lines whose columns are aligned.
func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// peerLine writes one peer row: id, asn, last seen and addresses.
func peerLine(tw io.Writer, p *api.PeerInfo) {
	asn := "-"
	if p.ASN != 0 {
		asn = fmt.Sprintf("AS%d", p.ASN)
	}
	seen := "-"
	if p.LastSeen != 0 {
		seen = unixTime(p.LastSeen)
	}
	fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.ID, asn, seen, strings.Join(p.Addrs, " "))
}

func printPing(w io.Writer, r *api.PingResult) {
	if r.Self {
		fmt.Fprintf(w, "node %s is up (local node answered)\n", r.Peer)
		return
	}
	at := ""
	if r.Addr != "" {
		at = " at " + r.Addr
	}
	fmt.Fprintf(w, "pong from %s%s: rtt %s\n", r.Peer, at, ms(r.RTT))
}

func printClosest(w io.Writer, r *api.ClosestResult) {
	tw := table(w)
	fmt.Fprintf(tw, "target\t%s\nhops\t%d\nlatency\t%s\n", r.Target, r.Hops, ms(r.Latency))
	fmt.Fprintf(tw, "peers: %d\n", len(r.Peers))
	for i := range r.Peers {
		peerLine(tw, &r.Peers[i])
	}
	tw.Flush()
}

func printProvide(w io.Writer, r *api.ProvideResult) {
	tw := table(w)
	fmt.Fprintf(tw, "key\t%s\nreplicas\t%d\nhops\t%d\nlatency\t%s\ndual-signed\t%s\n",
		r.Key, r.Replicas, r.Hops, ms(r.Latency), yesNo(r.DualSigned))
	tw.Flush()
}

func printProviders(w io.Writer, r *api.ProvidersResult) {
	tw := table(w)
	fmt.Fprintf(tw, "key\t%s\nhops\t%d\nlatency\t%s\n", r.Key, r.Hops, ms(r.Latency))
	fmt.Fprintf(tw, "providers: %d\n", len(r.Providers))
	for _, p := range r.Providers {
		fmt.Fprintf(tw, "  %s\tttl %v\tsigned %s\t%s\t%s\n", p.Publisher, time.Duration(p.TTL)*time.Second,
			unixTime(p.TS), strings.Join(p.Algs, "+"), strings.Join(p.Addrs, " "))
	}
	tw.Flush()
}

func printPeers(w io.Writer, r *api.PeersResult) {
	tw := table(w)
	fmt.Fprintf(tw, "self\t%s\nk\t%d\nsize\t%d\nbuckets\t%d\n", r.Self, r.K, r.Size, len(r.Buckets))
	for i := range r.Buckets {
		b := &r.Buckets[i]
		fmt.Fprintf(tw, "bucket %d: %d peers, %d replacements, ASN entropy %.2f bits, top ASN %.1f%%\n",
			b.Index, b.Size, b.Replacements, b.ASNEntropyBits, b.ASNMaxPct)
		for j := range b.Peers {
			peerLine(tw, &b.Peers[j])
		}
	}
	tw.Flush()
}

func printStats(w io.Writer, r *api.StatsResult) {
	tw := table(w)
	ready := yesNo(r.Ready)
	if len(r.Missing) > 0 {
		ready += " (missing: " + strings.Join(r.Missing, ", ") + ")"
	}
	fmt.Fprintf(tw, "self\t%s\nready\t%s\nuptime\t%v\ntable size\t%d\n", r.Self, ready,
		time.Duration(r.UptimeSecs)*time.Second, r.TableSize)
	fmt.Fprintf(tw, "store\t%d records, %d keys, %d own\n", r.Store.Records, r.Store.Keys, r.Store.Own)
	for _, n := range slices.Sorted(maps.Keys(r.Counters)) {
		fmt.Fprintf(tw, "%s\t%d\n", n, r.Counters[n])
	}
	tw.Flush()
}
