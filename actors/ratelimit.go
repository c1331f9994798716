package actors

import (
	"time"

	"golang.org/x/time/rate"
)

// rateLimit is what each user may send per second, over all their
// connections; a zero rate means no limit of that kind.
type rateLimit struct {
	perSecond, burst          int // messages
	bytesPerSecond, byteBurst int // frame bytes
}

// userLimits are one user's rate limiters, shared by their connections so
// that more connections buy no higher rate; a nil limiter means no limit.
type userLimits struct {
	messages *rate.Limiter
	bytes    *rate.Limiter
}

// newLimits returns a user's fresh limiters, or nil when there are none.
func (l rateLimit) newLimits() *userLimits {
	if l.perSecond == 0 && l.bytesPerSecond == 0 {
		return nil
	}
	u := &userLimits{}
	if l.perSecond > 0 {
		u.messages = rate.NewLimiter(rate.Limit(l.perSecond), l.burst)
	}
	if l.bytesPerSecond > 0 {
		u.bytes = rate.NewLimiter(rate.Limit(l.bytesPerSecond), l.byteBurst)
	}
	return u
}

// refilled reports whether every bucket is full again: forgetting the
// limiters then gives the user nothing they would not have anyway.
func (u *userLimits) refilled() bool {
	return full(u.messages) && full(u.bytes)
}

func full(l *rate.Limiter) bool { return l == nil || l.Tokens() >= float64(l.Burst()) }

// allowMessage takes a message from the user's message bucket, reporting
// false when it is empty.
func (u *userLimits) allowMessage() bool {
	return u == nil || u.messages == nil || u.messages.Allow()
}

// byteDelay takes n bytes from the user's byte bucket and returns how long
// to wait before reading more: a bulk sender is slowed, never refused.
func (u *userLimits) byteDelay(n int) time.Duration {
	if u == nil || u.bytes == nil || n == 0 {
		return 0
	}
	return u.bytes.ReserveN(time.Now(), min(n, u.bytes.Burst())).Delay()
}

// adjusted applies l to the user's limiters in place, so that their open
// connections follow it at once: a kind of limit turned off becomes
// unlimited. It returns the limiters the user's next connections get: u
// itself, or, when l turns on a kind u lacks, a set that shares u's
// limiters and adds the new one (nil when l limits nothing).
func (u *userLimits) adjusted(l rateLimit) *userLimits {
	adjust := func(lim *rate.Limiter, perSecond, burst int) *rate.Limiter {
		switch {
		case lim != nil && perSecond > 0:
			lim.SetLimit(rate.Limit(perSecond))
			lim.SetBurst(burst)
		case lim != nil:
			lim.SetLimit(rate.Inf)
			return nil
		case perSecond > 0:
			return rate.NewLimiter(rate.Limit(perSecond), burst)
		}
		return lim
	}
	next := &userLimits{messages: adjust(u.messages, l.perSecond, l.burst), bytes: adjust(u.bytes, l.bytesPerSecond, l.byteBurst)}
	switch {
	case next.messages == nil && next.bytes == nil:
		return nil
	case next.messages == u.messages && next.bytes == u.bytes:
		return u
	}
	return next
}
