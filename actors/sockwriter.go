package actors

import (
	"io"
	"syscall"
)

// socketWriter writes to a socket through its RawConn rather than its
// Write, so that it sees when the socket takes no more (EAGAIN): the peer
// is not reading. That is what the outbox's slow-consumer rule counts on.
// It allocates nothing per write, and is not safe for concurrent use.
type socketWriter struct {
	rc      syscall.RawConn
	writeFn func(fd uintptr) bool // writeSome, bound once
	// blocked is called each time the socket takes no more and the write
	// waits for the peer to read.
	blocked func()

	unwritten []byte
	err       error
}

// init prepares w to write to conn's socket.
func (w *socketWriter) init(conn syscall.Conn, blocked func()) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	w.rc, w.writeFn, w.blocked = rc, w.writeSome, blocked
	return nil
}

// write writes all of p, waiting (within the socket's write deadline)
// while the socket takes no more.
func (w *socketWriter) write(p []byte) (int, error) {
	w.unwritten, w.err = p, nil
	err := w.rc.Write(w.writeFn)
	n := len(p) - len(w.unwritten)
	w.unwritten = nil
	if err == nil {
		err = w.err
	}
	return n, err
}

// writeSome is the callback of RawConn.Write: it writes what is left of
// w.unwritten and reports whether it is done.
func (w *socketWriter) writeSome(fd uintptr) bool {
	for len(w.unwritten) > 0 {
		n, err := syscall.Write(int(fd), w.unwritten)
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			w.blocked()
			return false // wait until the socket takes more
		case err != nil:
			w.err = err
			return true
		case n <= 0:
			w.err = io.ErrShortWrite
			return true
		default:
			w.unwritten = w.unwritten[n:]
		}
	}
	return true
}
