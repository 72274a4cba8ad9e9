package wire

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"
)

// Frame layout: a 4-byte big-endian length n, then n bytes holding one CBOR
// envelope. 1 <= n <= the reader's cap (FrameMax at most).
const frameHeaderLen = 4

// Chunking of large frames: writers hand a frame to the stream in pieces of
// chunk_size bytes, readers grow their buffer by at least DefaultChunkSize as
// bytes arrive.
const (
	DefaultChunkSize = 64 << 10
	MinChunkSize     = 32 << 10
	MaxChunkSize     = 128 << 10
)

// CheckChunkSize validates a configured chunk_size: 0 (meaning
// DefaultChunkSize) or a value in [MinChunkSize, MaxChunkSize].
func CheckChunkSize(n int) error {
	if n != 0 && (n < MinChunkSize || n > MaxChunkSize) {
		return errors.New("wire: chunk_size " + strconv.Itoa(n) + " outside [" +
			strconv.Itoa(MinChunkSize) + ", " + strconv.Itoa(MaxChunkSize) + "]")
	}
	return nil
}

// CheckFrameCap validates a configured frame cap (frame_max): 0 (meaning
// FrameMax) or a value in [1, FrameMax].
func CheckFrameCap(n int) error {
	if n < 0 || n > FrameMax {
		return errors.New("wire: frame_max " + strconv.Itoa(n) + " outside [1, " + strconv.Itoa(FrameMax) + "]")
	}
	return nil
}

// frameCap returns the effective cap for a configured maxLen.
func frameCap(maxLen int) int {
	if maxLen <= 0 || maxLen > FrameMax {
		return FrameMax
	}
	return maxLen
}

// AppendFrame appends a complete frame to dst: the 4-byte length prefix and
// the envelope encoded by AppendEnvelope(env, body). A frame whose envelope
// would exceed FrameMax is refused with CodeFrameTooLarge. On error dst is
// returned unchanged. With enough capacity in dst it does not allocate.
func AppendFrame(dst []byte, env *Envelope, body any) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst, err := AppendEnvelope(dst, env, body)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start - frameHeaderLen
	if n > FrameMax {
		return dst[:start], frameTooLarge(n, FrameMax)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(n))
	return dst, nil
}

// WriteFrame writes frame, a complete frame as built by AppendFrame, to w in
// pieces of at most chunkSize bytes (0 means DefaultChunkSize). It checks
// the chunk size and that the length prefix matches the frame. A failed
// write is reported as ErrTransportDown wrapping the writer's error.
func WriteFrame(w io.Writer, frame []byte, chunkSize int) error {
	if err := CheckChunkSize(chunkSize); err != nil {
		return err
	}
	if chunkSize == 0 {
		chunkSize = DefaultChunkSize
	}
	if len(frame) <= frameHeaderLen {
		return malformed("write frame: no envelope after the length prefix")
	}
	n := len(frame) - frameHeaderLen
	if n > FrameMax {
		return frameTooLarge(n, FrameMax)
	}
	if binary.BigEndian.Uint32(frame) != uint32(n) {
		return malformed("write frame: length prefix does not match the frame")
	}
	for len(frame) > 0 {
		p := frame[:min(chunkSize, len(frame))]
		if _, err := w.Write(p); err != nil {
			return wrapError(0, KindTransportDown, "write frame", err)
		}
		frame = frame[len(p):]
	}
	return nil
}

// ReadFrame reads one frame from r and returns its envelope bytes, stored in
// buf's backing array when it is large enough. The length prefix is checked
// against maxLen (0 or more than FrameMax mean FrameMax) before anything is
// allocated, and a larger buffer is grown chunk by chunk as bytes actually
// arrive, so a length prefix alone cannot make the reader commit memory.
//
// Errors are *Error: CodeFrameTooLarge for a prefix over the cap (nothing
// after the prefix is read; the caller answers 1413 and closes the stream);
// CodeMalformed for a zero length, for a stream that ends before the prefix
// (wrapping io.EOF) or inside the frame (wrapping io.ErrUnexpectedEOF); and
// ErrTransportDown wrapping any other read error. On error the returned
// slice is empty but keeps the (possibly grown) buffer for reuse.
func ReadFrame(r io.Reader, buf []byte, maxLen int) ([]byte, error) {
	var hdr []byte
	if cap(buf) >= frameHeaderLen {
		hdr = buf[:frameHeaderLen]
	} else {
		hdr = make([]byte, frameHeaderLen)
	}
	n, err := readHeader(r, hdr, maxLen)
	if err != nil {
		return buf[:0], err
	}
	return readBody(r, buf[:0], n)
}

// readHeader reads and checks the length prefix into hdr (4 bytes).
func readHeader(r io.Reader, hdr []byte, maxLen int) (int, error) {
	if _, err := io.ReadFull(r, hdr); err != nil {
		switch {
		case errors.Is(err, io.EOF):
			return 0, wrapError(CodeMalformed, "", "read frame: stream ended before a frame", io.EOF)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return 0, wrapError(CodeMalformed, "", "read frame: truncated length prefix", io.ErrUnexpectedEOF)
		}
		return 0, wrapError(0, KindTransportDown, "read frame", err)
	}
	n := binary.BigEndian.Uint32(hdr)
	limit := frameCap(maxLen)
	if n == 0 {
		return 0, malformed("read frame: zero-length frame")
	}
	if uint64(n) > uint64(limit) {
		return 0, frameTooLarge(int(n), limit)
	}
	return int(n), nil
}

// readBody reads n bytes into buf (length 0), growing it as data arrives.
func readBody(r io.Reader, buf []byte, n int) ([]byte, error) {
	if cap(buf) >= n {
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return buf[:0], bodyErr(err)
		}
		return buf, nil
	}
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, max(2*cap(buf), DefaultChunkSize)))
			copy(grown, buf)
			buf = grown
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return buf[:0], bodyErr(err)
		}
	}
	return buf, nil
}

func bodyErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return wrapError(CodeMalformed, "", "read frame: truncated frame", io.ErrUnexpectedEOF)
	}
	return wrapError(0, KindTransportDown, "read frame", err)
}

func frameTooLarge(n, limit int) *Error {
	return &Error{Code: CodeFrameTooLarge, Reason: "frame of " + strconv.Itoa(n) + " bytes exceeds cap " + strconv.Itoa(limit)}
}
