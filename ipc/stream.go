package ipc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bester-project/bester/internal/gopool"
	"github.com/bester-project/bester/wire"
)

const (
	// readBufferSize sizes a connection's read buffer: many small frames
	// arrive in few system calls.
	readBufferSize = 64 << 10
	// maxIdleWorkers is how many finished workers of one connection wait
	// for the next request; any more end, so a burst leaves no crowd of
	// parked goroutines behind.
	maxIdleWorkers = 32
	// maxIdleScratch bounds the encoding buffer kept between answers, so
	// one large answer does not pin its memory.
	maxIdleScratch = 64 << 10
)

// scratchBuffers are the encoding buffers of the answers workers write. A
// kept buffer has grown to the size answers need.
var scratchBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// errShuttingDown answers a request read while the handler stops.
var errShuttingDown = errors.New("handler is shutting down")

// streamConn is one stream-mode connection. Its reader runs each request
// itself while the handler is quick, and hands requests to workers during
// a slow spell (see watchdog). Answers are gathered by an answerWriter.
type streamConn struct {
	s       *server
	conn    net.Conn
	ctx     context.Context
	out     *answerWriter
	wd      *watchdog
	workers *gopool.Pool
	// slots bounds the requests being handled at once (MaxInFlight).
	slots chan struct{}
	// running counts the goroutines of the connection: readers and
	// workers.
	running sync.WaitGroup
	// readingEnded is closed when the connection is read no more.
	readingEnded chan struct{}

	// The reader's own, used by whichever goroutine reads at the time:
	// reading passes from one to the next through inHandler.
	br      *bufio.Reader
	buf     []byte
	msg     wire.HandlerRequest // the last request read
	scratch bytes.Buffer

	// inHandler is the tick at which the reader entered a handler, 0
	// while it is not in one. The watchdog takes the reading away from a
	// stuck reader by setting it to 0; the stuck reader, back from its
	// handler, then finds neither its own tick nor 0 but, as ticks only
	// grow, a later reader's tick or 0, and knows it is reading no more.
	inHandler atomic.Uint64
	// slowUntil is the tick until which requests go to workers.
	slowUntil atomic.Uint64
}

// serveStream runs a stream connection until the server closes it, it
// breaks the protocol, or ctx is done. Requests already running are then
// cancelled and what they still answer is written before the close.
func (s *server) serveStream(ctx context.Context, conn net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &streamConn{
		s:            s,
		conn:         conn,
		ctx:          ctx,
		out:          newAnswerWriter(conn, s.opts.Logger),
		wd:           s.wd,
		workers:      gopool.New(maxIdleWorkers),
		slots:        make(chan struct{}, s.opts.MaxInFlight),
		readingEnded: make(chan struct{}),
		br:           bufio.NewReaderSize(conn, readBufferSize),
	}
	stopRead := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	c.wd.add(c)
	c.running.Add(1)
	go c.read(false)
	<-c.readingEnded
	c.wd.remove(c)
	stopRead()
	cancel()
	c.running.Wait()
	c.workers.Close()
	c.out.flush()
	conn.Close()
}

// read reads requests and runs or dispatches them until reading fails or
// the watchdog gives the reading to a new reader while this one is in a
// handler. takingOver is the new reader's.
func (c *streamConn) read(takingOver bool) {
	defer c.running.Done()
	o := c.s.opts
	if takingOver { // the previous reader is stuck: send what it gathered
		c.out.flush()
	}
	for {
		if !c.frameBuffered() {
			c.out.flush() // nothing more to run before the next read: send the answers
		}
		body, err := wire.ReadFrame(c.br, o.MaxFrame+wire.EnvelopeHeadroom, c.buf)
		if err != nil {
			c.readFailed(err)
			close(c.readingEnded)
			return
		}
		c.buf = body // decoding copies what it keeps, so the buffer is reused
		msg := &c.msg
		plainData, err := o.Codec.UnmarshalHandlerRequest(body, msg)
		if err != nil {
			o.Logger.Warn("undecodable request; closing connection", "codec", o.Codec, "err", err)
			c.conn.Close()
			close(c.readingEnded)
			return
		}
		if !c.takeSlot() {
			c.answer(&c.scratch, msg.ID, failure(errShuttingDown), true)
			close(c.readingEnded)
			return
		}
		req := newRequest(msg, plainData, &o)
		if c.wd.now() < c.slowUntil.Load() {
			c.dispatch(req)
			continue
		}
		if !c.runInline(req) {
			return // the watchdog gave the reading to a new reader
		}
	}
}

