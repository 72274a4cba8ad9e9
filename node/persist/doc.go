// Package persist keeps a node's state across restarts — the identity key,
// the routing table and the provider store — or, in amnesia mode, keeps
// nothing at all.
//
// The runtime talks to a Store. Open picks the implementation from the
// configuration: Amnesia when amnesia.enabled is set (it writes nothing,
// anywhere, and loads nothing: the runtime generates the identity in RAM),
// Disk otherwise. A configuration that names data_dir or key_file while
// amnesia is on is refused with the config package's own
// *config.ValidationError (exit code 2).
//
// # Files
//
// Disk keeps three files:
//
//	<key_file>                 identity key, default <data_dir>/node.key, mode 0600
//	<data_dir>/table.snap      routing-table snapshot, mode 0600
//	<data_dir>/providers.snap  provider-store snapshot, mode 0600
//
// Directories it creates get mode 0700. Snapshots are 0600 rather than 0640:
// the routing table and the provider store say who this node talks to, and
// nothing but the daemon needs to read them.
//
// Every file is replaced crash-safely: the new content is written to a
// temporary file in the same directory (".<name>.tmp-<random>"), fsynced,
// renamed over the target and the directory is fsynced. A reader sees the
// old file or the new one, never a mix. Temporary files left behind by a
// crash are never read; NewDisk (and so Open) removes them.
//
// # Snapshot format (version 1)
//
// A snapshot is a 52-byte header followed by the payload:
//
//	offset size
//	0      8    magic: "svcdhtRT" (routing table) or "svcdhtPS" (provider store)
//	8      4    format version, big-endian uint32: 1
//	12     8    payload length in bytes, big-endian uint64
//	20     32   BLAKE3-256 of the payload
//	52     n    payload: one CBOR item (RFC 8949, Core Deterministic Encoding)
//
// A file whose magic, version, length or checksum does not hold, or whose
// payload does not decode, fails to load with a *CorruptError that matches
// ErrCorrupt under errors.Is, and also the sentinel of the detail
// (ErrTruncated, ErrTrailing, ErrChecksum, ErrMagic, ErrVersion, ErrPayload,
// ErrTooLarge). The caller reports it and starts with an empty table or
// store; nothing is ever half-loaded. A missing snapshot is not an error:
// the load returns nothing.
//
// The routing-table payload is an array of peers, each a map
//
//	{0: id (bytes, 32), 1: observed addr (text "ip:port", "" if none),
//	 2: addrs ([]text, quic:// addresses), 3: last_seen (int, unix ns)}
//
// The provider-store payload is an array of complete provider records, each
// exactly its wire form (wire.AppendProviderRecord), signatures included.
// Load checks their structure only (wire.DecodeProviderRecord): the caller
// must verify every loaded record again (identity.Verifier) before serving
// it, as it would a record received from the network — a snapshot is
// checked for accidents, not trusted against tampering, and records expire
// while the node is down.
//
// # Identity key
//
// The key file uses the identity package's text format (ParseKeyFile,
// MarshalKeyFile), whose node-id line is its integrity check. LoadIdentity
// loads it, or generates a new identity from Disk.Rand and saves it when the
// file does not exist. Like ssh, it refuses a key file that group or others
// may read or write. A key file that exists but does not parse is an error,
// not ErrCorrupt: it is never replaced automatically, as that would silently
// change the node's identity.
package persist
