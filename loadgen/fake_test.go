package loadgen

import (
	"context"
	"net"
	"slices"
	"sync"
	"time"
)

// fakeRelay is an in-memory relay: a Flush carries out every queued
// message at once, delivering its body to each recipient and
// acknowledging it, as its knobs say. A connection holds fakeBacklog
// events; a Flush waits for room as a socket write would.
type fakeRelay struct {
	mu    sync.Mutex
	conns map[string]*fakeConn

	// Knobs, read under mu; each gets the message id.
	drop      func(id uint64) bool   // deliver to nobody, acknowledge good
	duplicate func(id uint64) bool   // deliver twice
	bad       func(id uint64) string // acknowledge with this code, deliver nothing
	redirect  func(id uint64) string // deliver to this user instead
	// stall, when set, is called before a flush is carried out; it may
	// sleep, as a server whose socket takes no more data.
	stall func()

	// What it did.
	dropped, duplicated, refused, redirected int
	dials                                    int
	failDial                                 func(n int) error
}

// fakeBacklog is small so that hundreds of connections cost little
// memory and garbage collection, which a busy machine cannot spare.
const fakeBacklog = 256

func newFakeRelay() *fakeRelay { return &fakeRelay{conns: map[string]*fakeConn{}} }

func (f *fakeRelay) Dial(ctx context.Context, user string, local net.IP) (Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dials++
	if f.failDial != nil {
		if err := f.failDial(f.dials); err != nil {
			return nil, err
		}
	}
	c := &fakeConn{relay: f, user: user, in: make(chan Event, fakeBacklog), closed: make(chan struct{})}
	f.conns[user] = c
	return c, nil
}

type fakeConn struct {
	relay     *fakeRelay
	user      string
	queued    []Message
	in        chan Event
	closed    chan struct{}
	closeOnce sync.Once
}

func (c *fakeConn) Queue(m *Message) error {
	c.queued = append(c.queued, Message{ID: m.ID, To: m.To, Body: slices.Clone(m.Body)})
	return nil
}

func (c *fakeConn) Flush() error {
	f := c.relay
	if f.stall != nil {
		f.stall()
	}
	select {
	case <-c.closed:
		return net.ErrClosed
	default:
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range c.queued {
		if f.bad != nil {
			if code := f.bad(m.ID); code != "" {
				f.refused++
				if !c.push(Event{Kind: EventAck, ID: m.ID, Code: code}) {
					return net.ErrClosed
				}
				continue
			}
		}
		to := m.To
		switch {
		case f.drop != nil && f.drop(m.ID):
			f.dropped++
			to = nil
		case f.redirect != nil && f.redirect(m.ID) != "":
			f.redirected++
			to = []string{f.redirect(m.ID)}
		}
		for _, u := range to {
			if r := f.conns[u]; r != nil {
				r.push(Event{Kind: EventDelivery, Body: m.Body})
				if f.duplicate != nil && f.duplicate(m.ID) {
					f.duplicated++
					r.push(Event{Kind: EventDelivery, Body: m.Body})
				}
			}
		}
		if !c.push(Event{Kind: EventAck, ID: m.ID}) {
			return net.ErrClosed
		}
	}
	c.queued = c.queued[:0]
	return nil
}

// push hands ev to c's receiver, waiting for room, and reports whether
// c was still open.
func (c *fakeConn) push(ev Event) bool {
	select {
	case c.in <- ev:
		return true
	case <-c.closed:
		return false
	}
}

func (c *fakeConn) Receive(ev *Event) error {
	select {
	case e := <-c.in:
		*ev = e
		return nil
	case <-c.closed:
		return net.ErrClosed
	}
}

func (c *fakeConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

// stallWindow returns a stall function under which every flush between
// at and at+d after the first flush waits until at+d. The window counts
// from the first flush, not from its creation, so that it falls inside the
// run however long a loaded machine takes to start it.
func stallWindow(at, d time.Duration) func() {
	var first sync.Once
	var start time.Time
	return func() {
		first.Do(func() { start = time.Now() })
		if since := time.Since(start); since >= at && since < at+d {
			time.Sleep(at + d - since)
		}
	}
}
