package sim

import (
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/wire"
)

// evKind is the kind of a scheduled event.
type evKind uint8

const (
	evRequest  evKind = iota + 1 // a request reaches its destination
	evResponse                   // a response reaches the caller
	evTimer                      // a core timer fires
	evFunc                       // a scenario callback runs
)

// event is one entry of the scheduler. Events are ordered by (at, seq):
// seq increases with every schedule call, so ties break in scheduling order
// and a run is a pure function of the seed.
type event struct {
	at   int64 // virtual ns since the epoch
	seq  uint64
	id   uint64 // probe ID (request/response) or timer ID
	msg  *message
	fn   func()
	node int32  // destination node index
	from int32  // sending node index (request/response)
	inc  uint32 // destination incarnation; a mismatch drops the event
	kind evKind
}

// message carries one RPC through the simulated network: the request on
// the way out, the response (filled by the callee's core in place) on the
// way back. Messages are recycled.
type message struct {
	req     core.Request
	resp    core.Response
	fromInc uint32 // the caller's incarnation when it sent
	// Encode-on-the-wire mode: the frame bytes, the request envelope, and
	// the response as decoded from bytes (what the caller receives).
	buf []byte
	env wire.Envelope
	dec core.Response
}

// eventHeap is a binary min-heap of events by (at, seq), written out by
// hand so that pushing does not box events into interfaces.
type eventHeap []event

func (h eventHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *eventHeap) pop() event {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = event{}
	s = s[:last]
	*h = s
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	return top
}
