package loadgen

import (
	"context"
	"fmt"
	"net"
)

// Driver connects users to one target.
type Driver interface {
	// Dial connects and authenticates as user. local is the source
	// address to dial from; nil lets the system choose.
	Dial(ctx context.Context, user string, local net.IP) (Conn, error)
}

// Conn is one user's connection. Queue and Flush are called from one
// goroutine and its events are taken on another, so they must not share
// unguarded state. Close may be called from any goroutine, and ends the
// taking of events. Every Conn is also a Receiver or a Pusher, whichever
// suits its client library.
type Conn interface {
	// Queue buffers m for sending; it may write when its buffer fills.
	// m and m.Body may be reused once Queue returns.
	Queue(m *Message) error
	// Flush writes what Queue buffered.
	Flush() error
	// Close closes the connection.
	Close() error
}

// Receiver is a Conn that is asked for each event in turn.
type Receiver interface {
	// Receive waits for the next acknowledgement or delivery and
	// fills ev. ev.Body may point into a buffer reused by the next
	// Receive.
	Receive(ev *Event) error
}

// Pusher is a Conn whose client library reads on goroutines of its own
// and calls back with each message, as NATS's does: handing every message
// over to a Receive would cost a goroutine switch each.
type Pusher interface {
	// Push calls handle with every acknowledgement and delivery, one
	// call at a time, until the connection is closed, and returns what
	// ended it. ev and ev.Body are only valid during the call.
	Push(handle func(ev *Event)) error
}

// events calls handle with every event c gets, one at a time, until it is
// closed, and returns what ended it.
func events(c Conn, handle func(ev *Event)) error {
	switch c := c.(type) {
	case Pusher:
		return c.Push(handle)
	case Receiver:
		var ev Event
		for {
			ev = Event{}
			if err := c.Receive(&ev); err != nil {
				return err
			}
			handle(&ev)
		}
	}
	return fmt.Errorf("connection %T is neither a Receiver nor a Pusher", c)
}

// Message is one message to send.
type Message struct {
	// ID is unique within a run; the target's acknowledgement carries it.
	ID uint64
	// To names the recipients, the same slice for every message of one
	// sender.
	To []string
	// Body is what every recipient must receive unchanged.
	Body []byte
}

// EventKind tells what a Receive got.
type EventKind uint8

// Kinds of events.
const (
	// EventOther is anything else; the engine ignores it.
	EventOther EventKind = iota
	// EventAck is the target's acknowledgement of a message the
	// connection sent (a status report).
	EventAck
	// EventDelivery is a message delivered to the connection's user.
	EventDelivery
)

// Event is what Receive got.
type Event struct {
	Kind EventKind
	// ID is the acknowledged message's id (EventAck).
	ID uint64
	// Code is empty for a good acknowledgement, else the error code
	// (EventAck).
	Code string
	// Undelivered counts the recipients the target could not reach
	// (EventAck with a code).
	Undelivered int
	// Body is the delivered body (EventDelivery).
	Body []byte
}
