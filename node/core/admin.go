package core

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// This file holds what the runtime needs around the protocol: provides
// with a ttl of their own, the knobs that change while a core runs
// (configuration reload), and the provider store's export and import for
// snapshots.

// Tunables are the knobs of a core that may change while it runs (a
// configuration reload). Each has the meaning and range of the Config field
// of the same name.
type Tunables struct {
	Alpha                 int
	Beta                  int
	HopBudget             int
	RPCTimeout            time.Duration
	HedgeAfter            time.Duration
	BucketRefreshInterval time.Duration
	ProviderTTL           time.Duration
	ProviderRefresh       time.Duration
	StoreMaxPerKey        int
	StoreMaxPerPublisher  int
	StoreMaxTotal         int
}

// Tunables returns the run-time knobs of c.
func (c Config) Tunables() Tunables {
	return Tunables{
		Alpha: c.Alpha, Beta: c.Beta, HopBudget: c.HopBudget,
		RPCTimeout: c.RPCTimeout, HedgeAfter: c.HedgeAfter,
		BucketRefreshInterval: c.BucketRefreshInterval,
		ProviderTTL:           c.ProviderTTL, ProviderRefresh: c.ProviderRefresh,
		StoreMaxPerKey: c.StoreMaxPerKey, StoreMaxPerPublisher: c.StoreMaxPerPublisher,
		StoreMaxTotal: c.StoreMaxTotal,
	}
}

// WithTunables returns c with the knobs of t.
func (c Config) WithTunables(t Tunables) Config {
	c.Alpha, c.Beta, c.HopBudget = t.Alpha, t.Beta, t.HopBudget
	c.RPCTimeout, c.HedgeAfter = t.RPCTimeout, t.HedgeAfter
	c.BucketRefreshInterval = t.BucketRefreshInterval
	c.ProviderTTL, c.ProviderRefresh = t.ProviderTTL, t.ProviderRefresh
	c.StoreMaxPerKey, c.StoreMaxPerPublisher, c.StoreMaxTotal = t.StoreMaxPerKey, t.StoreMaxPerPublisher, t.StoreMaxTotal
	return c
}

// Tunables returns the core's current run-time knobs.
func (c *Core) Tunables() Tunables { return c.cfg.Tunables() }

// SetTunables changes the run-time knobs at now, after checking them like
// Config.Validate does (an invalid set changes nothing and the error wraps
// ErrConfig). They take effect from the next step of every operation: new
// lookups use them, running ones send their next probes with them, and
// timers already armed keep their deadlines — except that a shorter
// BucketRefreshInterval or ProviderRefresh pulls the next bucket-refresh
// check and the due republications in, which is what the returned actions
// arm. Lower store bounds refuse new records until the store is back under
// them; nothing stored is dropped before it expires.
func (c *Core) SetTunables(now time.Time, t Tunables) ([]Action, error) {
	c.out = c.out[:0]
	next := c.cfg.WithTunables(t)
	if err := next.Validate(); err != nil {
		return c.out, fmt.Errorf("core: set tunables: %w", err)
	}
	c.cfg = next
	c.store.maxPerKey, c.store.maxPerPub, c.store.maxTotal = t.StoreMaxPerKey, t.StoreMaxPerPublisher, t.StoreMaxTotal
	ns := now.UnixNano()
	if c.started {
		if at := ns + refreshPeriod(t.BucketRefreshInterval); at < c.refreshAt {
			c.refreshAt = at
			c.arm(timerRefresh, at)
		}
	}
	pulled := false
	for i := range c.pubs {
		if due := ns + int64(c.refreshFor(c.pubs[i].ttl)); due < c.pubs[i].due {
			c.pubs[i].due, pulled = due, true
		}
	}
	if pulled {
		c.republishAt = 0 // the armed deadline may be later: arm the earliest
		c.armRepublish(ns)
	}
	return c.out, nil
}

// refreshFor is the republish period of a publication with the given ttl
// (0: ProviderTTL): ProviderRefresh, or half the ttl when the ttl is not
// longer than ProviderRefresh, so that a record never expires before it is
// republished.
func (c *Core) refreshFor(ttl time.Duration) time.Duration {
	if ttl == 0 || ttl > c.cfg.ProviderRefresh {
		return c.cfg.ProviderRefresh
	}
	return ttl / 2
}

