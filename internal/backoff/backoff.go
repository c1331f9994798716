// Package backoff spaces out retries: the server's links to handlers and
// peers and the client's reconnecting listener wait the same way.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential delay with jitter: attempt n waits
// between half and all of min(Max, Base·2ⁿ), so that many links restarting
// at once spread out. (protoactor's own "exponential" strategy is linear.)
type Backoff struct {
	Base, Max time.Duration
}

// Delay returns the wait before attempt n (0-based).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Max
	if b.Base > 0 && n >= 0 && b.Base <= b.Max>>n { // so Base·2ⁿ cannot overflow
		d = b.Base << n
	}
	return d/2 + rand.N(d/2+1) // never less than half, so a crash loop cannot spin
}
