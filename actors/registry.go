package actors

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/cluster"

	"github.com/bester-project/bester/wire"
)

// recipient is one authenticated connection of a user.
type recipient struct {
	pid   *actor.PID
	codec wire.Codec
	// out is the connection's outbox, which deliveries go straight into
	// (see localDelivery.to).
	out *outbox
}

// registry maps usernames to their connections. Connection actors add
// themselves once authenticated and remove themselves when they stop; link
// actors and the informer read it. It is shared memory rather than an actor
// so that a delivery costs no extra hop.
type registry struct {
	mu    sync.RWMutex
	users map[string][]recipient
	// limits rate-limit each user: while connected, and after until their
	// buckets have refilled, so that reconnecting buys nothing.
	limits map[string]*userLimits
	// sends counts each user's messages for the monitor's top senders,
	// while connected and for a window after (senders.go).
	sends map[string]*sendCount
	conns int
	// dir is told of each user's first connection and last one gone, in
	// a cluster; nil on a single server. Set before any connection logs in.
	dir cluster.Directory
}

func newRegistry() *registry {
	return &registry{users: make(map[string][]recipient), limits: make(map[string]*userLimits),
		sends: make(map[string]*sendCount)}
}

// add registers a connection of user unless the user has maxPerUser
// already, and returns the user's rate limiters (nil when there are no
// limits), one set for all of their connections.
func (r *registry) add(user string, rc recipient, maxPerUser int, limit rateLimit) (*userLimits, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.users[user]) >= maxPerUser {
		return nil, false
	}
	if r.dir != nil && len(r.users[user]) == 0 {
		r.dir.Register(user)
	}
	r.users[user] = append(r.users[user], rc)
	r.conns++
	l := r.limits[user]
	if l == nil {
		if l = limit.newLimits(); l == nil {
			return nil, true
		}
		r.forgetRefilled(2)
		r.limits[user] = l
	}
	return l, true
}

// forgetRefilled drops the limiters of up to n disconnected users whose
// buckets are full again: a few at each new limiter, from a random place
// in the map, keep the map as small as the users recently active.
func (r *registry) forgetRefilled(n int) {
	for u, l := range r.limits {
		if n == 0 {
			return
		}
		n--
		if _, on := r.users[u]; !on && l.refilled() {
			delete(r.limits, u)
		}
	}
}

// setRate applies a new rate limit (a reload) to every user's limiters,
// which their open connections share.
func (r *registry) setRate(l rateLimit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for user, u := range r.limits {
		if next := u.adjusted(l); next != nil {
			r.limits[user] = next
		} else {
			delete(r.limits, user)
		}
	}
}

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
		if r.dir != nil {
			r.dir.Unregister(user)
		}
		r.leaveSends(user, time.Now())
		if l := r.limits[user]; l != nil && l.refilled() {
			delete(r.limits, user)
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
