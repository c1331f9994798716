package actors

import (
	"slices"
	"sort"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"golang.org/x/time/rate"

	"github.com/bester-project/bester/wire"
)

// recipient is one authenticated connection of a user.
type recipient struct {
	pid   *actor.PID
	codec wire.Codec
}

// registry maps usernames to their connections. Connection actors add
// themselves once authenticated and remove themselves when they stop; link
// actors and the informer read it. It is shared memory rather than an actor
// so that a delivery costs no extra hop.
type registry struct {
	mu    sync.RWMutex
	users map[string][]recipient
	// limiters rate-limit each user's messages: while connected, and after
	// until their bucket has refilled, so that reconnecting buys nothing.
	limiters map[string]*rate.Limiter
	conns    int
}

func newRegistry() *registry {
	return &registry{users: make(map[string][]recipient), limiters: make(map[string]*rate.Limiter)}
}

// rateLimit is how many messages per second each user may send; zero
// perSecond means no limit.
type rateLimit struct {
	perSecond, burst int
}

// add registers a connection of user unless the user has maxPerUser
// already, and returns the user's rate limiter (nil when there is no
// limit): one for all of their connections, so that more connections do
// not buy a higher rate.
func (r *registry) add(user string, rc recipient, maxPerUser int, limit rateLimit) (*rate.Limiter, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.users[user]) >= maxPerUser {
		return nil, false
	}
	r.users[user] = append(r.users[user], rc)
	r.conns++
	if limit.perSecond == 0 {
		return nil, true
	}
	l := r.limiters[user]
	if l == nil {
		r.forgetRefilled(2)
		l = rate.NewLimiter(rate.Limit(limit.perSecond), limit.burst)
		r.limiters[user] = l
	}
	return l, true
}

// forgetRefilled drops the limiters of up to n disconnected users whose
// buckets are full again: a few at each new limiter, from a random place
// in the map, keep the map as small as the users recently active.
func (r *registry) forgetRefilled(n int) {
	for u, l := range r.limiters {
		if n == 0 {
			return
		}
		n--
		if _, on := r.users[u]; !on && refilled(l) {
			delete(r.limiters, u)
		}
	}
}

// refilled reports whether a limiter's bucket is full.
func refilled(l *rate.Limiter) bool { return l.Tokens() >= float64(l.Burst()) }

func (r *registry) remove(user string, pid *actor.PID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.users[user]
	i := slices.IndexFunc(list, func(rc recipient) bool { return rc.pid.Equal(pid) })
	if i < 0 {
		return
	}
	r.conns--
	if len(list) == 1 {
		delete(r.users, user)
		if l := r.limiters[user]; l != nil && refilled(l) {
			delete(r.limiters, user)
		}
		return
	}
	r.users[user] = slices.Delete(slices.Clone(list), i, i+1)
}

// lookup appends the connections of user to buf.
func (r *registry) lookup(user string, buf []recipient) []recipient {
	r.mu.RLock()
	buf = append(buf, r.users[user]...)
	r.mu.RUnlock()
	return buf
}

func (r *registry) has(user string) bool {
	r.mu.RLock()
	_, ok := r.users[user]
	r.mu.RUnlock()
	return ok
}

// names returns the connected usernames, sorted.
func (r *registry) names() []string {
	r.mu.RLock()
	out := make([]string, 0, len(r.users))
	for u := range r.users {
		out = append(out, u)
	}
	r.mu.RUnlock()
	sort.Strings(out)
	return out
}

// count returns the number of authenticated connections.
func (r *registry) count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.conns
}
