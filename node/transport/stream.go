package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unicode/utf8"

	"github.com/quic-go/quic-go"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// Call performs one RPC: it opens a stream on the pooled connection to the
// peer (dialing it if needed), writes req — a complete frame as built by
// wire.AppendFrame — closes its side, and reads the one response frame. It
// returns the response envelope (without the length prefix) appended to
// dst[:0], and the peer it talked to.
//
// addr is "quic://host:port". expect, when not nil, is the NodeID the peer
// must have: an existing connection to that NodeID (inbound ones too) is
// used first, whatever addr says, and a dial that reaches another NodeID
// fails with an error matching ErrIDMismatch. addr may be empty when expect
// is set and a connection to it exists.
//
// A ctx without deadline gets Config.RPCTimeout. When ctx ends (a hedged
// loser is cancelled, or the deadline passes) the stream is reset at once
// and Call returns an error wrapping ctx.Err(). Stream and connection
// failures wrap wire.ErrTransportDown; a reset by the peer that carries a
// wire code (1501 Busy, 1508 Timeout, ...) also matches that code's error.
//
// If a pooled connection turns out to be dead (the peer restarted: its
// stateless reset closes it; or it idled out at that moment), Call drops it
// and tries once more on a fresh connection. Every RPC of the protocol is
// idempotent, so a request that may have reached the old peer can be sent
// again.
func (t *Transport) Call(ctx context.Context, addr string, expect *kbucket.ID, req, dst []byte) ([]byte, PeerInfo, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.cfg.RPCTimeout)
		defer cancel()
	}
	for retried := false; ; retried = true {
		c, fresh, err := t.getConn(ctx, addr, expect)
		if err != nil {
			return dst[:0], PeerInfo{}, err
		}
		resp, err := t.roundTrip(ctx, c, req, dst[:0])
		t.release(c)
		if err == nil {
			return resp, c.peer, nil
		}
		if !retried && !fresh && ctx.Err() == nil && connFailed(err) {
			t.forget(c)
			continue
		}
		if addr == "" {
			addr = Scheme + c.peer.Addr.String()
		}
		return resp, c.peer, fmt.Errorf("transport: call %s: %w", addr, err)
	}
}

// connFailed reports whether err is the failure of the whole connection
// (closed by either side, reset, timed out) rather than of one stream.
func connFailed(err error) bool {
	var (
		sr *quic.StatelessResetError
		it *quic.IdleTimeoutError
		ae *quic.ApplicationError
		te *quic.TransportError
	)
	return errors.As(err, &sr) || errors.As(err, &it) || errors.As(err, &ae) || errors.As(err, &te)
}

// roundTrip runs one RPC on one stream of c.
func (t *Transport) roundTrip(ctx context.Context, c *conn, req, dst []byte) ([]byte, error) {
	s, err := c.qc.OpenStreamSync(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return dst, ctx.Err()
		}
		return dst, fmt.Errorf("open stream: %w: %w", wire.ErrTransportDown, err)
	}
	stop := context.AfterFunc(ctx, func() {
		s.CancelWrite(codeCanceled)
		s.CancelRead(codeCanceled)
	})
	resp, err := t.exchange(s, req, dst)
	if !stop() && err != nil {
		return resp, ctx.Err() // the failure is the cancellation
	}
	if err != nil {
		s.CancelWrite(codeCanceled)
		s.CancelRead(codeCanceled)
	}
	return resp, err
}

// exchange writes the request frame, half-closes, and reads the response
// frame up to the end of the stream.
//
// A callee that refuses the request frame as too large stops the upload
// (STOP_SENDING 1413) and still answers, so that answer is read. Other
// resets by the peer carry a wire code (1501 Busy, 1508 Timeout...) and
// come back as that error, still matching wire.ErrTransportDown.
func (t *Transport) exchange(s *quic.Stream, req, dst []byte) ([]byte, error) {
	if err := wire.WriteFrame(s, req, t.cfg.ChunkSize); err != nil {
		if peerResetCode(err) != wire.CodeFrameTooLarge {
			return dst, fmt.Errorf("write request: %w", withPeerCode(err))
		}
	} else {
		// Close fails only if the peer stopped the upload in the meantime;
		// its answer (or reset) is then what the read below returns.
		_ = s.Close()
	}
	resp, err := wire.ReadFrame(s, dst, t.cfg.FrameMax)
	if err != nil {
		return resp, fmt.Errorf("read response: %w", withPeerCode(err))
	}
	if err := expectEOF(s, resp); err != nil {
		return resp[:0], fmt.Errorf("read response: %w", withPeerCode(err))
	}
	return resp, nil
}

// peerResetCode returns the wire code a peer's stream reset carries, or 0.
func peerResetCode(err error) wire.Code {
	var se *quic.StreamError
	if errors.As(err, &se) && se.Remote {
		if c := wire.Code(se.ErrorCode); se.ErrorCode <= 0xffff && c.Valid() && c != wire.CodeOK {
			return c
		}
	}
	return 0
}

// withPeerCode puts the wire error of a peer's stream reset in front of
// err, so that wire.CodeOf reports the peer's reason.
func withPeerCode(err error) error {
	if c := peerResetCode(err); c != 0 {
		return fmt.Errorf("%w: %w", wire.NewError(c, "stream reset by peer"), err)
	}
	return err
}

// errTrailing reports bytes after the one frame of a stream. It is
// returned wrapped together with wire.ErrMalformed.
var errTrailing = errors.New("bytes after the frame")

