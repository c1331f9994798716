package ipc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/bester-project/bester/internal/gopool"
	"github.com/bester-project/bester/wire"
)

const (
	// writeTimeout bounds how long a write to the server may stall, so a
	// server that stops reading cannot pin a connection forever.
	writeTimeout = 30 * time.Second
	// deadlineRefresh is how stale the write deadline may get before it is
	// pushed back; it spares a timer update per frame.
	deadlineRefresh = time.Second
	// writeQueueLen is how many encoded answers may wait for the writer.
	writeQueueLen = 64
	// readBufferSize and writeBufferSize size the per-connection buffers:
	// many small frames travel in few system calls.
	readBufferSize  = 64 << 10
	writeBufferSize = 64 << 10
	// maxIdleWorkers is how many finished workers of one connection wait
	// for the next request; any more end, so a burst leaves no crowd of
	// parked goroutines behind.
	maxIdleWorkers = 32
	// maxIdleScratch bounds the encoding buffer kept between answers, so
	// one large answer does not pin its memory.
	maxIdleScratch = 64 << 10
)

// scratchBuffers are the encoding buffers of answers. A kept buffer has
// grown to the size answers need: encoding one then allocates only the
// frame it returns.
var scratchBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

var (
	// errHungUp ends the writer after a rawanswer.HangUp.
	errHungUp = errors.New("connection hung up by the handler")
	// errShuttingDown answers a request read while the handler stops.
	errShuttingDown = errors.New("handler is shutting down")
)

// outFrame is one queued write: a whole frame, or rawanswer.HangUp bytes.
type outFrame struct {
	b      []byte
	hangUp bool
}

// streamConn is one stream-mode connection: a reader that hands each
// request to a worker goroutine and a writer that serializes and batches
// answers.
type streamConn struct {
	s          *server
	conn       net.Conn
	queue      chan outFrame
	writerDone chan struct{}
	// workers run the requests. A finished one waits for the next request
	// rather than ending: that spares a new goroutine per request and,
	// above all, the stack growth each new one goes through while decoding.
	workers *gopool.Pool
	// deadlineSet is when the write deadline was last pushed back; only
	// the writer goroutine touches it.
	deadlineSet time.Time
}

// serveStream runs a stream connection until the server closes it, it
// breaks the protocol, or ctx is done. Requests already running are then
// cancelled and what they still answer is written before the close.
func (s *server) serveStream(ctx context.Context, conn net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &streamConn{
		s:          s,
		conn:       conn,
		queue:      make(chan outFrame, writeQueueLen),
		writerDone: make(chan struct{}),
		workers:    gopool.New(maxIdleWorkers),
	}
	go c.writeLoop()
	stopRead := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	var wg sync.WaitGroup
	c.readLoop(ctx, &wg)
	stopRead()
	cancel()
	c.workers.Close()
	wg.Wait()
	close(c.queue)
	<-c.writerDone
	conn.Close()
}

// readLoop reads requests and starts their handling, at most MaxInFlight at
// once per connection.
func (c *streamConn) readLoop(ctx context.Context, wg *sync.WaitGroup) {
	o := c.s.opts
	br := bufio.NewReaderSize(c.conn, readBufferSize)
	sem := make(chan struct{}, o.MaxInFlight)
	var buf []byte
	for {
		body, err := wire.ReadFrame(br, o.MaxFrame+wire.EnvelopeHeadroom, buf)
		if err != nil {
			c.readFailed(ctx, err)
			return
		}
		buf = body // decoding copies what it keeps, so the buffer is reused
		var msg wire.HandlerRequest
		if err := o.Codec.UnmarshalMap(body, &msg); err != nil {
			o.Logger.Warn("undecodable request; closing connection", "codec", o.Codec, "err", err)
			c.conn.Close()
			return
		}
		id := msg.ID
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			b, _ := encodeFrame(failure(errShuttingDown), o.Codec, &id, o.MaxFrame+wire.EnvelopeHeadroom)
			c.send(outFrame{b: b})
			return
		}
		req := &Request{ID: id, Type: msg.Type, From: msg.From, Origin: msg.Origin, Data: msg.Data,
			Codec: o.Codec, Informer: o.Informer}
		wg.Add(1)
		work := func() {
			c.handle(ctx, req)
			<-sem
			wg.Done()
		}
		if !c.workers.TryGo(work) {
			// Let running workers finish first: the reader outpaces them,
			// and a fast handler needs no more workers than processors.
			// A slow one still gets a new worker right after.
			runtime.Gosched()
			c.workers.Go(work)
		}
	}
}

