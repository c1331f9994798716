package actors

import (
	"bytes"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/bester-project/bester/actors/internal/gopool"
	"github.com/bester-project/bester/wire"
)

// writeTimeout bounds one socket write to a client; a client that takes
// longer is treated as gone.
const writeTimeout = 10 * time.Second

// outbox is a connection's bounded queue of outgoing messages, drained by
// a writer goroutine that encodes everything queued and writes it with a
// single system call. The writer runs only while there is something to
// write or close: push starts it when none runs, and it ends once the
// queue is empty, so an idle connection holds neither a goroutine nor a
// buffer. There is never more than one writer, so messages go out in the
// order they were queued. The limit counts only while the socket takes no
// more (the peer is not reading): messages that wait merely for the writer
// to be scheduled are no sign of a peer that does not read, however many
// arrive at once.
type outbox struct {
	mu      sync.Mutex
	items   []any // *wire.StatusReport, *deliver, *wire.DummyReply, *wire.HandlerRequest, ...
	spare   []any // the last batch's slice, reused by the next writer
	limit   int
	running bool // a writer goroutine runs
	blocked bool // the writer waits for the peer to read before it can write more
	closing bool // no more items; the writer flushes and then closes conn
	abort   bool // close without flushing
	failed  bool // a write failed: what is queued is dropped
	// onClosed, when set, is called by the writer once it has closed conn.
	onClosed func()

	conn  net.Conn
	pool  *gopool.Pool // runs the writer
	codec func() wire.Codec
	onErr func(error) // called once, from the writer, when encoding or writing fails

	// The writer's own state for the socket's RawConn.Write, kept here
	// so that a write allocates nothing.
	rc        syscall.RawConn
	writeFn   func(fd uintptr) bool
	unwritten []byte
	werr      error
}

// maxSpareBatch is the largest batch slice an idle outbox keeps.
const maxSpareBatch = 64

// writeBuffers holds encoding buffers between bursts, shared by every
// outbox, so that an idle connection keeps none.
var writeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func newOutbox(pool *gopool.Pool, conn net.Conn, limit int, codec func() wire.Codec, onErr func(error)) *outbox {
	return &outbox{pool: pool, conn: conn, limit: limit, codec: codec, onErr: onErr}
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
	start := !o.running
	o.running = true
	o.mu.Unlock()
	if start {
		o.pool.Go(o.run)
	}
	return true
}

// close ends the writer: after writing what is queued when flush is true,
// at once otherwise. The writer closes the socket.
func (o *outbox) close(flush bool) {
	o.mu.Lock()
	o.closing = true
	o.abort = o.abort || !flush
	start := !o.running
	o.running = true
	o.mu.Unlock()
	if start {
		o.pool.Go(o.run)
	}
}

// closeAfterFlush is close(true) that calls done, from the writer, once
// the socket is closed: a connection that closes at shutdown stays until
// what it queued has been written.
func (o *outbox) closeAfterFlush(done func()) {
	o.mu.Lock()
	o.onClosed = done
	o.mu.Unlock()
	o.close(true)
}

// run is the writer goroutine: it writes until the queue is empty, then
// ends, or closes the socket once the outbox is closing.
func (o *outbox) run() {
	var buf *bytes.Buffer
	for {
		o.mu.Lock()
		batch := o.items
		o.items, o.spare = o.spare[:0], nil
		closing, abort := o.closing, o.abort
		if !abort && len(batch) == 0 {
			o.spare = batch
			if !closing {
				o.running = false
			}
		}
		o.mu.Unlock()
		if abort || (closing && len(batch) == 0) {
			if buf != nil {
				writeBuffers.Put(buf)
			}
			o.conn.Close()
			o.closed()
			return
		}
		if len(batch) == 0 {
			if buf != nil {
				writeBuffers.Put(buf)
			}
			return
		}
		if !o.failed {
			if buf == nil {
				buf = writeBuffers.Get().(*bytes.Buffer)
			}
			buf.Reset()
			codec := o.codec()
			for _, m := range batch {
				if err := appendFrame(buf, codec, m); err != nil {
					o.onErr(err)
				}
			}
			o.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := o.write(buf.Bytes()); err != nil {
				o.failed = true
				o.onErr(err)
			}
			if buf.Cap() > 64<<10 { // do not keep a burst's buffer for idle connections
				buf = new(bytes.Buffer)
			}
		}
		clear(batch)
		o.mu.Lock()
		if o.spare == nil && cap(batch) <= maxSpareBatch {
			o.spare = batch[:0]
		}
		o.mu.Unlock()
	}
}

// closed calls onClosed, once.
func (o *outbox) closed() {
	o.mu.Lock()
	done := o.onClosed
	o.onClosed = nil
	o.mu.Unlock()
	if done != nil {
		done()
	}
}

// appendFrame encodes m as a frame at the end of buf.
func appendFrame(buf *bytes.Buffer, codec wire.Codec, m any) error {
	if d, ok := m.(*deliver); ok {
		return d.appendFrame(buf, codec)
	}
	return codec.AppendFrame(buf, m)
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
