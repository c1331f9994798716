// Package gopool runs short tasks on goroutines that wait for the next
// task when they finish, instead of ending.
//
// A new goroutine starts with a small stack and grows it, by copying, as
// the task goes deeper; a server that starts one for every burst of work
// (a mailbox to process, a batch to write) spends a noticeable part of its
// time growing stacks. A kept goroutine has grown its stack already.
package gopool

import "sync"

// Pool keeps up to a fixed number of idle goroutines. The zero value is
// not usable; call New.
type Pool struct {
	mu      sync.Mutex
	idle    []chan func() // the most recently idle last
	maxIdle int
	closed  bool
}

// New returns a pool that keeps at most maxIdle goroutines waiting.
func New(maxIdle int) *Pool {
	return &Pool{maxIdle: maxIdle}
}

// Go runs fn on an idle goroutine of the pool, or on a new one when none
// is idle. Like the go statement it never waits for fn.
func (p *Pool) Go(fn func()) {
	if !p.TryGo(fn) {
		go p.work(fn)
	}
}

// TryGo runs fn on an idle goroutine of the pool and reports whether one
// was idle; it never starts a goroutine, so a caller may first let busy
// ones finish and become idle.
func (p *Pool) TryGo(fn func()) bool {
	p.mu.Lock()
	n := len(p.idle)
	if n == 0 {
		p.mu.Unlock()
		return false
	}
	in := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	p.mu.Unlock()
	in <- fn // buffered: the goroutine may not be waiting yet
	return true
}

// work runs fn and then the tasks Go hands it, until the pool has enough
// idle goroutines or is closed. The most recently idle goroutine is taken
// first, so a few busy ones take most tasks and keep their stacks grown,
// while the rest stay idle long enough for the garbage collector to
// shrink theirs.
func (p *Pool) work(fn func()) {
	var in chan func()
	for fn != nil {
		fn()
		if in == nil {
			in = make(chan func(), 1)
		}
		if !p.park(in) {
			return
		}
		fn = <-in // nil once the pool is closed
	}
}

func (p *Pool) park(in chan func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle) >= p.maxIdle {
		return false
	}
	p.idle = append(p.idle, in)
	return true
}

// Close ends the idle goroutines, and every busy one once its task is
// done. Go still works afterwards, on goroutines that end with their task.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, in := range p.idle {
		close(in)
	}
	p.idle = nil
}
