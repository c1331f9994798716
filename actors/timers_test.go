package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// timersTo returns timers whose messages of type string arrive on the
// channel returned with them.
func timersTo(t *testing.T) (timers, <-chan string) {
	t.Helper()
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	got := make(chan string, 100)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := ctx.Message().(string); ok {
			got <- m
		}
	}))
	return timers{root: sys.Root, pid: pid}, got
}

// nextTimerMessage returns the next message, failing the test when none comes in a
// generous while.
func nextTimerMessage(t *testing.T, got <-chan string) string {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(waitLong):
		t.Fatal("no message came")
		return ""
	}
}

func TestTimersSendOnceSendsOnce(t *testing.T) {
	tm, got := timersTo(t)
	cancel := tm.sendOnce(time.Millisecond, "once")
	if m := nextTimerMessage(t, got); m != "once" {
		t.Fatalf("got %q, want once", m)
	}
	tm.sendOnce(10*time.Millisecond, "marker")
	if m := nextTimerMessage(t, got); m != "marker" {
		t.Errorf("got %q before the marker: a one-shot timer fired again", m)
	}
	cancel() // after the timer fired, and twice: nothing happens
	cancel()
}

// A repeating timer ticks until cancelled; after cancel returns at most
// the one tick already on its way arrives.
func TestTimersSendEveryStopsWhenCancelled(t *testing.T) {
	tm, got := timersTo(t)
	cancel := tm.sendEvery(time.Millisecond, "tick")
	for range 3 {
		if m := nextTimerMessage(t, got); m != "tick" {
			t.Fatalf("got %q, want tick", m)
		}
	}
	cancel()
	tm.sendOnce(20*time.Millisecond, "marker")
	late := 0
	for nextTimerMessage(t, got) == "tick" {
		late++
	}
	if late > 1 {
		t.Errorf("%d ticks came after cancel, want at most the one on its way", late)
	}
	cancel()
}
