package runtime

import (
	"sync"
	"sync/atomic"
)

// GoPool runs functions on reused goroutines: a function goes to an idle
// goroutine of the pool when one waits, else to a new one, which waits for
// more work once done while fewer than maxIdle others wait. Its Go method
// fits Options.Go: nodes sharing one pool start their probes on goroutines
// whose stacks have grown already, instead of growing a new one per probe.
// It is safe for concurrent use.
type GoPool struct {
	work    chan func() // unbuffered: a send succeeds only into a waiting goroutine
	quit    chan struct{}
	idle    atomic.Int32
	maxIdle int32
	wg      sync.WaitGroup
	once    sync.Once
}

// NewGoPool returns a pool that keeps at most maxIdle goroutines waiting
// (at least 1).
func NewGoPool(maxIdle int) *GoPool {
	return &GoPool{work: make(chan func()), quit: make(chan struct{}), maxIdle: int32(max(maxIdle, 1))}
}

// Go runs f on a goroutine of the pool: an idle one, or a new one. Go
// after Close runs f on a goroutine of its own.
func (p *GoPool) Go(f func()) {
	select {
	case p.work <- f:
		return
	default:
	}
	p.wg.Add(1)
	go p.run(f)
}

// run runs f, then waits for more work while the pool wants idle
// goroutines.
func (p *GoPool) run(f func()) {
	defer p.wg.Done()
	for {
		f()
		if p.idle.Add(1) > p.maxIdle {
			p.idle.Add(-1)
			return
		}
		select {
		case f = <-p.work:
			p.idle.Add(-1)
		case <-p.quit:
			p.idle.Add(-1)
			return
		}
	}
}

// Idle is the number of goroutines waiting for work.
func (p *GoPool) Idle() int { return int(p.idle.Load()) }

// Close ends the idle goroutines and waits until every goroutine of the
// pool has returned (those running a function finish it first). It is
// idempotent.
func (p *GoPool) Close() {
	p.once.Do(func() { close(p.quit) })
	p.wg.Wait()
}
