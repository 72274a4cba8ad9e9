// Package asndb maps IP addresses to Autonomous System Numbers from public
// IP-to-ASN range tables.
//
// The routing table uses the ASN of a peer's observed address to keep its
// buckets diverse (anti-eclipse). This package loads the table once at start
// and answers lookups; it implements kbucket.Resolver through
// [DB.LookupASN] without importing kbucket.
//
// # Input formats
//
//   - [FormatCSV]: "start_ip,end_ip,asn[,org]" as shipped by the npm package
//     @ip-location-db/asn (files asn-ipv4.csv and asn-ipv6.csv). The files have
//     no header line; organisation names that contain commas or quotes are
//     quoted RFC 4180 style ("Cloudflare, Inc.", "LLC ""SPUTNIK""").
//   - [FormatTSV]: the iptoasn layout
//     "range_start\trange_end\tAS_number\tcountry_code\tAS_description".
//
// [FormatAuto] (the default) picks the format of each source from its first
// data line: a tab means TSV, otherwise CSV. Input may be gzip-compressed
// (detected by its magic bytes). Blank lines and lines starting with '#' are
// ignored, and so is a header line: the first data line is taken as a header
// when its first field contains neither '.' nor ':' (no IP address can).
// Fields may be surrounded by spaces. Ranges are inclusive. Columns after the
// ASN are only read when [Options.Orgs] is set.
//
// ASN 0 means "not routed" (RFC 7607; iptoasn writes such ranges with the
// description "Not routed"): those lines are skipped and counted in
// [Stats.Skipped]. Every other malformed line stops the load with a
// [*ParseError] that names the source and the line, for example
//
//	asndb: asn-ipv4.csv: line 1234: start 1.2.3.4 > end 1.2.3.0
//
// A start address after its end, a start and end of different address
// families, an address with a zone, a missing field and an ASN that is not a
// decimal number in 0..4294967295 are all rejected.
//
// # Overlaps and order
//
// Input need not be sorted. Ranges are sorted by start address; where ranges
// overlap (the real @ip-location-db IPv4 file has one such pair) the most
// specific range wins for each address: the narrowest range containing it,
// and between ranges of equal width the lowest ASN. The result depends only on
// the set of input ranges, never on their order, and resembles longest-prefix
// matching in routing. Adjacent ranges with the same ASN are merged.
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are treated as IPv4, both in the
// input and in lookups. IPv6 zones are ignored in lookups.
//
// # Storage
//
// A [DB] keeps its ranges in flat, pointer-free arrays: IPv4 as parallel
// []uint32 start, end and ASN slices (12 bytes per range), IPv6 as start and
// end arrays of two uint64 halves plus the ASN slice (36 bytes per range).
// Lookups are a binary search over the start array and do not allocate. IPv4
// tables of 16384 ranges or more also get a 256 KiB index by /16 that narrows
// the search to the ranges starting in the address's /16 (about 3 times
// faster on the full table, where a plain search misses the cache often).
// Organisation names are kept only with [Options.Orgs], once per ASN, in one
// string. A DB is immutable once built and safe for any number of concurrent
// readers; a [Builder] is single-goroutine.
package asndb
