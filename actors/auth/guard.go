package auth

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ErrRateLimited is wrapped by every refusal of the Guard, so callers can
// answer `rate_limited` instead of `unauthorized`.
var ErrRateLimited = errors.New("rate limited")

// ErrGaveUp is Admit's error when its caller gave up waiting.
var ErrGaveUp = errors.New("login abandoned")

// SlowLoginsAfter is how many failed logins an address may make within the
// failure window before each further attempt waits before its answer.
const SlowLoginsAfter = 3

// maxTrackedSources bounds the addresses a Guard remembers, so that an
// attacker with many addresses cannot grow its memory without end: about
// 250 bytes each, a few megabytes in all.
const maxTrackedSources = 16384

// GuardSettings say how a Guard treats failed logins.
type GuardSettings struct {
	// MaxFailures failed logins within Block block the address for Block.
	MaxFailures int
	// Block is both the window failures are counted in and how long a
	// blocked address is refused.
	Block time.Duration
	// FailureDelay is how long an attempt waits before its answer once its
	// address has failed SlowLoginsAfter times within the window.
	FailureDelay time.Duration
	// PerSource is how many logins of one address may run at once.
	PerSource int
}

// Guard keeps failed logins from starving everyone else: it runs at most
// PerSource logins of one address at once, slows the answers to an address
// that keeps failing, and then refuses it for a while without checking the
// password at all. It is safe for concurrent use.
type Guard struct {
	settings GuardSettings
	mu       sync.Mutex
	sources  map[string]*source
}

// source is what a Guard knows of one address.
type source struct {
	slots        chan struct{} // one per login running
	users        int           // logins holding or waiting for a slot: not evicted while > 0
	failures     int           // within the window that began at since
	since        time.Time
	blockedUntil time.Time
}

// NewGuard returns a Guard with the given settings.
func NewGuard(s GuardSettings) *Guard {
	return &Guard{settings: s, sources: make(map[string]*source)}
}

// SetSettings changes the settings (a reload). Addresses keep the
// failures counted so far; the logins running at once from an address
// change for addresses the guard meets afresh.
func (g *Guard) SetSettings(s GuardSettings) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.settings = s
}

// failureDelay is the settings' FailureDelay.
func (g *Guard) failureDelay() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.settings.FailureDelay
}

// Login is one login admitted by a Guard; End must be called once.
type Login struct {
	g   *Guard
	key string
	src *source
	// quit ends every wait of the login early: its connection is closing.
	quit <-chan struct{}
}

// Admit waits up to wait for a login slot of addr's source. It refuses,
// with an error wrapping ErrRateLimited, an address that is blocked (after
// FailureDelay, so that a refused client cannot retry in a tight loop) or
// whose slots stay busy for longer than wait. When quit closes first, it
// returns ErrGaveUp.
func (g *Guard) Admit(addr net.Addr, wait time.Duration, quit <-chan struct{}) (*Login, error) {
	l := &Login{g: g, key: sourceKey(addr), quit: quit}
	l.src = g.join(l.key)
	if err := l.acquire(wait); err != nil {
		g.leave(l.key, l.src)
		return nil, err
	}
	if left := g.blockedFor(l.src); left > 0 {
		l.wait()
		l.release()
		return nil, fmt.Errorf("too many failed logins from this address; try again in %s: %w",
			left.Round(time.Second), ErrRateLimited)
	}
	return l, nil
}

// End records how the login went and gives its slot back. A failure of an
// address that keeps failing first waits FailureDelay.
func (l *Login) End(failed bool) {
	if failed && l.g.fail(l.src) {
		l.wait()
	}
	l.release()
}

// acquire takes one of the source's slots, waiting up to wait.
func (l *Login) acquire(wait time.Duration) error {
	select {
	case l.src.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case l.src.slots <- struct{}{}:
		return nil
	case <-t.C:
		return fmt.Errorf("too many logins at once from this address: %w", ErrRateLimited)
	case <-l.quit:
		return ErrGaveUp
	}
}

// wait holds the login's slot for FailureDelay, or until quit.
func (l *Login) wait() {
	t := time.NewTimer(l.g.failureDelay())
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.quit:
	}
}

// release gives the slot back.
func (l *Login) release() {
	<-l.src.slots
	l.g.leave(l.key, l.src)
}

// join returns the source of key, counting one more user of it.
func (g *Guard) join(key string) *source {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sources[key]
	if s == nil {
		g.makeRoom(time.Now())
		s = &source{slots: make(chan struct{}, g.settings.PerSource)}
		g.sources[key] = s
	}
	s.users++
	return s
}

// leave counts one user less of s, and forgets s when nothing about it
// is worth remembering.
func (g *Guard) leave(key string, s *source) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s.users--
	if g.forgettable(s, time.Now()) {
		delete(g.sources, key)
	}
}

// blockedFor returns how much longer s is blocked.
func (g *Guard) blockedFor(s *source) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return time.Until(s.blockedUntil)
}

// fail records a failed login of s, blocking it at MaxFailures, and says
// whether the answer should be slowed.
func (g *Guard) fail(s *source) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if now.Sub(s.since) >= g.settings.Block {
		s.failures, s.since = 0, now
	}
	s.failures++
	if s.failures >= g.settings.MaxFailures {
		s.blockedUntil = now.Add(g.settings.Block)
	}
	return s.failures > SlowLoginsAfter
}

// forgettable says whether s can be dropped: nobody is logging in from it
// and its failures, if any, are over.
func (g *Guard) forgettable(s *source, now time.Time) bool {
	return s.users == 0 && now.Sub(s.since) >= g.settings.Block && !now.Before(s.blockedUntil)
}

// makeRoom keeps the table under maxTrackedSources: it drops what is
// forgettable and, when attacks from very many addresses fill it anyway,
// an eighth of the idle sources, blocked ones included. Sources with a
// login running stay: there are no more of them than open connections.
// The lock is held.
func (g *Guard) makeRoom(now time.Time) {
	if len(g.sources) < maxTrackedSources {
		return
	}
	for k, s := range g.sources {
		if g.forgettable(s, now) {
			delete(g.sources, k)
		}
	}
	for k, s := range g.sources { // map order is random: no address is favoured
		if len(g.sources) < maxTrackedSources-maxTrackedSources/8 {
			return
		}
		if s.users == 0 {
			delete(g.sources, k)
		}
	}
}

// sourceKey names the source of a connection: its IP address, or for IPv6
// its /64 network, which is what one host is usually given. Connections
// that are not TCP (UNIX sockets) all share one key.
func sourceKey(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "unix"
	}
	ip := tcp.AddrPort().Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
