package actors

import (
	"bytes"
	"crypto/tls"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/bester-project/bester/internal/gopool"
	"github.com/bester-project/bester/wire"
)

// writeTimeout bounds one socket write to a client: a batch of the outbox
// on a plain socket, a TLS record under a TLS connection (tlsSock). A
// client that takes longer is treated as gone.
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
// arrive at once. The same holds for the byte limit, and for the server's
// budget, which is charged with what a blocked outbox holds.
type outbox struct {
	mu      sync.Mutex
	items   []any // *wire.StatusReport, *deliver, *wire.DummyReply, *wire.HandlerRequest, ...
	spare   []any // the last batch's slice, reused by the next writer
	limits  outboxLimits
	bytes   int   // queued and being written, as itemSize counts them
	charged int64 // bytes charged to the budget: all of bytes while blocked, else none
	running bool  // a writer goroutine runs
	blocked bool  // the writer waits for the peer to read before it can write more
	closing bool  // no more items; the writer flushes and then closes conn
	abort   bool  // close without flushing
	failed  bool  // a write failed: what is queued is dropped
	// onClosed, when set, is called by the writer once it has closed conn.
	onClosed func()

	conn  net.Conn
	pool  *gopool.Pool // runs the writer
	codec func() wire.Codec
	onErr func(error) // called once, from the writer, when encoding or writing fails

	// writeTo is how the writer writes, chosen for conn by writerFor.
	writeTo func([]byte) error
	// sock writes a plain socket; it lives here so that a write
	// allocates nothing.
	sock socketWriter
	// metrics count what a client's or peer's outbox writes; nil for a
	// handler's, or when metrics are off.
	metrics *metrics
}

// maxSpareBatch is the largest batch slice an idle outbox keeps.
const maxSpareBatch = 64

// writeBuffers holds encoding buffers between bursts, shared by every
// outbox, so that an idle connection keeps none.
var writeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// outboxLimits bound what may wait while the peer does not read.
type outboxLimits struct {
	count  int     // messages
	bytes  int     // bytes, as itemSize counts them; one message may always wait
	budget *budget // the server's, charged while blocked; nil for the server's own links
}

// envelopeSize is what itemSize counts for a message's envelope: a
// generous estimate, so that many small messages weigh what they cost.
const envelopeSize = 128

// cutWhenSpent is the most, in bytes, a blocked outbox may hold when the
// server's budget is spent: past it, its client is cut rather than let
// every other reader wait.
const cutWhenSpent = 64 << 10

// itemSize is the bytes a queued message holds.
func itemSize(m any) int {
	switch m := m.(type) {
	case *deliver:
		return envelopeSize + len(m.msg.Payload.Data)
	case *wire.HandlerRequest:
		return envelopeSize + len(m.Data)
	}
	return envelopeSize
}

func newOutbox(pool *gopool.Pool, conn net.Conn, limits outboxLimits, codec func() wire.Codec, onErr func(error)) *outbox {
	o := &outbox{pool: pool, conn: conn, limits: limits, codec: codec, onErr: onErr}
	o.writeTo = o.writerFor(conn)
	return o
}

// writerFor chooses how the writer writes to conn so that it learns when
// the peer stops reading: a socket through its RawConn (socketWriter), a
// TLS connection through its tls.Conn over a tlsSock, which tells it.
// Of any other connection it cannot tell, so every write counts as
// waiting for the peer.
func (o *outbox) writerFor(conn net.Conn) func([]byte) error {
	if tc, ok := conn.(*tls.Conn); ok {
		if s, ok := tc.NetConn().(*tlsSock); ok {
			s.onBlocked = o.markBlocked
			return o.writeTLS
		}
	} else if sc, ok := conn.(syscall.Conn); ok && o.sock.init(sc, o.markBlocked) == nil {
		return o.writeSocket
	}
	return o.writeBlind
}

// push queues m and reports false when the queue is closing, or full
// while the peer is not reading.
func (o *outbox) push(m any) bool {
	size := itemSize(m)
	o.mu.Lock()
	if o.closing || (o.blocked && o.full(size)) {
		o.mu.Unlock()
		return false
	}
	o.bytes += size
	o.items = append(o.items, m)
	if o.blocked {
		o.recharge()
	}
	start := !o.running
	o.running = true
	o.mu.Unlock()
	if start {
		o.pool.Go(o.run)
	}
	return true
}

// full reports whether a blocked outbox must refuse size more bytes.
func (o *outbox) full(size int) bool {
	switch {
	case len(o.items) >= o.limits.count:
		return true
	case o.bytes+size > o.limits.bytes && len(o.items) > 0:
		return true
	}
	return o.limits.budget != nil && o.bytes > cutWhenSpent && o.limits.budget.spent()
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
		batch, batchBytes := o.items, o.bytes
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
			o.mu.Lock()
			o.uncharge()
			o.mu.Unlock()
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
			buf.Grow(batchBytes) // one allocation for a large message, not a doubling series
			codec := o.codec()
			deliveries := 0
			for _, m := range batch {
				if _, ok := m.(*deliver); ok {
					deliveries++
				}
				if err := appendFrame(buf, codec, m); err != nil {
					o.onErr(err)
				}
			}
			if err := o.write(buf.Bytes()); err != nil {
				o.failed = true
				o.onErr(err)
			} else {
				o.metrics.wrote(buf.Len(), deliveries)
			}
			if buf.Cap() > 64<<10 { // do not keep a burst's buffer for idle connections
				buf = new(bytes.Buffer)
			}
		}
		clear(batch)
		o.mu.Lock()
		o.bytes -= batchBytes
		o.recharge()
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

// recharge makes what the budget is charged match what waits while the
// peer does not read: everything queued or being written, or nothing;
// o.mu is held.
func (o *outbox) recharge() {
	var want int64
	if o.blocked {
		want = int64(o.bytes)
	}
	o.chargeTo(want)
}

// uncharge gives the budget back all it was charged; o.mu is held.
func (o *outbox) uncharge() { o.chargeTo(0) }

// chargeTo moves what the budget is charged to want; o.mu is held.
func (o *outbox) chargeTo(want int64) {
	if o.limits.budget == nil || want == o.charged {
		return
	}
	if want > o.charged {
		o.limits.budget.charge(want - o.charged)
	} else {
		o.limits.budget.release(o.charged - want)
	}
	o.charged = want
}

func (o *outbox) setBlocked(b bool) {
	o.mu.Lock()
	o.blocked = b
	o.recharge()
	o.mu.Unlock()
}

// markBlocked records that the socket takes no more: the peer is not
// reading, and the limits count from now until the write ends.
func (o *outbox) markBlocked() { o.setBlocked(true) }

// write writes all of buf; the outbox is blocked from when the socket
// takes no more until the write ends.
func (o *outbox) write(buf []byte) error {
	err := o.writeTo(buf)
	o.setBlocked(false)
	return err
}

func (o *outbox) writeSocket(buf []byte) error {
	o.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := o.sock.write(buf)
	return err
}

// writeTLS writes to a TLS connection over a tlsSock, which bounds each of
// its writes itself: a deadline set here would stay on the socket after
// the write, for the TLS layer's own writes to find expired.
func (o *outbox) writeTLS(buf []byte) error {
	_, err := o.conn.Write(buf)
	return err
}

// writeBlind writes to a connection that cannot tell whether its peer
// reads: any write might be waiting for it.
func (o *outbox) writeBlind(buf []byte) error {
	o.setBlocked(true)
	o.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := o.conn.Write(buf)
	return err
}
