package actors

import (
	"sync"
	"sync/atomic"
	"time"
)

// budget bounds the bytes the whole server holds on behalf of connections
// that have not proven they deserve it: frames being read (their read
// buffers, and what large ones hold beyond the 16 KiB every reader may
// keep) and the messages made of large frames until they are reported,
// and outboxes whose peer does not read. Readers of large frames wait for
// room (back-pressure on the sockets that send the most), and take no read
// buffer while there is none; outboxes are charged without waiting, since
// their bytes exist already, and a full budget makes the server cut the
// clients that do not read. Small messages are never counted: what they
// hold is bounded by the in-flight limits.
type budget struct {
	limit   atomic.Int64 // buffer_budget: a reload may change it
	used    atomic.Int64
	waiters atomic.Int32
	mu      sync.Mutex
	freed   chan struct{} // closed, and replaced, when bytes come back while someone waits
}

func newBudget(limit int) *budget {
	b := &budget{freed: make(chan struct{})}
	b.limit.Store(int64(limit))
	return b
}

// setLimit changes the limit (a reload); readers waiting for room look
// again.
func (b *budget) setLimit(limit int) {
	b.limit.Store(int64(limit))
	b.wake()
}

// take counts n bytes, waiting while that would pass the limit, and
// reports false when stop closes or deadline passes first. The first
// taker always gets its bytes, so a frame larger than the whole budget
// still moves when it is alone.
func (b *budget) take(n int64, stop <-chan struct{}, deadline time.Time) bool {
	for {
		if b.tryTake(n) {
			return true
		}
		b.mu.Lock()
		b.waiters.Add(1)
		freed := b.freed
		b.mu.Unlock()
		if b.tryTake(n) { // bytes may have come back before this waiter counted
			b.waiters.Add(-1)
			return true
		}
		ok := waitUntil(freed, stop, deadline)
		b.waiters.Add(-1)
		if !ok {
			return false
		}
	}
}

// tryTake counts n bytes if they fit, or if nothing is counted.
func (b *budget) tryTake(n int64) bool {
	for {
		used := b.used.Load()
		if used > 0 && used+n > b.limit.Load() {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// charge counts n bytes that are already held, whatever the limit.
func (b *budget) charge(n int64) { b.used.Add(n) }

// release gives n bytes back and wakes the readers waiting for room.
func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.used.Add(-n)
	b.wake()
}

// wake tells the readers waiting for room, if any, to look again.
func (b *budget) wake() {
	if b.waiters.Load() > 0 {
		b.mu.Lock()
		close(b.freed)
		b.freed = make(chan struct{})
		b.mu.Unlock()
	}
}

// spent reports whether the budget is used up.
func (b *budget) spent() bool { return b.used.Load() >= b.limit.Load() }

// waitUntil waits for ch; false when stop closes or deadline passes first.
func waitUntil(ch, stop <-chan struct{}, deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-stop:
	case <-t.C:
	}
	return false
}