// expectEOF checks that the stream ends right after the frame; reading the
// end also completes the stream so that QUIC returns its credit. buf's
// spare capacity, if any, serves as scratch space.
func expectEOF(s *quic.Stream, buf []byte) error {
	var one [1]byte
	p := one[:]
	if cap(buf) > len(buf) {
		p = buf[len(buf) : len(buf)+1]
	}
	for {
		n, err := s.Read(p)
		switch {
		case n > 0:
			return fmt.Errorf("%w: %w", wire.ErrMalformed, errTrailing)
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("%w: %w", wire.ErrTransportDown, err)
		}
	}
}

// serveStream answers one inbound RPC stream.
func (t *Transport) serveStream(c *conn, s *quic.Stream) {
	defer t.wg.Done()
	defer t.endStream()
	answered := false
	defer func() {
		if !answered { // no answer to carry it: give the credit back now
			s.ReleaseStreamCredit()
		}
	}()
	if t.handler == nil {
		t.cfg.Metrics.StreamFailed(StreamRefused)
		s.CancelRead(codeNotReady)
		s.CancelWrite(codeNotReady)
		return
	}
	t.touch(c)
	pools := t.cfg.Pools
	_ = s.SetReadDeadline(time.Now().Add(t.cfg.StreamTimeout))
	reqBuf, err := pools.ReadFrame(s, t.cfg.FrameMax)
	if err == nil {
		if err = expectEOF(s, reqBuf.B); err != nil {
			pools.Put(reqBuf)
		}
	}
	if err != nil {
		t.rejectStream(s, err)
		return
	}
	defer pools.Put(reqBuf)

	respBuf := pools.Get(wire.FrameBufSize)
	defer pools.Put(respBuf)
	ctx := s.Context()
	resp, herr := t.handler(ctx, c.peer, reqBuf.B, respBuf.B[:0])
	if ctx.Err() != nil { // the caller reset the stream: nobody to answer
		t.cfg.Metrics.StreamFailed(StreamCanceled)
		s.CancelWrite(codeCanceled)
		return
	}
	if herr != nil {
		resp = t.errorFrame(respBuf.B[:0], reqBuf.B, herr)
	}
	respBuf.B = resp
	c.returnCredit(s, t.creditLag)
	answered = true
	_ = s.SetWriteDeadline(time.Now().Add(t.cfg.StreamTimeout))
	if err := wire.WriteFrame(s, resp, t.cfg.ChunkSize); err != nil {
		t.cfg.Metrics.StreamFailed(StreamWriteFailed)
		s.CancelWrite(codeMalformed)
		return
	}
	_ = s.Close()
	if t.draining.Load() {
		t.noteAnswered(c)
	}
}

// rejectStream ends a stream whose request frame could not be read. An
// oversize length prefix is answered with a 1413 error envelope on the
// stream; everything else resets it. Only this stream is affected.
func (t *Transport) rejectStream(s *quic.Stream, err error) {
	switch {
	case errors.Is(err, wire.ErrFrameTooLarge):
		t.cfg.Metrics.StreamFailed(StreamOversize)
		s.CancelRead(codeFrameTooLarge) // STOP_SENDING: the peer need not send the rest
		buf := t.cfg.Pools.Get(wire.FrameBufSize)
		buf.B = t.errorFrame(buf.B[:0], nil, err)
		_ = s.SetWriteDeadline(time.Now().Add(t.cfg.StreamTimeout))
		if werr := wire.WriteFrame(s, buf.B, t.cfg.ChunkSize); werr != nil {
			s.CancelWrite(codeFrameTooLarge)
		} else {
			_ = s.Close()
		}
		t.cfg.Pools.Put(buf)
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.cfg.Metrics.StreamFailed(StreamReadTimeout)
		s.CancelRead(codeTimeout)
		s.CancelWrite(codeTimeout)
	case errors.Is(err, errTrailing):
		t.cfg.Metrics.StreamFailed(StreamTrailingData)
		s.CancelRead(codeMalformed)
		s.CancelWrite(codeMalformed)
	default: // ended or reset before a whole frame arrived
		t.cfg.Metrics.StreamFailed(StreamTruncated)
		s.CancelRead(codeMalformed)
		s.CancelWrite(codeMalformed)
	}
}

// errorFrame appends to dst an error response frame for err: its wire code
// (1422 Malformed when err has none) and its text as the reason, answering
// req's opcode and corr_id when req decodes (else PING and corr_id 0, which
// the protocol allows in error responses).
func (t *Transport) errorFrame(dst, req []byte, err error) []byte {
	code := wire.CodeOf(err)
	if code == 0 || code == wire.CodeOK {
		code = wire.CodeMalformed
	}
	var in wire.Envelope
	if req != nil && wire.DecodeEnvelope(req, &in) != nil {
		in = wire.Envelope{}
	}
	env := wire.NewResponse(&in, code, t.cfg.Now().Unix())
	env.Reason = reasonText(err)
	out, ferr := wire.AppendFrame(dst, &env, nil)
	if ferr != nil { // cannot happen: the envelope is valid by construction
		return dst
	}
	return out
}

// reasonText returns the error's text cut to wire.MaxReasonLen bytes at a
// character boundary.
func reasonText(err error) string {
	var we *wire.Error
	s := err.Error()
	if errors.As(err, &we) && we.Reason != "" {
		s = we.Reason
	}
	if len(s) <= wire.MaxReasonLen {
		return s
	}
	n := wire.MaxReasonLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	s = s[:n]
	return s
}
