package identity

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/svc-dht/svc-dht/kbucket"
)

// Key file format (version 1)
//
// A key file is UTF-8 text, one "name: value" entry per line. Blank lines
// and lines starting with '#' are ignored; CRLF line ends are accepted;
// spaces around names and values are trimmed. Names are case-sensitive and
// each may appear once; an unknown name is an error. Entries:
//
//	version: 1                         required
//	node-id: b3:<64 hex>               required, BLAKE3-256(ed25519 pk)
//	ed25519-seed: <64 hex>             required, RFC 8032 private seed
//	mldsa87-key-hash: b3:<64 hex>      with mldsa87-seed: BLAKE3-256(packed pk)
//	mldsa87-seed: <64 hex>             optional, FIPS 204 key-generation seed ξ
//
// Only the 32-byte seeds are stored; keys are re-derived on load. node-id
// and mldsa87-key-hash are checks: a file whose seeds do not derive them is
// rejected, which catches corruption and hand-editing mistakes. Files are at
// most MaxKeyFileSize bytes. The file holds secrets: the daemon writes it
// with mode 0600 and never in amnesia mode.

// MaxKeyFileSize bounds the size of a key file accepted by ParseKeyFile.
const MaxKeyFileSize = 4096

const keyFileVersion = 1

// MarshalKeyFile encodes the identity's seeds in the key file format. The
// result is secret.
func (id *Identity) MarshalKeyFile() []byte {
	var b bytes.Buffer
	b.WriteString("# svc-dht identity key file. SECRET: keep it mode 0600.\n")
	fmt.Fprintf(&b, "version: %d\n", keyFileVersion)
	fmt.Fprintf(&b, "node-id: %s\n", KeyString(id.id))
	fmt.Fprintf(&b, "ed25519-seed: %s\n", hex.EncodeToString(id.edSeed[:]))
	if id.hasPQ {
		fmt.Fprintf(&b, "mldsa87-key-hash: %s\n", KeyString(id.pqHash))
		fmt.Fprintf(&b, "mldsa87-seed: %s\n", hex.EncodeToString(id.pqSeed[:]))
	}
	return b.Bytes()
}

// ParseKeyFile decodes a key file written by MarshalKeyFile and re-derives
// the keys, checking them against the recorded NodeID and key hash.
func ParseKeyFile(data []byte) (*Identity, error) {
	if len(data) > MaxKeyFileSize {
		return nil, fmt.Errorf("key file: %d bytes, limit %d", len(data), MaxKeyFileSize)
	}
	entries := make(map[string]string, 5)
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("key file: line %d: want \"name: value\"", n+1)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		switch name {
		case "version", "node-id", "ed25519-seed", "mldsa87-key-hash", "mldsa87-seed":
		default:
			return nil, fmt.Errorf("key file: line %d: unknown entry %q", n+1, name)
		}
		if _, dup := entries[name]; dup {
			return nil, fmt.Errorf("key file: line %d: duplicate entry %q", n+1, name)
		}
		entries[name] = value
	}

	v, ok := entries["version"]
	if !ok {
		return nil, errors.New("key file: missing version")
	}
	if ver, err := strconv.Atoi(v); err != nil || ver != keyFileVersion {
		return nil, fmt.Errorf("key file: unsupported version %q, want %d", v, keyFileVersion)
	}
	edSeed, err := seedEntry(entries, "ed25519-seed")
	if err != nil {
		return nil, err
	}
	if edSeed == nil {
		return nil, errors.New("key file: missing ed25519-seed")
	}
	wantID, err := idEntry(entries, "node-id")
	if err != nil {
		return nil, err
	}
	if wantID == nil {
		return nil, errors.New("key file: missing node-id")
	}
	pqSeed, err := seedEntry(entries, "mldsa87-seed")
	if err != nil {
		return nil, err
	}
	wantPQ, err := idEntry(entries, "mldsa87-key-hash")
	if err != nil {
		return nil, err
	}
	if (pqSeed == nil) != (wantPQ == nil) {
		return nil, errors.New("key file: mldsa87-seed and mldsa87-key-hash must appear together")
	}

	id, err := FromSeeds(edSeed, pqSeed)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if id.id != *wantID {
		return nil, fmt.Errorf("key file: ed25519-seed derives node-id %s, file says %s", KeyString(id.id), KeyString(*wantID))
	}
	if wantPQ != nil && id.pqHash != *wantPQ {
		return nil, fmt.Errorf("key file: mldsa87-seed derives key hash %s, file says %s", KeyString(id.pqHash), KeyString(*wantPQ))
	}
	return id, nil
}

// seedEntry decodes a hex seed entry; nil, nil when absent.
func seedEntry(entries map[string]string, name string) ([]byte, error) {
	v, ok := entries[name]
	if !ok {
		return nil, nil
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("key file: %s: %w", name, err)
	}
	if len(b) != SeedSize {
		return nil, fmt.Errorf("key file: %s: %d bytes, want %d", name, len(b), SeedSize)
	}
	return b, nil
}

// idEntry decodes a "b3:<hex>" entry; nil, nil when absent.
func idEntry(entries map[string]string, name string) (*kbucket.ID, error) {
	v, ok := entries[name]
	if !ok {
		return nil, nil
	}
	if !strings.HasPrefix(v, "b3:") {
		return nil, fmt.Errorf("key file: %s: want b3:<64 hex>", name)
	}
	id, err := kbucket.ParseID(v)
	if err != nil {
		return nil, fmt.Errorf("key file: %s: %w", name, err)
	}
	return &id, nil
}
