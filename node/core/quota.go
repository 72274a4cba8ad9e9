package core

import (
	"fmt"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// rate is a GCRA (generic cell rate algorithm) limit: one int64 of state
// (the theoretical arrival time) per limited subject.
type rate struct {
	interval  int64 // ns between requests at the sustained rate
	tolerance int64 // how far ahead of now the arrival time may run (burst)
}

func newRate(rps float64, burst int) rate {
	if rps <= 0 {
		return rate{}
	}
	iv := int64(1e9 / rps)
	if iv < 1 {
		iv = 1
	}
	if burst < 1 {
		burst = 1
	}
	return rate{interval: iv, tolerance: iv * int64(burst-1)}
}

func (r rate) on() bool { return r.interval > 0 }

// ok reports whether a request at now conforms, given the arrival time tat.
func (r rate) ok(tat, now int64) bool { return max(tat, now)-r.tolerance <= now }

// take advances tat for a conforming request at now.
func (r rate) take(tat, now int64) int64 { return max(tat, now) + r.interval }

// limiter applies the global and per-peer request rates of SPEC §7.
type limiter struct {
	global    rate
	globalTAT int64
	peer      rate
	tats      map[kbucket.ID]int64
	maxPeers  int
}

func newLimiter(cfg *Config) limiter {
	burst := cfg.MaxBurst
	if burst == 0 {
		burst = int(2 * cfg.MaxRPS)
	}
	l := limiter{global: newRate(cfg.MaxRPS, burst), peer: newRate(cfg.PeerRPS, cfg.PeerBurst), maxPeers: cfg.MaxTrackedPeers}
	if l.peer.on() {
		l.tats = make(map[kbucket.ID]int64)
	}
	return l
}

// admit decides whether a request from id at now may be served: CodeOK, or
// CodeQuotaExceeded with the reason.
func (l *limiter) admit(id kbucket.ID, now int64) (wire.Code, string) {
	var tat int64
	if l.peer.on() {
		var known bool
		tat, known = l.tats[id]
		if !known && len(l.tats) >= l.maxPeers {
			l.sweep(now)
			if len(l.tats) >= l.maxPeers {
				return wire.CodeQuotaExceeded, fmt.Sprintf("quota: %d peers already rate-tracked", l.maxPeers)
			}
		}
		if !l.peer.ok(tat, now) {
			return wire.CodeQuotaExceeded, "quota: peer request rate"
		}
	}
	if l.global.on() {
		if !l.global.ok(l.globalTAT, now) {
			return wire.CodeQuotaExceeded, "quota: global request rate"
		}
		l.globalTAT = l.global.take(l.globalTAT, now)
	}
	if l.peer.on() {
		l.tats[id] = l.peer.take(tat, now)
	}
	return wire.CodeOK, ""
}

// sweep forgets peers whose allowance is full again (their state equals a
// fresh entry's). The result does not depend on map iteration order.
func (l *limiter) sweep(now int64) {
	for id, tat := range l.tats {
		if tat <= now {
			delete(l.tats, id)
		}
	}
}
