package actors

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// timers sends its actor messages later. It stands in for protoactor's
// scheduler package, whose cancel function races with its own timer
// goroutine (a plain read of a state written atomically), which the race
// detector reports.
type timers struct {
	root *actor.RootContext
	pid  *actor.PID
}

// cancelFunc stops a timer; calling it again, or after the timer fired,
// does nothing.
type cancelFunc func()

// sendOnce sends msg after d.
func (t timers) sendOnce(d time.Duration, msg any) cancelFunc {
	tm := time.AfterFunc(d, func() { t.root.Send(t.pid, msg) })
	return func() { tm.Stop() }
}

// sendEvery sends msg every d until cancelled. It holds no goroutine
// between ticks.
func (t timers) sendEvery(d time.Duration, msg any) cancelFunc {
	var (
		mu      sync.Mutex
		stopped bool
		tm      *time.Timer
	)
	mu.Lock()
	defer mu.Unlock()
	tm = time.AfterFunc(d, func() {
		t.root.Send(t.pid, msg)
		mu.Lock()
		if !stopped {
			tm.Reset(d)
		}
		mu.Unlock()
	})
	return func() {
		mu.Lock()
		stopped = true
		tm.Stop()
		mu.Unlock()
	}
}
