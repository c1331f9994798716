package auth

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

func tcpAddr(t *testing.T, s string) net.Addr {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// failLogin makes one failed login from addr and returns how long its
// answer took.
func failLogin(t *testing.T, g *Guard, addr net.Addr) time.Duration {
	t.Helper()
	start := time.Now()
	l, err := g.Admit(addr, time.Second, nil)
	if err != nil {
		t.Fatalf("admit: %v", err)
	}
	l.End(true)
	return time.Since(start)
}

func TestGuardSlowsThenBlocks(t *testing.T) {
	const delay = 200 * time.Millisecond
	g := NewGuard(GuardSettings{MaxFailures: 5, Block: time.Minute, FailureDelay: delay, PerSource: 2})
	a := tcpAddr(t, "192.0.2.1:4000")
	for i := 1; i <= 5; i++ {
		took := failLogin(t, g, a)
		if slowed := took >= delay; slowed != (i > SlowLoginsAfter) {
			t.Errorf("failure %d took %v", i, took)
		}
	}
	start := time.Now()
	_, err := g.Admit(tcpAddr(t, "192.0.2.1:4001"), time.Second, nil)
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("after 5 failures: %v, want ErrRateLimited", err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("refusal answered after %v, want at least %v", took, delay)
	}
	// Another address, and another IPv6 /64, are not affected.
	for _, other := range []string{"192.0.2.2:4000", "[2001:db8:0:1::1]:4000"} {
		l, err := g.Admit(tcpAddr(t, other), time.Second, nil)
		if err != nil {
			t.Fatalf("%s: %v", other, err)
		}
		l.End(false)
	}
}

func TestGuardIPv6SharesSlash64(t *testing.T) {
	g := NewGuard(GuardSettings{MaxFailures: 2, Block: time.Minute, PerSource: 2})
	failLogin(t, g, tcpAddr(t, "[2001:db8::1]:1"))
	failLogin(t, g, tcpAddr(t, "[2001:db8::2]:1"))
	if _, err := g.Admit(tcpAddr(t, "[2001:db8::ffff]:1"), time.Second, nil); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("same /64: %v, want ErrRateLimited", err)
	}
}

func TestGuardPerSourceLimit(t *testing.T) {
	g := NewGuard(GuardSettings{MaxFailures: 10, Block: time.Minute, PerSource: 2})
	a := tcpAddr(t, "192.0.2.1:1")
	first, _ := g.Admit(a, time.Second, nil)
	second, _ := g.Admit(a, time.Second, nil)
	if _, err := g.Admit(a, 50*time.Millisecond, nil); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("third at once: %v, want ErrRateLimited", err)
	}
	quit := make(chan struct{})
	close(quit)
	if _, err := g.Admit(a, time.Minute, quit); !errors.Is(err, ErrGaveUp) {
		t.Fatalf("third, given up: %v, want ErrGaveUp", err)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		time.Sleep(50 * time.Millisecond)
		first.End(false)
	}()
	third, err := g.Admit(a, 10*time.Second, nil)
	if err != nil {
		t.Fatalf("third after the first ended: %v", err)
	}
	// The third is admitted as soon as the first frees its slot, which
	// may be before the first has finished leaving.
	<-ended
	second.End(false)
	third.End(false)
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := len(g.sources); n != 0 {
		t.Errorf("%d sources remembered after good logins only", n)
	}
}

func TestGuardMemoryBounded(t *testing.T) {
	g := NewGuard(GuardSettings{MaxFailures: 10, Block: time.Hour, PerSource: 2})
	for i := range 3 * maxTrackedSources {
		failLogin(t, g, tcpAddr(t, fmt.Sprintf("10.%d.%d.%d:1", i>>16, (i>>8)&255, i&255)))
	}
	if n := len(g.sources); n > maxTrackedSources {
		t.Fatalf("%d sources remembered, want at most %d", n, maxTrackedSources)
	}
}
