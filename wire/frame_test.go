package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// bigFrame returns a valid frame of roughly n bytes: a STORE request whose
// value fills it.
func bigFrame(t testing.TB, n int) []byte {
	t.Helper()
	env := NewRequest(OpStore, 3, vectorTS)
	value := bytes.Repeat([]byte{0x5a}, n)
	b, err := AppendFrame(nil, &env, &StoreRequest{Key: vid(1), Value: value})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{10, FrameBufSize, DefaultChunkSize + 1, 300 << 10, FrameMax - 100} {
		frame := bigFrame(t, n)
		if got := binary.BigEndian.Uint32(frame); int(got) != len(frame)-4 {
			t.Fatalf("prefix %d, envelope %d bytes", got, len(frame)-4)
		}
		readers := map[string]func() io.Reader{
			"whole":    func() io.Reader { return bytes.NewReader(frame) },
			"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(frame)) },
			"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(frame)) },
		}
		for name, r := range readers {
			if name == "one byte" && n > DefaultChunkSize {
				continue // slow and adds nothing over "half"
			}
			got, err := ReadFrame(r(), nil, 0)
			if err != nil {
				t.Fatalf("%d bytes, %s reader: %v", n, name, err)
			}
			if !bytes.Equal(got, frame[4:]) {
				t.Fatalf("%d bytes, %s reader: payload differs", n, name)
			}
			var p Pools
			b, err := p.ReadFrame(r(), 0)
			if err != nil || !bytes.Equal(b.B, frame[4:]) {
				t.Fatalf("%d bytes, %s reader, Pools.ReadFrame: %v", n, name, err)
			}
			p.Put(b)
		}
		var env Envelope
		if err := DecodeEnvelope(frame[4:], &env); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppendFrameTooLarge(t *testing.T) {
	env := NewRequest(OpStore, 3, vectorTS)
	dst := []byte{7}
	out, err := AppendFrame(dst, &env, &StoreRequest{Value: make([]byte, FrameMax)})
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err %v", err)
	}
	if !bytes.Equal(out, dst) {
		t.Fatalf("dst changed: %d bytes", len(out))
	}
}

func TestReadFrameRejects(t *testing.T) {
	ping := bigFrame(t, 1)
	cases := []struct {
		name    string
		in      []byte
		maxLen  int
		want    error
		wrapped error
		left    int // bytes the reader must not have consumed
	}{
		{"empty stream", nil, 0, ErrMalformed, io.EOF, 0},
		{"short prefix", []byte{0, 0}, 0, ErrMalformed, io.ErrUnexpectedEOF, 0},
		{"zero length", []byte{0, 0, 0, 0, 0xa0}, 0, ErrMalformed, nil, 1},
		{"over FrameMax", append([]byte{0x00, 0x10, 0x00, 0x01}, make([]byte, 16)...), 0, ErrFrameTooLarge, nil, 16},
		{"max prefix", []byte{0xff, 0xff, 0xff, 0xff, 1}, 0, ErrFrameTooLarge, nil, 1},
		{"over a configured cap", ping, len(ping) - 5, ErrFrameTooLarge, nil, len(ping) - 4},
		{"cap above FrameMax is FrameMax", append([]byte{0x00, 0x10, 0x00, 0x01}, 1), FrameMax * 2, ErrFrameTooLarge, nil, 1},
		{"truncated envelope", ping[:len(ping)-1], 0, ErrMalformed, io.ErrUnexpectedEOF, 0},
		{"prefix only", ping[:4], 0, ErrMalformed, io.ErrUnexpectedEOF, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := bytes.NewReader(c.in)
			got, err := ReadFrame(r, make([]byte, 0, 8), c.maxLen)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if c.wrapped != nil && !errors.Is(err, c.wrapped) {
				t.Fatalf("err %v does not wrap %v", err, c.wrapped)
			}
			if len(got) != 0 {
				t.Fatalf("returned %d bytes with an error", len(got))
			}
			if r.Len() != c.left {
				t.Fatalf("reader has %d bytes left, want %d", r.Len(), c.left)
			}
			var p Pools
			if _, err := p.ReadFrame(bytes.NewReader(c.in), c.maxLen); !errors.Is(err, c.want) {
				t.Fatalf("Pools.ReadFrame: err %v, want %v", err, c.want)
			}
		})
	}
}

type failReader struct{ err error }

func (f failReader) Read([]byte) (int, error) { return 0, f.err }

func TestReadFrameTransportErrors(t *testing.T) {
	boom := errors.New("stream reset")
	_, err := ReadFrame(failReader{boom}, nil, 0)
	if !errors.Is(err, ErrTransportDown) || !errors.Is(err, boom) || CodeOf(err) != 0 {
		t.Fatalf("header read error: %v", err)
	}
	r := io.MultiReader(bytes.NewReader([]byte{0, 0, 0, 9, 1}), failReader{boom})
	if _, err := ReadFrame(r, nil, 0); !errors.Is(err, ErrTransportDown) || !errors.Is(err, boom) {
		t.Fatalf("body read error: %v", err)
	}
}

// TestReadFrameGrowsWithData: a prefix announcing FrameMax followed by a
// few bytes must not make the reader allocate FrameMax.
func TestReadFrameGrowsWithData(t *testing.T) {
	in := append([]byte{0x00, 0x10, 0x00, 0x00}, make([]byte, 100)...)
	got, err := ReadFrame(bytes.NewReader(in), nil, 0)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v", err)
	}
	if cap(got) > DefaultChunkSize {
		t.Fatalf("reader committed %d bytes for 100 received", cap(got))
	}
	var p Pools
	if _, err := p.ReadFrame(bytes.NewReader(in), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Pools.ReadFrame err %v", err)
	}
}

