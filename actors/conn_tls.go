package actors

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/bester-project/bester/wire"
)

// Refused connections are closed gracefully: what the client sent and the
// server did not read would otherwise make the close a reset, which may
// destroy the refusal before the client reads it.
const (
	// lingerTime bounds how long a refused connection is read, and
	// discarded, after its refusal was written.
	lingerTime = time.Second
	// lingerBytes bounds what is read then.
	lingerBytes = 64 << 10
)

// handshake runs the TLS handshake of a connection on a TLS listener
// before its first frame, within limit, the first message's deadline. It
// returns why reading ends when the handshake fails.
func (r *connReader) handshake(tc *tls.Conn, limit time.Time) (reason string, ok bool) {
	tc.SetDeadline(limit)
	if r.draining.Load() { // as in next: drain may have set its deadline first
		tc.SetReadDeadline(time.Now())
	}
	err := tc.Handshake()
	tc.SetWriteDeadline(time.Time{}) // the outbox sets its own
	if err == nil {
		return "", true
	}
	return r.handshakeFailed(err), false
}

// handshakeFailed logs why a handshake failed, tells a client that spoke
// in clear to a TLS listener what went wrong, and returns the reason for
// readerDone. Clients that give up on the server's certificate, or are
// refused for theirs, are logged with the TLS error that says why.
func (r *connReader) handshakeFailed(err error) string {
	var plain tls.RecordHeaderError
	var ne net.Error
	log := r.logger().With("listener", r.tls.name)
	switch {
	case errors.As(err, &plain) && plain.Conn != nil:
		r.strangerLogs.Warn(log, "plain text sent to a TLS listener, refused")
		writeRefusal(plain.Conn, r.currentCodec(),
			wire.Errorf(wire.CodeUnauthorized, "listener %q speaks TLS only; connect with TLS", r.tls.name))
		lingerClose(plain.Conn)
		return "plain text on a TLS listener"
	case r.draining.Load():
		return "server draining"
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded):
		r.strangerLogs.Warn(log, "TLS handshake not complete within auth_timeout, closing", "auth_timeout", r.authTimeout)
		return "TLS handshake timed out"
	case errors.Is(err, io.EOF):
		r.logger().Debug("closed by the client during the TLS handshake")
		return "closed during the TLS handshake"
	}
	r.strangerLogs.Warn(log, "TLS handshake failed", "error", err)
	return "TLS handshake failed"
}

// lingerClose ends the sending side of a refused connection and reads
// what the client still sends, for a moment, so that closing it does not
// reset it before the client has read its refusal.
func lingerClose(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, io.LimitReader(conn, lingerBytes))
}

// closeSocket closes a connection's socket at once: for TLS without the
// close_notify alert, a write that could wait on a client that does not
// read.
func closeSocket(conn net.Conn) error {
	if tc, ok := conn.(*tls.Conn); ok {
		return tc.NetConn().Close()
	}
	return conn.Close()
}
