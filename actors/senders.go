package actors

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The top senders of /status are rates over sendersWindow, from snapshots
// of every user's count taken each sendersTick: a user's rate is their
// count now less their count in the oldest snapshot, over the time between.
const (
	sendersTick   = time.Second
	sendersWindow = 5 * time.Second
)

// sendCount counts the messages one user sends, over all their
// connections: it is shared by them from the first login until a window
// after the last logout, so that what a user sent on connections that
// closed between two snapshots still counts. The readers' only cost is
// one atomic add per message.
type sendCount struct {
	n     atomic.Uint64
	since time.Time // the login that made it, when it counted 0
	left  time.Time // the user's last logout; zero while connected. Under registry.mu
}

// sent is a user's sendCount as a snapshot took it.
type sent struct {
	n     uint64
	since time.Time
}

// add counts one message; a nil count (a peer server's connection)
// counts nothing.
func (c *sendCount) add() {
	if c != nil {
		c.n.Add(1)
	}
}

// sendCount returns the count of user, who must be in the registry and
// logs in at now.
func (r *registry) sendCount(user string, now time.Time) *sendCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.sends[user]
	if c == nil {
		r.forgetSendsOfGone(2, now)
		c = &sendCount{since: now}
		r.sends[user] = c
	}
	c.left = time.Time{}
	return c
}

// leaveSends marks the count of user, whose last connection closes at
// now, for forgetting once no rate needs it; r.mu is held.
func (r *registry) leaveSends(user string, now time.Time) {
	if c := r.sends[user]; c != nil {
		c.left = now
	}
}

// forgetSendsOfGone drops the counts of up to n users who left more than
// a window ago: a few at each new count, from a random place in the map,
// keep the map as small as the users recently active, as forgetRefilled
// does for the limiters; r.mu is held.
func (r *registry) forgetSendsOfGone(n int, now time.Time) {
	for u, c := range r.sends {
		if n == 0 {
			return
		}
		n--
		if !c.left.IsZero() && now.Sub(c.left) > sendersWindow+sendersTick {
			delete(r.sends, u)
		}
	}
}

// sendCounts returns the count of every user connected now or within the
// last window.
func (r *registry) sendCounts() map[string]sent {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]sent, len(r.sends))
	for u, c := range r.sends {
		out[u] = sent{n: c.n.Load(), since: c.since}
	}
	return out
}

// sendSnapshot is every user's count at one time.
type sendSnapshot struct {
	at     time.Time
	counts map[string]sent
}

// topSender is a line of /status's top_senders.
type topSender struct {
	User string `json:"user"`
	// Rate is messages per second over the last few seconds.
	Rate float64 `json:"messages_per_second"`
}

// topSenders keeps the snapshots of the last sendersWindow and names the
// fastest senders from them. It runs only while a monitor block's
// top_senders is not 0.
type topSenders struct {
	registry *registry
	n        int
	mu       sync.Mutex
	snaps    []sendSnapshot // oldest first
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// startTopSenders takes a snapshot of r's counts, which the registry
// always keeps, every sendersTick until close.
func startTopSenders(r *registry, n int) *topSenders {
	t := &topSenders{registry: r, n: n, stop: make(chan struct{}), done: make(chan struct{})}
	t.snapshot(time.Now())
	go t.run()
	return t
}

func (t *topSenders) run() {
	defer close(t.done)
	tick := time.NewTicker(sendersTick)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case now := <-tick.C:
			t.snapshot(now)
		}
	}
}

// snapshot records the counts at now and forgets the snapshots the window
// no longer needs: it keeps the newest that is older than the window, the
// start of the rates.
func (t *topSenders) snapshot(now time.Time) {
	s := sendSnapshot{at: now, counts: t.registry.sendCounts()}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.snaps = append(t.snaps, s)
	for len(t.snaps) > 1 && now.Sub(t.snaps[1].at) >= sendersWindow {
		t.snaps = t.snaps[1:]
	}
}

// size is how many senders t names; 0 for a nil t.
func (t *topSenders) size() int {
	if t == nil {
		return 0
	}
	return t.n
}

// top returns the n fastest senders between the oldest snapshot and now,
// or since their login if that came later (but over one sendersTick at
// least, so that a first message is not a burst), fastest first; users
// who sent nothing are not listed.
func (t *topSenders) top(now time.Time) []topSender {
	counts := t.registry.sendCounts()
	t.mu.Lock()
	from := t.snaps[0]
	t.mu.Unlock()
	out := []topSender{}
	for user, c := range counts {
		start, before := from.at, from.counts[user].n
		if c.since.After(from.at) { // a count made since the snapshot: 0 at its login
			start, before = c.since, 0
		}
		if c.n > before {
			secs := max(now.Sub(start), sendersTick).Seconds()
			out = append(out, topSender{User: user, Rate: math.Round(float64(c.n-before)/secs*100) / 100})
		}
	}
	slices.SortFunc(out, func(a, b topSender) int {
		return cmp.Or(cmp.Compare(b.Rate, a.Rate), cmp.Compare(a.User, b.User))
	})
	return out[:min(len(out), t.n)]
}

// close stops the snapshots; it may be called again.
func (t *topSenders) close() {
	t.stopOnce.Do(func() { close(t.stop) })
	<-t.done
}
