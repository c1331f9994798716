package actors

import (
	"math/rand/v2"
	"time"
)

// backoff is a capped exponential delay with jitter: attempt n waits
// between half and all of min(max, base·2ⁿ), so that many links restarting
// at once spread out. (protoactor's own "exponential" strategy is linear.)
type backoff struct {
	base, max time.Duration
}

// delay returns the wait before attempt n (0-based).
func (b backoff) delay(n int) time.Duration {
	d := b.max
	if b.base > 0 && b.base <= b.max>>n { // so base·2ⁿ cannot overflow
		d = b.base << n
	}
	return d/2 + rand.N(d/2+1) // never less than half, so a crash loop cannot spin
}
