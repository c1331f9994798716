package gopool

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunsEveryTaskOnce(t *testing.T) {
	p := New(4)
	defer p.Close()
	const tasks = 2000
	var ran [tasks]atomic.Int32
	var wg sync.WaitGroup
	wg.Add(tasks)
	for g := range 8 { // several goroutines hand tasks in at once
		go func() {
			for i := g; i < tasks; i += 8 {
				p.Go(func() { ran[i].Add(1); wg.Done() })
			}
		}()
	}
	wg.Wait()
	for i := range ran {
		if n := ran[i].Load(); n != 1 {
			t.Fatalf("task %d ran %d times", i, n)
		}
	}
}

// TestReusesIdleGoroutine hands tasks in one after another: each finds the
// goroutine that ran the one before idle, so no second goroutine starts.
func TestReusesIdleGoroutine(t *testing.T) {
	p := New(4)
	defer p.Close()
	done := make(chan struct{})
	var workers sync.Map // the channel each task's goroutine waits on
	for range 100 {
		p.Go(func() { done <- struct{}{} })
		<-done
		waitIdle(p, 1)
		p.mu.Lock()
		workers.Store(p.idle[0], true)
		p.mu.Unlock()
	}
	n := 0
	workers.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("100 tasks one after another ran on %d goroutines, want 1", n)
	}
}

func TestKeepsAtMostMaxIdle(t *testing.T) {
	p := New(2)
	defer p.Close()
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(5)
	for range 5 { // five at once: five goroutines
		p.Go(func() { <-release; wg.Done() })
	}
	close(release)
	wg.Wait()
	waitIdle(p, 2)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) != 2 {
		t.Fatalf("%d idle goroutines kept, want 2", len(p.idle))
	}
}

// TestGoAfterClose runs tasks after Close on goroutines that end; goleak
// in TestMain checks that none is left.
func TestGoAfterClose(t *testing.T) {
	p := New(4)
	p.Close()
	done := make(chan struct{})
	p.Go(func() { close(done) })
	<-done
}

// waitIdle waits until n goroutines are idle: a goroutine parks just after
// its task returns.
func waitIdle(p *Pool, n int) {
	for {
		p.mu.Lock()
		k := len(p.idle)
		p.mu.Unlock()
		if k >= n {
			return
		}
		runtime.Gosched()
	}
}

// TestTryGoOnlyOnIdle: TryGo starts no goroutine; it hands the task to an
// idle one when there is one.
func TestTryGoOnlyOnIdle(t *testing.T) {
	p := New(4)
	defer p.Close()
	if p.TryGo(func() { t.Error("ran without an idle goroutine") }) {
		t.Fatal("TryGo on an empty pool reported true")
	}
	done := make(chan struct{})
	p.Go(func() { done <- struct{}{} })
	<-done
	waitIdle(p, 1)
	if !p.TryGo(func() { done <- struct{}{} }) {
		t.Fatal("TryGo with an idle goroutine reported false")
	}
	<-done
}
