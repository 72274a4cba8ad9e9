#!/usr/bin/env bash
# fetch-asn-db.sh — download the full IP-to-ASN dataset used by kbucket/asndb.
#
# Usage: scripts/fetch-asn-db.sh [DEST_DIR] [VERSION]
#   DEST_DIR  where asn-ipv4.csv and asn-ipv6.csv are written (default ./var/asn)
#   VERSION   npm version or dist-tag of @ip-location-db/asn (default latest)
#
# The data comes from the npm package @ip-location-db/asn (RouteViews, the RIRs'
# data via NRO, and DB-IP; all CC BY 4.0: the package's licence files, README
# and MODIFICATIONS note are copied beside the CSVs for attribution). It is
# fetched with `npm pack` through the npm registry; nothing is installed.
# The files are not committed; kbucket/asndb reads them in its full-data tests
# and benchmarks when SVC_DHT_ASN_DIR points at DEST_DIR.
# Prints the paths of the two CSV files on stdout, one per line.
set -euo pipefail

dest=${1:-./var/asn}
version=${2:-latest}
pkg="@ip-location-db/asn@${version}"

command -v npm >/dev/null 2>&1 || { echo "fetch-asn-db: npm not found in PATH" >&2; exit 1; }
command -v tar >/dev/null 2>&1 || { echo "fetch-asn-db: tar not found in PATH" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fetch-asn-db.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

echo "fetch-asn-db: packing ${pkg}" >&2
if ! (cd "$tmp" && npm pack --loglevel=error "$pkg" >"$tmp/pack.out"); then
	echo "fetch-asn-db: npm pack ${pkg} failed" >&2
	exit 1
fi
tarball=$(tail -n 1 "$tmp/pack.out")
if [[ -z "$tarball" || ! -f "$tmp/$tarball" ]]; then
	echo "fetch-asn-db: npm pack produced no tarball for ${pkg}" >&2
	exit 1
fi

mkdir -p "$tmp/x"
tar -xzf "$tmp/$tarball" -C "$tmp/x"

mkdir -p "$dest"
for f in asn-ipv4.csv asn-ipv6.csv; do
	if [[ ! -s "$tmp/x/package/$f" ]]; then
		echo "fetch-asn-db: $f missing or empty in $tarball" >&2
		exit 1
	fi
	# Write via a temp name in DEST, then rename, so a failed run never
	# leaves a truncated file behind.
	cp -- "$tmp/x/package/$f" "$dest/.$f.tmp"
	mv -f -- "$dest/.$f.tmp" "$dest/$f"
done
# Keep the licence, modification note, README and package metadata next to
# the data for attribution.
for f in "$tmp"/x/package/*LICENSE* "$tmp/x/package/MODIFICATIONS" \
	"$tmp/x/package/README.md" "$tmp/x/package/package.json"; do
	if [[ -f "$f" ]]; then
		cp -- "$f" "$dest/"
	fi
done

echo "fetch-asn-db: $(wc -l <"$dest/asn-ipv4.csv") IPv4 and $(wc -l <"$dest/asn-ipv6.csv") IPv6 ranges from ${tarball}" >&2
realpath -- "$dest/asn-ipv4.csv"
realpath -- "$dest/asn-ipv6.csv"
