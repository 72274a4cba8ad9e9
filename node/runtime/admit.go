package runtime

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/svc-dht/svc-dht/kbucket"
)

// gcra is a lock-free GCRA (generic cell rate algorithm) rate limit: one
// int64 of state, the theoretical arrival time, advanced by compare and
// swap. Its rate can change at run time (reload).
type gcra struct {
	interval  atomic.Int64 // ns between requests at the sustained rate; 0: no limit
	tolerance atomic.Int64 // how far ahead of now the arrival time may run (the burst)
	tat       atomic.Int64
}

// set configures rps requests per second with bursts of one second's worth;
// rps <= 0 removes the limit.
func (g *gcra) set(rps int) {
	iv, tol := rateParams(rps)
	g.tolerance.Store(tol)
	g.interval.Store(iv)
}

// rateParams returns the interval and tolerance of rps requests per second
// with a burst of rps.
func rateParams(rps int) (interval, tolerance int64) {
	if rps <= 0 {
		return 0, 0
	}
	iv := max(int64(1e9)/int64(rps), 1)
	return iv, iv * int64(rps-1)
}

// allow reports whether a request at now (unix ns) conforms, and takes its
// slot if it does.
func (g *gcra) allow(now int64) bool {
	iv := g.interval.Load()
	if iv == 0 {
		return true
	}
	tol := g.tolerance.Load()
	for {
		tat := g.tat.Load()
		t := max(tat, now)
		if t-tol > now {
			return false
		}
		if g.tat.CompareAndSwap(tat, t+iv) {
			return true
		}
	}
}

// peerShards is the number of independently locked shards of the per-peer
// limiter: requests of different peers rarely meet on one lock.
const peerShards = 16

// maxTrackedPeers bounds the per-peer limiter's memory: beyond it, a peer
// not tracked yet is refused until a sweep frees room.
const maxTrackedPeers = 4096

// peerLimiter applies limits.peer_rps per peer NodeID: a GCRA state per
// peer, in sharded maps.
type peerLimiter struct {
	interval  atomic.Int64
	tolerance atomic.Int64
	shards    [peerShards]peerShard
}

type peerShard struct {
	mu  sync.Mutex
	tat map[kbucket.ID]int64
	_   [40]byte // keep shards on separate cache lines
}

func (l *peerLimiter) set(rps int) {
	iv, tol := rateParams(rps)
	l.tolerance.Store(tol)
	l.interval.Store(iv)
}

// allow reports whether a request of id at now conforms, and takes its slot
// if it does.
func (l *peerLimiter) allow(id kbucket.ID, now int64) bool {
	iv := l.interval.Load()
	if iv == 0 {
		return true
	}
	tol := l.tolerance.Load()
	s := &l.shards[binary.LittleEndian.Uint32(id[:4])%peerShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tat == nil {
		s.tat = make(map[kbucket.ID]int64)
	}
	tat, known := s.tat[id]
	if !known && len(s.tat) >= maxTrackedPeers/peerShards {
		// Forget the peers whose allowance is full again: their state
		// equals a fresh entry's.
		for k, v := range s.tat {
			if v <= now {
				delete(s.tat, k)
			}
		}
		if len(s.tat) >= maxTrackedPeers/peerShards {
			return false
		}
	}
	t := max(tat, now)
	if t-tol > now {
		return false
	}
	s.tat[id] = t + iv
	return true
}
