package config

// Change is one key whose value differs between the running configuration
// and the reloaded sources.
type Change struct {
	Key     string
	Old     string // running value, text form
	New     string // value in the reloaded sources, text form
	Restart bool   // not reloadable: the key keeps Old until the next restart
}

// Reload re-reads src for a running node whose configuration is old (on
// SIGHUP). The sources are evaluated under the running profile, since the
// profile itself needs a restart. If they are invalid, Reload returns nil,
// nil and the *ValidationError: the caller keeps old and warns. Otherwise
// it returns the configuration to run with — old with every changed
// reloadable key (Key.Reloadable) taking its new value — and the changes
// in key order. A changed key that is not reloadable is not applied: it is
// reported with Restart set and keeps its old value (the reload itself is
// not refused). old is not modified.
func Reload(old *Config, src Sources) (*Config, []Change, error) {
	next, err := load(src, old.Profile)
	if err != nil {
		return nil, nil, err
	}
	out := old.Clone()
	var changes []Change
	for i := range table {
		k := &table[i]
		was, now := k.text(old), k.text(next)
		if was == now {
			continue
		}
		changes = append(changes, Change{Key: k.Name, Old: was, New: now, Restart: !k.Reloadable})
		if k.Reloadable {
			k.value(out).Set(k.value(next))
		}
	}
	// A rule may tie a reloadable key to one that keeps its old value
	// (pq.dual_sign needs ml-dsa-87 in pq.algorithms): check the mix.
	var ps problems
	validate(out, &ps, nil, nil)
	for i := range ps {
		ps[i].Source = "after reload, with the keys that need a restart at their running values"
	}
	if err := ps.err(); err != nil {
		return nil, nil, err
	}
	return out, changes, nil
}