func TestReadFrameReusesBuffer(t *testing.T) {
	frame := bigFrame(t, 100)
	buf := make([]byte, 0, 1024)
	got, err := ReadFrame(bytes.NewReader(frame), buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &buf[:1][0] {
		t.Fatal("payload not read into the given buffer")
	}
	if raceEnabled {
		return // allocation counts differ under the race detector
	}
	r := bytes.NewReader(frame)
	if n := testing.AllocsPerRun(100, func() {
		r.Reset(frame)
		if _, err := ReadFrame(r, buf, 0); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("ReadFrame into a large enough buffer: %v allocations", n)
	}
}

type recordingWriter struct {
	sizes []int
	buf   bytes.Buffer
	fail  error
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.fail != nil {
		return 0, w.fail
	}
	w.sizes = append(w.sizes, len(p))
	return w.buf.Write(p)
}

func TestWriteFrameChunks(t *testing.T) {
	frame := bigFrame(t, 100<<10)
	for _, c := range []struct{ chunk, want int }{
		{0, DefaultChunkSize}, {MinChunkSize, MinChunkSize}, {MaxChunkSize, MaxChunkSize},
	} {
		var w recordingWriter
		if err := WriteFrame(&w, frame, c.chunk); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.buf.Bytes(), frame) {
			t.Fatalf("chunk %d: written bytes differ", c.chunk)
		}
		for i, n := range w.sizes {
			last := i == len(w.sizes)-1
			if n > c.want || (!last && n != c.want) {
				t.Fatalf("chunk %d: writes %v", c.chunk, w.sizes)
			}
		}
	}
}

func TestWriteFrameChecks(t *testing.T) {
	frame := bigFrame(t, 10)
	var w recordingWriter
	for _, bad := range []int{-1, 1, MinChunkSize - 1, MaxChunkSize + 1} {
		if err := WriteFrame(&w, frame, bad); err == nil {
			t.Errorf("chunk size %d accepted", bad)
		}
	}
	if err := WriteFrame(&w, frame[:4], 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("prefix only: %v", err)
	}
	if err := WriteFrame(&w, frame[:len(frame)-1], 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("prefix mismatch: %v", err)
	}
	if len(w.sizes) != 0 {
		t.Errorf("wrote %v on invalid input", w.sizes)
	}
	boom := errors.New("closed")
	if err := WriteFrame(&recordingWriter{fail: boom}, frame, 0); !errors.Is(err, ErrTransportDown) || !errors.Is(err, boom) {
		t.Errorf("write error: %v", err)
	}
}

func TestCheckConfig(t *testing.T) {
	for n, ok := range map[int]bool{0: true, MinChunkSize: true, DefaultChunkSize: true, MaxChunkSize: true, MinChunkSize - 1: false, MaxChunkSize + 1: false, -1: false} {
		if (CheckChunkSize(n) == nil) != ok {
			t.Errorf("CheckChunkSize(%d) = %v", n, CheckChunkSize(n))
		}
	}
	for n, ok := range map[int]bool{0: true, 1: true, FrameMax: true, FrameMax + 1: false, -1: false} {
		if (CheckFrameCap(n) == nil) != ok {
			t.Errorf("CheckFrameCap(%d) = %v", n, CheckFrameCap(n))
		}
	}
}

// TestPoolsClasses: Get returns buffers of the right class, and oversize
// buffers put back are never handed out again.
func TestPoolsClasses(t *testing.T) {
	var p Pools
	for range 3 {
		p.Put(&Buffer{B: make([]byte, 0, FrameMax)})
		p.Put(&Buffer{B: make([]byte, 0, maxPooledSmall+1)})
		p.Put(&Buffer{B: make([]byte, 0, 16)})
		p.Put(nil)
	}
	for range 10 {
		b := p.Get(100)
		if len(b.B) != 0 || cap(b.B) < FrameBufSize || cap(b.B) > maxPooledSmall {
			t.Fatalf("Get(100): len %d cap %d", len(b.B), cap(b.B))
		}
		b.B = append(b.B, 1, 2, 3)
		p.Put(b)
		c := p.Get(FrameBufSize + 1)
		if len(c.B) != 0 || cap(c.B) < DefaultChunkSize || cap(c.B) > maxPooledChunk {
			t.Fatalf("Get(FrameBufSize+1): len %d cap %d", len(c.B), cap(c.B))
		}
		p.Put(c)
		d := p.Get(DefaultChunkSize + 1)
		if len(d.B) != 0 || cap(d.B) < DefaultChunkSize+1 || cap(d.B) > maxPooledChunk {
			t.Fatalf("Get(DefaultChunkSize+1): len %d cap %d", len(d.B), cap(d.B))
		}
		p.Put(d)
		e := p.Get(MaxChunkSize + 1)
		if cap(e.B) != MaxChunkSize+1 {
			t.Fatalf("Get(MaxChunkSize+1): cap %d", cap(e.B))
		}
		p.Put(e)
	}
}

func TestPoolsReadFrameClasses(t *testing.T) {
	var p Pools
	for _, c := range []struct{ n, minCap, maxCap int }{
		{10, FrameBufSize, maxPooledSmall},
		{10 << 10, DefaultChunkSize, maxPooledChunk},
		{100 << 10, 100 << 10, maxPooledChunk},
		{200 << 10, 200 << 10, FrameMax},
	} {
		frame := bigFrame(t, c.n)
		b, err := p.ReadFrame(bytes.NewReader(frame), 0)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.B, frame[4:]) || cap(b.B) < c.minCap || cap(b.B) > c.maxCap {
			t.Fatalf("%d bytes: cap %d, equal %v", c.n, cap(b.B), bytes.Equal(b.B, frame[4:]))
		}
		p.Put(b)
	}
}
