package core

import (
	"fmt"
	"time"

	"github.com/zeebo/blake3"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// storedRecord is a provider record kept by the store with its expiry.
type storedRecord struct {
	rec     wire.ProviderRecord
	expires int64 // unix ns: (ts + ttl) seconds
}

// providerStore keeps provider records bounded per key, per publisher and in
// total. It is idempotent per (key, publisher): a repeat replaces the stored
// record (when not older) and so extends its expiry, never duplicates it.
type providerStore struct {
	byKey     map[kbucket.ID][]storedRecord
	perPub    map[kbucket.ID]int
	total     int
	maxPerKey int
	maxPerPub int
	maxTotal  int
}

func newProviderStore(cfg *Config) providerStore {
	return providerStore{
		byKey:     make(map[kbucket.ID][]storedRecord),
		perPub:    make(map[kbucket.ID]int),
		maxPerKey: cfg.StoreMaxPerKey,
		maxPerPub: cfg.StoreMaxPerPublisher,
		maxTotal:  cfg.StoreMaxTotal,
	}
}

func recordExpiry(rec *wire.ProviderRecord) int64 {
	return (rec.TS + int64(rec.TTL)) * int64(time.Second)
}

// admit checks the bounds for rec before it is verified (quotas before
// heavy work): CodeOK when rec would replace a stored record of its
// (key, publisher) or fits every bound, else CodeQuotaExceeded with a
// reason naming the bound. It returns the index of the record rec would
// replace, or -1.
func (s *providerStore) admit(rec *wire.ProviderRecord) (int, wire.Code, string) {
	recs := s.byKey[kbucket.ID(rec.Key)]
	for i := range recs {
		if recs[i].rec.Publisher == rec.Publisher {
			return i, wire.CodeOK, ""
		}
	}
	switch {
	case len(recs) >= s.maxPerKey:
		return -1, wire.CodeQuotaExceeded, fmt.Sprintf("provider store: per-key bound %d reached", s.maxPerKey)
	case s.perPub[kbucket.ID(rec.Publisher)] >= s.maxPerPub:
		return -1, wire.CodeQuotaExceeded, fmt.Sprintf("provider store: per-publisher bound %d reached", s.maxPerPub)
	case s.total >= s.maxTotal:
		return -1, wire.CodeQuotaExceeded, fmt.Sprintf("provider store: total bound %d reached", s.maxTotal)
	}
	return -1, wire.CodeOK, ""
}

// put stores rec (already verified) at now. It returns CodeOK, or
// CodeQuotaExceeded with a reason naming the bound that was hit.
func (s *providerStore) put(rec *wire.ProviderRecord, now int64) (wire.Code, string) {
	i, code, reason := s.admit(rec)
	if code != wire.CodeOK {
		return code, reason
	}
	key := kbucket.ID(rec.Key)
	recs := s.byKey[key]
	if i >= 0 {
		// Idempotent per (key, publisher): a repeat that is not older
		// replaces and extends; an older replay changes nothing.
		if rec.TS >= recs[i].rec.TS || recs[i].expires <= now {
			recs[i] = storedRecord{rec: *rec, expires: recordExpiry(rec)}
		}
		return wire.CodeOK, ""
	}
	pub := kbucket.ID(rec.Publisher)
	s.byKey[key] = append(recs, storedRecord{rec: *rec, expires: recordExpiry(rec)})
	s.perPub[pub]++
	s.total++
	return wire.CodeOK, ""
}

// get appends the unexpired records of key to dst.
func (s *providerStore) get(key kbucket.ID, now int64, dst []wire.ProviderRecord) []wire.ProviderRecord {
	for i := range s.byKey[key] {
		if r := &s.byKey[key][i]; r.expires > now {
			dst = append(dst, r.rec)
		}
	}
	return dst
}

// sweep drops every expired record and returns how many it dropped. The
// outcome does not depend on map iteration order.
func (s *providerStore) sweep(now int64) int {
	dropped := 0
	for key, recs := range s.byKey {
		kept := recs[:0]
		for _, r := range recs {
			if r.expires > now {
				kept = append(kept, r)
				continue
			}
			dropped++
			s.total--
			pub := kbucket.ID(r.rec.Publisher)
			if s.perPub[pub]--; s.perPub[pub] <= 0 {
				delete(s.perPub, pub)
			}
		}
		clear(recs[len(kept):])
		if len(kept) == 0 {
			delete(s.byKey, key)
		} else {
			s.byKey[key] = kept
		}
	}
	return dropped
}

// storedValue is a STORE value with its expiry.
type storedValue struct {
	value   []byte
	expires int64
}

// valueStore is the feature-gated content-addressed STORE: key =
// BLAKE3-256(value), bounded in value size and total bytes.
type valueStore struct {
	m        map[kbucket.ID]storedValue
	bytes    int
	maxValue int
	maxTotal int
	ttl      int64
}

func (v *valueStore) put(key kbucket.ID, value []byte, now int64) (wire.Code, string) {
	switch {
	case len(value) == 0:
		return wire.CodeMalformed, "store: empty value"
	case len(value) > v.maxValue:
		return wire.CodeFrameTooLarge, fmt.Sprintf("store: value of %d bytes over %d", len(value), v.maxValue)
	case blake3.Sum256(value) != key:
		return wire.CodeMalformed, "store: key is not BLAKE3-256(value)"
	}
	if old, ok := v.m[key]; ok {
		old.expires = now + v.ttl
		v.m[key] = old
		return wire.CodeOK, ""
	}
	if v.bytes+len(value) > v.maxTotal {
		return wire.CodeQuotaExceeded, fmt.Sprintf("store: total bound %d bytes reached", v.maxTotal)
	}
	if v.m == nil {
		v.m = make(map[kbucket.ID]storedValue)
	}
	v.m[key] = storedValue{value: append([]byte(nil), value...), expires: now + v.ttl}
	v.bytes += len(value)
	return wire.CodeOK, ""
}

func (v *valueStore) sweep(now int64) {
	for k, sv := range v.m {
		if sv.expires <= now {
			v.bytes -= len(sv.value)
			delete(v.m, k)
		}
	}
}
