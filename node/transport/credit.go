package transport

import (
	"sync"

	"github.com/quic-go/quic-go"
)

// creditLagMax is how many served streams a connection holds back before
// returning their credit to the peer.
const creditLagMax = 4

// creditLag returns the stream credit of served RPC streams to the peer a
// few answers late.
//
// quic-go gives the peer a new stream (a MAX_STREAMS frame) the moment one
// of its streams completes, which is when the ACK of our answer arrives;
// nothing else is waiting to be sent then, so the frame costs a packet of
// its own, and the peer's ACK of it another. Holding the credit of the last
// few served streams and releasing the oldest one just before writing the
// next answer queues its MAX_STREAMS frame together with that answer: by
// then the older stream has usually completed, so one packet carries both.
// A stream still in flight when released is given back at completion, as
// without the lag.
//
// The peer's usable streams are reduced by at most lag while it is idle:
// lag is kept at a quarter of MaxStreamsPerConn or less (0 disables it).
type creditLag struct {
	mu   sync.Mutex
	held [creditLagMax]*quic.Stream
	n    int // streams held
	head int // index of the oldest
}

// lagFor is the credit lag used with maxStreams streams per connection.
func lagFor(maxStreams int) int {
	return min(creditLagMax, maxStreams/4)
}

// swap holds s and returns the stream whose credit is due now (nil: none
// yet, or lag 0 and s itself is due).
func (l *creditLag) swap(s *quic.Stream, lag int) *quic.Stream {
	if lag <= 0 {
		return s
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n < lag {
		l.held[(l.head+l.n)%lag] = s
		l.n++
		return nil
	}
	old := l.held[l.head]
	l.held[l.head] = s
	l.head = (l.head + 1) % lag
	return old
}

// returnCredit is called just before s's answer is written: it holds s and
// releases the credit now due (an older stream's, or s's own at lag 0).
func (c *conn) returnCredit(s *quic.Stream, lag int) {
	if due := c.credit.swap(s, lag); due != nil {
		due.ReleaseStreamCredit()
	}
}
