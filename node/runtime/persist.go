package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/logx"
	"github.com/svc-dht/svc-dht/node/persist"
	"github.com/svc-dht/svc-dht/wire"
)

// loadSnapshots restores the routing table and the provider store of a
// node without amnesia. A corrupt snapshot is reported and ignored.
func (n *Node) loadSnapshots(ctx context.Context) error {
	if n.cfg.Amnesia.Enabled {
		return nil
	}
	start := n.now()
	peers, err := n.store.LoadTable()
	if err != nil {
		if !errors.Is(err, persist.ErrCorrupt) {
			return fmt.Errorf("runtime: load routing table: %w", err)
		}
		n.log.Warn("snapshot_corrupt", slog.String("snapshot", persist.TableFile), logx.Err(err))
		peers = nil
	}
	recs, err := n.store.LoadProviders()
	if err != nil {
		if !errors.Is(err, persist.ErrCorrupt) {
			return fmt.Errorf("runtime: load provider store: %w", err)
		}
		n.log.Warn("snapshot_corrupt", slog.String("snapshot", persist.ProvidersFile), logx.Err(err))
		recs = nil
	}
	// Records are verified again, here, off the owner: a snapshot is
	// checked for accidents, not trusted, and records expire meanwhile.
	v := n.verifier.Load().v
	valid := recs[:0]
	now := n.now()
	for i := range recs {
		if _, err := v.Verify(&recs[i], now); err == nil {
			valid = append(valid, recs[i])
		}
	}
	dropped := len(recs) - len(valid)
	done := make(chan int, 1)
	if !n.post(func(now time.Time) {
		for _, p := range peers {
			n.do(n.core.AddPeer(now, p))
		}
		imported := 0
		for i := range valid {
			// Refused: expired meanwhile, or over the store's bounds.
			if n.core.ImportProvider(now, &valid[i]) == nil {
				imported++
			}
		}
		n.publish(now)
		done <- imported
	}) {
		return ErrNotRunning
	}
	var imported int
	select {
	case imported = <-done:
	case <-ctx.Done():
		return fmt.Errorf("runtime: load snapshots: %w", ctx.Err())
	}
	n.log.Info("snapshots_loaded", slog.Int("peers", len(peers)), slog.Int("records", imported),
		slog.Int("records_dropped", dropped+len(valid)-imported), logx.Latency(n.now().Sub(start)))
	return nil
}

// state is what a snapshot save writes.
type state struct {
	peers []kbucket.Peer
	recs  []wire.ProviderRecord
}

// takeState (owner) copies what the snapshots need; the table snapshot is
// immutable and the records are never modified in place.
func (n *Node) takeState(now time.Time) state {
	return state{peers: n.core.Table().Snapshot().Peers(nil), recs: n.core.ProviderRecords(now, nil)}
}

// writeState saves s to the key store.
func (n *Node) writeState(s state) error {
	n.saveMu.Lock() // the last save started is the last to finish
	defer n.saveMu.Unlock()
	var errs []error
	if err := n.store.SaveTable(s.peers); err != nil {
		errs = append(errs, fmt.Errorf("runtime: save routing table: %w", err))
	}
	if err := n.store.SaveProviders(s.recs); err != nil {
		errs = append(errs, fmt.Errorf("runtime: save provider store: %w", err))
	}
	return errors.Join(errs...)
}

// saveAsync (owner) saves the snapshots in the background unless a save is
// already running.
func (n *Node) saveAsync() {
	if !n.saving.CompareAndSwap(false, true) {
		return
	}
	s := n.takeState(n.now())
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.saving.Store(false)
		if err := n.writeState(s); err != nil {
			n.log.Error("snapshot_save_failed", logx.Err(err))
		}
	}()
}

// saveSnapshots saves the snapshots now (at shutdown).
func (n *Node) saveSnapshots() error {
	ch := make(chan state, 1)
	if !n.post(func(now time.Time) { ch <- n.takeState(now) }) {
		return ErrNotRunning
	}
	s := <-ch
	if err := n.writeState(s); err != nil {
		return err
	}
	n.log.Info("snapshots_saved", slog.Int("peers", len(s.peers)), slog.Int("records", len(s.recs)))
	return nil
}