// MinProviderTTL is the shortest ttl ProvideWithTTL accepts.
const MinProviderTTL = time.Minute

// ProvideWithTTL is Provide with a record lifetime of its own: ttl, whole
// seconds from MinProviderTTL to MaxProviderTTL (0 means ProviderTTL, read
// again at each republication). The republications keep that ttl; they
// come every ProviderRefresh, or every ttl/2 when ttl is not longer than
// ProviderRefresh. Providing a key again replaces its ttl and addresses.
func (c *Core) ProvideWithTTL(now time.Time, key kbucket.ID, addrs []string, ttl time.Duration) (LookupID, []Action, error) {
	c.out = c.out[:0]
	if ttl != 0 && (ttl < MinProviderTTL || ttl > MaxProviderTTL || ttl%time.Second != 0) {
		return 0, c.out, fmt.Errorf("core: provide %s: ttl %v: want whole seconds from %v to %v: %w",
			key.Short(), ttl, MinProviderTTL, MaxProviderTTL, wire.ErrMalformed)
	}
	ns := now.UnixNano()
	rec, err := c.newRecord(key, addrs, ttl, ns)
	if err != nil {
		return 0, c.out, err
	}
	o, err := c.newOp(wire.OpProvide, PurposeUser, key, ns)
	if err != nil {
		return 0, c.out, err
	}
	o.rec = rec
	id := o.id // o is recycled as soon as it finishes
	c.addPublication(key, addrs, ttl, ns)
	c.runLookup(o, nil, ns)
	return id, c.out, nil
}

// Publications is the number of keys this node provides (and republishes).
func (c *Core) Publications() int { return len(c.pubs) }

// StoredKeys is the number of content keys with provider records held for
// other nodes (expired records count until the next expiry sweep, as in
// StoredRecords).
func (c *Core) StoredKeys() int { return len(c.store.byKey) }

// ProviderRecords appends to dst every unexpired provider record the core
// stores for other nodes, ordered by key and then publisher, and returns
// the extended slice (a provider-store snapshot). The records share their
// Addrs, Signers and Sigs with the store: treat them as read-only.
func (c *Core) ProviderRecords(now time.Time, dst []wire.ProviderRecord) []wire.ProviderRecord {
	ns := now.UnixNano()
	start := len(dst)
	for key := range c.store.byKey {
		dst = c.store.get(key, ns, dst)
	}
	slices.SortFunc(dst[start:], func(a, b wire.ProviderRecord) int {
		if d := bytes.Compare(a.Key[:], b.Key[:]); d != 0 {
			return d
		}
		return bytes.Compare(a.Publisher[:], b.Publisher[:])
	})
	return dst
}

// ImportProvider stores rec, a record loaded from a provider-store
// snapshot, as an inbound PROVIDE would: within the store's bounds (1429
// over one) and idempotent per (key, publisher). The caller has verified
// it again (signatures, publisher); the core refuses it when it has
// expired at now or its ttl exceeds MaxProviderTTL (1441). The core keeps
// a copy of rec that shares its slices: the caller must not modify them
// afterwards.
func (c *Core) ImportProvider(now time.Time, rec *wire.ProviderRecord) error {
	if rec == nil {
		return fmt.Errorf("core: import provider record: nil record: %w", wire.ErrMalformed)
	}
	ns := now.UnixNano()
	key := kbucket.ID(rec.Key)
	switch {
	case time.Duration(rec.TTL)*time.Second > MaxProviderTTL:
		return fmt.Errorf("core: import provider record for %s: ttl %ds over %v: %w",
			key.Short(), rec.TTL, MaxProviderTTL, wire.ErrStaleRecord)
	case recordExpiry(rec) <= ns:
		return fmt.Errorf("core: import provider record for %s: expired: %w", key.Short(), wire.ErrStaleRecord)
	}
	if code, reason := c.store.put(rec, ns); code != wire.CodeOK {
		return fmt.Errorf("core: import provider record for %s: %w", key.Short(), wire.NewError(code, reason))
	}
	return nil
}
