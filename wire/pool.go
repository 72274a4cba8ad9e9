package wire

import (
	"io"
	"sync"
)

// FrameBufSize is the capacity of a pooled frame buffer: enough for every
// request and for a FIND_NODE response of 20 NodeInfos with two addresses
// each.
const FrameBufSize = 4 << 10

// Largest capacities a buffer may have to go back to its pool; larger ones
// (a grown small buffer, a buffer for a big frame) are left to the GC so that
// one large frame does not pin memory.
const (
	maxPooledSmall = 4 * FrameBufSize
	maxPooledChunk = MaxChunkSize
)

// Buffer is a pooled byte buffer. B has length 0 when it comes from Get.
type Buffer struct {
	B []byte
}

// Pools holds two classes of reusable buffers: frame buffers of FrameBufSize
// for the common message, and chunk buffers of DefaultChunkSize for larger
// frames. The zero value is ready to use; a Pools must not be copied after
// first use. It is safe for concurrent use.
type Pools struct {
	small sync.Pool // *Buffer, FrameBufSize <= cap <= maxPooledSmall
	chunk sync.Pool // *Buffer, DefaultChunkSize <= cap <= maxPooledChunk
}

// Get returns a buffer of length 0 and capacity at least n: a pooled frame
// buffer for n <= FrameBufSize, a pooled chunk buffer (DefaultChunkSize or
// more) for n <= MaxChunkSize, and a new buffer of capacity n, which Put
// will not keep, above that.
func (p *Pools) Get(n int) *Buffer {
	switch {
	case n <= FrameBufSize:
		return take(&p.small, n, FrameBufSize)
	case n <= maxPooledChunk:
		return take(&p.chunk, n, DefaultChunkSize)
	}
	return &Buffer{B: make([]byte, 0, n)}
}

// take returns a buffer of capacity at least n from pool, or a new one of
// capacity max(n, size).
func take(pool *sync.Pool, n, size int) *Buffer {
	if v := pool.Get(); v != nil {
		b := v.(*Buffer)
		if cap(b.B) >= n {
			b.B = b.B[:0]
			return b
		}
		pool.Put(b)
	}
	return &Buffer{B: make([]byte, 0, max(n, size))}
}

// Put returns b to the pool of its size class. Buffers smaller than
// FrameBufSize or above a class's upper bound (4*FrameBufSize for frame
// buffers, MaxChunkSize for chunk buffers) are dropped. b must not be used
// after Put.
func (p *Pools) Put(b *Buffer) {
	if b == nil {
		return
	}
	switch c := cap(b.B); {
	case c >= DefaultChunkSize && c <= maxPooledChunk:
		p.chunk.Put(b)
	case c >= FrameBufSize && c <= maxPooledSmall:
		p.small.Put(b)
	}
}

// ReadFrame reads one frame from r like the package-level ReadFrame, into a
// buffer of the right class: the length prefix is read into a frame buffer,
// checked against maxLen, and the envelope is read into that buffer, a chunk
// buffer, or (above MaxChunkSize) a buffer grown as bytes arrive, which Put
// will drop. The returned buffer's B holds the envelope bytes; Put it
// back when done.
func (p *Pools) ReadFrame(r io.Reader, maxLen int) (*Buffer, error) {
	b := p.Get(FrameBufSize)
	n, err := readHeader(r, b.B[:frameHeaderLen], maxLen)
	if err != nil {
		p.Put(b)
		return nil, err
	}
	switch {
	case n <= cap(b.B):
	case n <= maxPooledChunk:
		p.Put(b)
		b = p.Get(n)
	default:
		// Grown as bytes arrive and dropped by Put: start from nothing
		// rather than drain a chunk buffer from the pool.
		p.Put(b)
		b = &Buffer{}
	}
	b.B, err = readBody(r, b.B[:0], n)
	if err != nil {
		p.Put(b)
		return nil, err
	}
	return b, nil
}
