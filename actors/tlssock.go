package actors

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
)

// tlsSock is the TCP socket under a TLS connection's *tls.Conn. It does
// three jobs for the TLS layer above it:
//
//   - it writes the records as the outbox writes a plain socket
//     (socketWriter), telling the outbox when the socket takes no more:
//     without it, the outbox could not tell a TLS client that does not
//     read from one that does;
//   - it bounds every write by writeTimeout unless the connection's owner
//     set a write deadline: the TLS layer also writes from the reader's
//     goroutine (the answer to a key update), and a deadline left by an
//     earlier write would have long expired, which breaks the connection;
//   - during the handshake, it holds one of the server's handshake slots
//     while the handshake computes and gives it back while the
//     handshake waits for the client.
type tlsSock struct {
	*net.TCPConn
	w socketWriter
	// onBlocked is the outbox's, set when the outbox takes the
	// connection: for a client's connection before any write, for a peer
	// link's after the handshake and the hello, whose writes find it nil.
	// The tls.Conn never writes from two goroutines at once.
	onBlocked func()
	// turn is the handshake's claim on the slots while it runs; nil
	// before and after.
	turn *handshakeTurn

	deadlineMu sync.Mutex // orders the owner's write deadline and a write's own
	// ownDeadline is set while the owner has a write deadline set, which
	// writes then keep.
	ownDeadline bool
}

// newTLSSock wraps conn for a tls.Conn.
func newTLSSock(conn *net.TCPConn) (*tlsSock, error) {
	s := &tlsSock{TCPConn: conn}
	if err := s.w.init(conn, s.blocked); err != nil {
		return nil, err
	}
	return s, nil
}

// Write writes all of p within the owner's write deadline, or within
// writeTimeout from now when there is none, telling the outbox each time
// the client is not reading.
func (s *tlsSock) Write(p []byte) (int, error) {
	s.deadlineMu.Lock()
	if !s.ownDeadline {
		s.TCPConn.SetWriteDeadline(time.Now().Add(writeTimeout))
	}
	s.deadlineMu.Unlock()
	return s.w.write(p)
}

// SetDeadline sets the read and write deadlines; a zero t lets each write
// have writeTimeout again.
func (s *tlsSock) SetDeadline(t time.Time) error { return s.setOwnDeadline(t, s.TCPConn.SetDeadline) }

// SetWriteDeadline sets the write deadline; a zero t lets each write have
// writeTimeout again.
func (s *tlsSock) SetWriteDeadline(t time.Time) error {
	return s.setOwnDeadline(t, s.TCPConn.SetWriteDeadline)
}

// setOwnDeadline records whether the owner now has a write deadline, and
// sets t with set.
func (s *tlsSock) setOwnDeadline(t time.Time, set func(time.Time) error) error {
	s.deadlineMu.Lock()
	defer s.deadlineMu.Unlock()
	s.ownDeadline = !t.IsZero()
	return set(t)
}

func (s *tlsSock) blocked() {
	if s.onBlocked != nil {
		s.onBlocked()
	}
}

// Read reads from the socket. During the handshake it holds no slot
// while it waits, and takes one for the computing that follows.
func (s *tlsSock) Read(p []byte) (int, error) {
	if s.turn == nil {
		return s.TCPConn.Read(p)
	}
	s.turn.release()
	n, err := s.TCPConn.Read(p)
	if err == nil {
		err = s.turn.take()
	}
	return n, err
}

// startHandshake makes the handshake that follows wait for a slot of
// slots before it computes, until deadline or until quit closes.
func (s *tlsSock) startHandshake(slots handshakeSlots, deadline time.Time, quit <-chan struct{}) {
	s.turn = &handshakeTurn{slots: slots, deadline: deadline, quit: quit}
}

// endHandshake gives back the slot the handshake holds.
func (s *tlsSock) endHandshake() {
	s.turn.release()
	s.turn = nil
}

// handshakeSlots bounds the TLS handshakes that compute at once to half
// the processors (at least one), as auth bounds bcrypt comparisons: a full
// handshake costs the server about 0.3 ms of processor time, so a storm
// of them would otherwise starve the clients already logged in. A
// handshake holds a slot only while it computes, so a client that is slow
// or stalls holds none.
type handshakeSlots chan struct{}

func newHandshakeSlots() handshakeSlots {
	return make(handshakeSlots, max(1, runtime.GOMAXPROCS(0)/2))
}

// handshakeTurn is one handshake's use of the slots.
type handshakeTurn struct {
	slots    handshakeSlots
	held     bool
	deadline time.Time
	quit     <-chan struct{}
}

// errHandshakeLeft ends a handshake whose connection is closing while it
// waits for a slot.
var errHandshakeLeft = errors.New("the connection is closing")

// take waits for a slot until the handshake's deadline, which then
// fails the handshake as a read past it would.
func (t *handshakeTurn) take() error {
	select {
	case t.slots <- struct{}{}:
		t.held = true
		return nil
	default:
	}
	timer := time.NewTimer(time.Until(t.deadline))
	defer timer.Stop()
	select {
	case t.slots <- struct{}{}:
		t.held = true
		return nil
	case <-timer.C:
		return os.ErrDeadlineExceeded
	case <-t.quit:
		return errHandshakeLeft
	}
}

// release gives the slot back, if held.
func (t *handshakeTurn) release() {
	if t.held {
		<-t.slots
		t.held = false
	}
}