// newRequest is the Request for msg, read by UnmarshalHandlerRequest,
// which reported whether its data is plain.
func newRequest(msg *wire.HandlerRequest, plainData bool, o *Options) *Request {
	req := &Request{ID: msg.ID, Type: msg.Type, From: msg.From, Origin: msg.Origin, Data: msg.Data,
		Codec: o.Codec, Informer: o.Informer}
	if plainData {
		req.plainData = msg.Data
	}
	return req
}

// runInline runs req on the reader and reports whether this goroutine is
// still the reader after it.
func (c *streamConn) runInline(req *Request) bool {
	entered := c.wd.now()
	c.inHandler.Store(entered)
	c.wd.watch()
	resp := invoke(c.ctx, c.s.h, req, c.s.opts.Logger)
	if c.inHandler.CompareAndSwap(entered, 0) {
		c.answer(&c.scratch, req.ID, resp, true)
		<-c.slots
		return true
	}
	c.answerWithPooled(req.ID, resp)
	<-c.slots
	return false
}

// takeOverIfStuck is the watchdog's look at c at tick now: it starts a
// new reader when the reader has been in a handler for more than
// stuckTicks, and reports whether c needs the watchdog to keep
// ticking.
func (c *streamConn) takeOverIfStuck(now uint64) bool {
	since := c.inHandler.Load()
	if since != 0 && now-since > stuckTicks && c.ctx.Err() == nil {
		if c.inHandler.CompareAndSwap(since, 0) {
			c.slowUntil.Store(now + slowSpell)
			c.running.Add(1) // the stuck reader is still counted: never from zero
			go c.read(true)
		}
	}
	return since != 0 || now < c.slowUntil.Load()
}

// dispatch runs req on a worker. A worker that finds the handler slow
// extends the connection's slow spell.
func (c *streamConn) dispatch(req *Request) {
	c.running.Add(1)
	c.workers.Go(func() {
		defer c.running.Done()
		start := c.wd.now()
		resp := invoke(c.ctx, c.s.h, req, c.s.opts.Logger)
		if now := c.wd.now(); now-start > stuckTicks {
			c.slowUntil.Store(now + slowSpell)
			// The watchdog may have gone to sleep while the call ran, and
			// its ticks with it: the spell would never end.
			c.wd.watch()
		}
		c.answerWithPooled(req.ID, resp)
		<-c.slots
	})
}

// takeSlot waits for room among the requests in flight; false when the
// connection is stopping.
func (c *streamConn) takeSlot() bool {
	select {
	case c.slots <- struct{}{}:
		return true
	default:
	}
	c.out.flush() // the answers that will free a slot may be waiting for it
	select {
	case c.slots <- struct{}{}:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// answer encodes resp for request id in scratch and adds it to the
// connection's answers; later is the reader's: it flushes itself.
func (c *streamConn) answer(scratch *bytes.Buffer, id uint64, resp *Response, later bool) {
	o := c.s.opts
	b, hangUp := encodeAnswer(scratch, resp, o.Codec, &id, o.MaxFrame+wire.EnvelopeHeadroom)
	c.out.add(b, hangUp, later)
}

// answerWithPooled is answer in a buffer of scratchBuffers.
func (c *streamConn) answerWithPooled(id uint64, resp *Response) {
	scratch := scratchBuffers.Get().(*bytes.Buffer)
	c.answer(scratch, id, resp, false)
	if scratch.Cap() <= maxIdleScratch {
		scratchBuffers.Put(scratch)
	}
}

// frameBuffered reports whether a whole frame waits in the read buffer,
// so that reading it will not wait.
func (c *streamConn) frameBuffered() bool {
	n := c.br.Buffered()
	if n < wire.FrameHeaderSize {
		return false
	}
	head, _ := c.br.Peek(wire.FrameHeaderSize)
	return uint64(n-wire.FrameHeaderSize) >= uint64(binary.LittleEndian.Uint32(head))
}

// readFailed logs why reading stopped. A protocol error closes the
// connection at once; an orderly end lets running requests answer first.
func (c *streamConn) readFailed(err error) {
	log := c.s.opts.Logger
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case c.ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded):
	case errors.Is(err, wire.ErrFrameTooLarge), errors.Is(err, wire.ErrEmptyFrame),
		errors.Is(err, io.ErrUnexpectedEOF):
		log.Warn("bad frame from the server; closing connection", "err", err)
		c.conn.Close()
	default:
		log.Warn("read failed; closing connection", "err", err)
		c.conn.Close()
	}
}
