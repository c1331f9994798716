package ipc

import (
	"sync"
	"sync/atomic"
	"time"
)

const (
	// watchdogTick is the watchdog's period.
	watchdogTick = time.Millisecond
	// stuckTicks is how many ticks a reader may spend in one handler
	// call before the watchdog gives the reading to another goroutine.
	// On a busy machine a thread may wait several milliseconds for a
	// processor: a reader that merely waited must not be taken for a slow
	// handler.
	stuckTicks = 10
	// watchdogNap is how many ticks without a reader in a handler or a
	// connection in a slow spell the watchdog runs before it sleeps, so
	// that an idle handler costs no timer.
	watchdogNap = 1000
	// slowSpell is how many ticks a connection hands its requests to
	// workers after a handler was found slow.
	slowSpell = 200
)

// watchdog serves every stream connection of one ServeConfig. A reader
// runs the requests it reads itself, which spares a goroutine switch per
// request while the handler is quick; the watchdog notices a reader that
// has been in a handler for stuckTicks, gives the connection's
// reading to a new goroutine, and starts the connection's slow spell, in
// which requests go to workers. So a slow request never holds up the
// requests behind it, nor the answers gathered before it, for more than
// stuckTicks and one.
//
// Time is counted in ticks, read with one atomic load, so that the
// requests of a quick handler do not each read the clock. They are 64
// bits wide so that they never wrap: compared as plain numbers, and 0 is
// free to mean "none".
type watchdog struct {
	tick   atomic.Uint64 // ticks since the start; 0 is never a tick
	asleep atomic.Bool
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}

	mu    sync.Mutex
	conns map[*streamConn]struct{}
}

func newWatchdog() *watchdog {
	w := &watchdog{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		conns: make(map[*streamConn]struct{})}
	w.tick.Store(1)
	go w.run()
	return w
}

// close stops the watchdog and waits until it has.
func (w *watchdog) close() {
	close(w.stop)
	<-w.done
}

func (w *watchdog) add(c *streamConn) {
	w.mu.Lock()
	w.conns[c] = struct{}{}
	w.mu.Unlock()
}

func (w *watchdog) remove(c *streamConn) {
	w.mu.Lock()
	delete(w.conns, c)
	w.mu.Unlock()
}

// now is the current tick.
func (w *watchdog) now() uint64 { return w.tick.Load() }

// watch wakes the watchdog when it sleeps. A reader calls it after it
// recorded that it entered a handler.
func (w *watchdog) watch() {
	if w.asleep.Load() && w.asleep.CompareAndSwap(true, false) {
		w.wake <- struct{}{}
	}
}

func (w *watchdog) run() {
	defer close(w.done)
	t := time.NewTicker(watchdogTick)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		if w.check(w.tick.Add(1)) {
			idle = 0
			continue
		}
		if idle++; idle < watchdogNap {
			continue
		}
		// Announce the sleep before the last look, and a reader records
		// its handler before it looks whether to wake the watchdog: one
		// of the two sees the other.
		w.asleep.Store(true)
		if w.check(w.tick.Load()) && w.asleep.CompareAndSwap(true, false) {
			idle = 0
			continue
		}
		t.Stop()
		select {
		case <-w.stop:
			return
		case <-w.wake:
		}
		t.Reset(watchdogTick)
		idle = 0
	}
}

// check hands over the reading of every connection whose reader is stuck
// in a handler, and reports whether any connection needs the watchdog.
func (w *watchdog) check(now uint64) (busy bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.conns {
		if c.takeOverIfStuck(now) {
			busy = true
		}
	}
	return busy
}
