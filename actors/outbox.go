package actors

import (
	"bytes"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/bester-project/bester/wire"
)

// writeTimeout bounds one socket write to a client; a client that takes
// longer is treated as gone.
const writeTimeout = 10 * time.Second

// outbox is a connection's bounded queue of outgoing messages, drained by
// one writer goroutine that encodes everything queued and writes it with a
// single system call. Its memory grows only while messages wait. The limit
// counts only while the socket takes no more (the peer is not reading):
// messages that wait merely for the writer to be scheduled are no sign of
// a peer that does not read, however many arrive at once.
type outbox struct {
	mu      sync.Mutex
	items   []any // *wire.StatusReport, *wire.Delivery, *wire.DummyReply
	limit   int
	blocked bool // the writer waits for the peer to read before it can write more
	closing bool // no more items; the writer flushes and then closes conn
	abort   bool // close without flushing
	wake    chan struct{}

	conn  net.Conn
	codec func() wire.Codec
	onErr func(error) // called once, from the writer, when encoding or writing fails

	// The writer's own state for the socket's RawConn.Write, kept here
	// so that a write allocates nothing.
	rc        syscall.RawConn
	writeFn   func(fd uintptr) bool
	unwritten []byte
	werr      error
}

func newOutbox(conn net.Conn, limit int, codec func() wire.Codec, onErr func(error)) *outbox {
	return &outbox{conn: conn, limit: limit, codec: codec, onErr: onErr, wake: make(chan struct{}, 1)}
}

// push queues m and reports false when the queue is closing, or full
// while the peer is not reading.
func (o *outbox) push(m any) bool {
	o.mu.Lock()
	if o.closing || (o.blocked && len(o.items) >= o.limit) {
		o.mu.Unlock()
		return false
	}
	o.items = append(o.items, m)
	o.mu.Unlock()
	o.signal()
	return true
}

// close ends the writer: after writing what is queued when flush is true,
// at once otherwise. The writer closes the socket.
func (o *outbox) close(flush bool) {
	o.mu.Lock()
	o.closing = true
	o.abort = o.abort || !flush
	o.mu.Unlock()
	o.signal()
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// run is the writer goroutine.
func (o *outbox) run() {
	defer o.conn.Close()
	var batch []any
	var buf bytes.Buffer
	failed := false
	for range o.wake {
		o.mu.Lock()
		batch, o.items = o.items, batch[:0]
		closing, abort := o.closing, o.abort
		o.mu.Unlock()
		if abort {
			return
		}
		if !failed && len(batch) > 0 {
			buf.Reset()
			codec := o.codec()
			for _, m := range batch {
				if err := codec.AppendFrame(&buf, m); err != nil {
					o.onErr(err)
				}
			}
			o.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := o.write(buf.Bytes()); err != nil {
				failed = true
				o.onErr(err)
			}
			if buf.Cap() > 64<<10 { // do not keep a burst's buffer for an idle connection
				buf = bytes.Buffer{}
			}
		}
		clear(batch)
		if closing {
			return
		}
	}
}

func (o *outbox) setBlocked(b bool) {
	o.mu.Lock()
	o.blocked = b
	o.mu.Unlock()
}

// write writes all of buf, marking the outbox blocked while the socket
// takes no more.
func (o *outbox) write(buf []byte) error {
	if o.rc == nil {
		sc, ok := o.conn.(syscall.Conn)
		if !ok { // no way to tell: any write might be waiting for the peer
			o.setBlocked(true)
			defer o.setBlocked(false)
			_, err := o.conn.Write(buf)
			return err
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return err
		}
		o.rc, o.writeFn = rc, o.writeSome
	}
	o.unwritten, o.werr = buf, nil
	err := o.rc.Write(o.writeFn)
	o.unwritten = nil
	o.setBlocked(false)
	if err == nil {
		err = o.werr
	}
	return err
}

// writeSome is the callback of RawConn.Write: it writes what is left of
// o.unwritten and reports whether it is done.
func (o *outbox) writeSome(fd uintptr) bool {
	for len(o.unwritten) > 0 {
		n, err := syscall.Write(int(fd), o.unwritten)
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			o.setBlocked(true)
			return false // wait until the socket takes more
		case err != nil:
			o.werr = err
			return true
		case n <= 0:
			o.werr = io.ErrShortWrite
			return true
		default:
			o.unwritten = o.unwritten[n:]
		}
	}
	return true
}