// readFailed logs why reading stopped. A protocol error closes the
// connection at once; an orderly end lets running requests answer first.
func (c *streamConn) readFailed(ctx context.Context, err error) {
	log := c.s.opts.Logger
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded):
	case errors.Is(err, wire.ErrFrameTooLarge), errors.Is(err, wire.ErrEmptyFrame),
		errors.Is(err, io.ErrUnexpectedEOF):
		log.Warn("bad frame from the server; closing connection", "err", err)
		c.conn.Close()
	default:
		log.Warn("read failed; closing connection", "err", err)
		c.conn.Close()
	}
}

// handle answers one request, encoding the answer in a buffer kept for
// the next answers.
func (c *streamConn) handle(ctx context.Context, req *Request) {
	o := c.s.opts
	resp := invoke(ctx, c.s.h, req, o.Logger)
	id := req.ID
	scratch := scratchBuffers.Get().(*bytes.Buffer)
	b, hangUp := encodeFrameWith(scratch, resp, o.Codec, &id, o.MaxFrame+wire.EnvelopeHeadroom)
	if scratch.Cap() <= maxIdleScratch {
		scratchBuffers.Put(scratch)
	}
	c.send(outFrame{b: b, hangUp: hangUp})
}

// send queues f for the writer; it is dropped if the writer has stopped.
func (c *streamConn) send(f outFrame) {
	select {
	case c.queue <- f:
	case <-c.writerDone:
	}
}

// queued takes the next answer waiting for the writer, without waiting.
func (c *streamConn) queued() (outFrame, bool) {
	select {
	case f, ok := <-c.queue:
		return f, ok
	default:
		return outFrame{}, false
	}
}

// writeLoop writes queued answers until the queue is closed or a write
// fails, which closes the connection.
func (c *streamConn) writeLoop() {
	defer close(c.writerDone)
	bw := bufio.NewWriterSize(c.conn, writeBufferSize)
	for f := range c.queue {
		if err := c.writeBatch(bw, f); err != nil {
			if !errors.Is(err, errHungUp) && !errors.Is(err, net.ErrClosed) {
				c.s.opts.Logger.Warn("write failed; closing connection", "err", err)
			}
			c.conn.Close()
			return
		}
	}
}

// writeBatch writes f and every answer already queued behind it, then
// flushes once: one system call for a burst of answers. Before it flushes
// it lets the other goroutines run once, so that workers about to answer
// join the batch rather than each costing a system call of their own.
func (c *streamConn) writeBatch(bw *bufio.Writer, f outFrame) error {
	yielded := false
	for {
		if now := time.Now(); now.Sub(c.deadlineSet) > deadlineRefresh {
			c.conn.SetWriteDeadline(now.Add(writeTimeout))
			c.deadlineSet = now
		}
		if _, err := bw.Write(f.b); err != nil {
			return fmt.Errorf("write response: %w", err)
		}
		if f.hangUp {
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("write before hanging up: %w", err)
			}
			return errHungUp
		}
		next, ok := c.queued()
		if !ok && !yielded {
			yielded = true
			runtime.Gosched()
			next, ok = c.queued()
		}
		if ok {
			f = next
			continue
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("flush responses: %w", err)
		}
		return nil
	}
}
