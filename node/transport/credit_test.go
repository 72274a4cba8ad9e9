package transport

import (
	"testing"

	"github.com/quic-go/quic-go"
)

func TestCreditLagOrder(t *testing.T) {
	var l creditLag
	s := make([]*quic.Stream, 10)
	for i := range s {
		s[i] = new(quic.Stream)
	}
	const lag = 3
	for i := range s {
		got := l.swap(s[i], lag)
		switch {
		case i < lag && got != nil:
			t.Fatalf("swap %d released a stream while filling the lag", i)
		case i >= lag && got != s[i-lag]:
			t.Fatalf("swap %d released the wrong stream (want the one served %d answers earlier)", i, lag)
		}
	}
	if got := l.swap(s[0], 0); got != s[0] {
		t.Fatal("lag 0 must release the stream itself")
	}
	for max, want := range map[int]int{1: 0, 3: 0, 4: 1, 8: 2, 16: creditLagMax, 100: creditLagMax} {
		if got := lagFor(max); got != want {
			t.Errorf("lagFor(%d) = %d, want %d", max, got, want)
		}
	}
}

// TestStreamCreditReturned opens many more streams on one connection than
// the server allows at once, one after the other, through answered,
// malformed and caller-reset streams: if any path kept its credit, the
// client could not open the next stream.
func TestStreamCreditReturned(t *testing.T) {
	for _, maxStreams := range []int{1, 4, 16} {
		b := newNode(t, 2, echo(nil), func(c *Config) { c.MaxStreamsPerConn = maxStreams })
		id := testIdentity(t, 9)
		want := b.ID()
		conf, err := ClientTLSConfig(id, &want)
		if err != nil {
			t.Fatal(err)
		}
		qc, err := rawDial(t, b, conf)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 6 * maxStreams {
			s, err := qc.OpenStreamSync(testCtx(t))
			if err != nil {
				t.Fatalf("max %d: stream %d: %v (credit not returned)", maxStreams, i, err)
			}
			switch i % 3 {
			case 0: // answered
				if _, err := s.Write(pingFrame(t, uint64(i+1))); err != nil {
					t.Fatal(err)
				}
				_ = s.Close()
				if _, err := readAll(t, s); err != nil {
					t.Fatalf("max %d: stream %d: %v", maxStreams, i, err)
				}
			case 1: // malformed: bytes after the frame, reset by the server
				f := append(pingFrame(t, uint64(i+1)), 0)
				if _, err := s.Write(f); err != nil {
					t.Fatal(err)
				}
				_ = s.Close()
				_, _ = readAll(t, s)
			case 2: // the caller gives up half-way
				if _, err := s.Write(pingFrame(t, uint64(i+1))[:3]); err != nil {
					t.Fatal(err)
				}
				s.CancelWrite(1)
				s.CancelRead(1)
			}
		}
		_ = qc.CloseWithError(0, "")
	}
}
