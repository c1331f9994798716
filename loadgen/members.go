package loadgen

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// probeRound is how long WaitMembers gives one round of probes to arrive
// before it sends the next.
const probeRound = 250 * time.Millisecond

// WaitMembers waits until the members of a cluster deliver to each other:
// a user on each member (PREFIXp0, PREFIXp1, ...) sends one message to
// the users on every other member, round after round, until every one
// of a round's messages has arrived everywhere. A cluster whose members
// do not see each other yet, or whose servers have not yet learnt where
// the users are, loses the first rounds, which a measured run would
// count against it.
func WaitMembers(ctx context.Context, members []Driver, prefix string) error {
	if prefix == "" {
		prefix = DefaultUserPrefix
	}
	users := make([]string, len(members))
	conns := make([]Conn, len(members))
	var wg sync.WaitGroup // the receivers, which end when their connections close
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		wg.Wait()
	}()
	for i, d := range members {
		users[i] = prefix + "p" + strconv.Itoa(i)
		c, err := d.Dial(ctx, users[i], nil)
		if err != nil {
			return fmt.Errorf("member %d: connect %s: %w", i, users[i], err)
		}
		conns[i] = c
	}
	p := &probes{want: len(members) * (len(members) - 1), arrived: map[int]int{}, complete: make(chan struct{})}
	for _, c := range conns {
		wg.Go(func() { p.receive(c) })
	}
	for round := 0; ; round++ {
		if err := p.send(conns, users, round); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the members did not deliver to each other: %w", context.Cause(ctx))
		case <-p.complete:
			return nil
		case <-time.After(probeRound):
		}
	}
}

// probes counts the probe messages that arrived, by round, and closes
// complete when every one of a round's want messages has.
type probes struct {
	want     int
	mu       sync.Mutex
	arrived  map[int]int
	done     bool
	complete chan struct{}
}

// send sends round's messages: from each member to the users of all the
// others. The message's id is the round; its sender index, the member.
func (p *probes) send(conns []Conn, users []string, round int) error {
	for i, c := range conns {
		var to []string
		for j, u := range users {
			if j != i {
				to = append(to, u)
			}
		}
		m := Message{ID: makeID(i, uint64(round)), To: to, Body: newBody(MinSize)}
		stampBody(m.Body, m.ID, 0)
		if err := c.Queue(&m); err != nil {
			return fmt.Errorf("member %d: probe: %w", i, err)
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("member %d: probe: %w", i, err)
		}
	}
	return nil
}

// receive counts the deliveries on one connection until it is closed;
// acknowledgements do not count, since not every system's say whether
// the message was delivered.
func (p *probes) receive(c Conn) {
	events(c, func(ev *Event) {
		if ev.Kind != EventDelivery {
			return
		}
		id, _, err := parseBody(ev.Body)
		if err != nil {
			return
		}
		_, round := splitID(id)
		p.mu.Lock()
		if p.arrived[int(round)]++; p.arrived[int(round)] == p.want && !p.done {
			p.done = true
			close(p.complete)
		}
		p.mu.Unlock()
	})
}
