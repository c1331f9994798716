package actors

import (
	"net"
)

// tlsSock is the TCP socket under a TLS connection's *tls.Conn. The
// tls.Conn writes its records through it, and it writes them as the
// outbox writes a plain socket (socketWriter), telling the outbox when
// the socket takes no more: without it, the outbox could not tell a TLS
// client that does not read from one that does.
type tlsSock struct {
	*net.TCPConn
	w socketWriter
	// onBlocked is the outbox's; it is set before the connection's first
	// write. The tls.Conn never writes from two goroutines at once.
	onBlocked func()
}

// newTLSSock wraps conn for a tls.Conn.
func newTLSSock(conn *net.TCPConn) (*tlsSock, error) {
	s := &tlsSock{TCPConn: conn}
	if err := s.w.init(conn, s.blocked); err != nil {
		return nil, err
	}
	return s, nil
}

// Write writes all of p, telling the outbox each time the client is not
// reading.
func (s *tlsSock) Write(p []byte) (int, error) { return s.w.write(p) }

func (s *tlsSock) blocked() {
	if s.onBlocked != nil {
		s.onBlocked()
	}
}
