package actors

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/internal/backoff"
	"github.com/bester-project/bester/wire"
)

// dialRetry is the pause between attempts to reach a handler's socket while
// it is starting.
const dialRetry = 20 * time.Millisecond

// linkConn is one stream-mode connection to a handler: an outbox whose
// writer encodes requests, and a reader that turns responses into answers.
type linkConn struct {
	gen, slot int
	conn      net.Conn
	out       *outbox
	codec     wire.Codec
	maxFrame  int
}

// start runs the connection's reader goroutine; the outbox runs a writer
// whenever there is something to write.
func (c *linkConn) start(self *actor.PID, root *actor.RootContext) {
	go c.read(self, root)
}

// close ends both goroutines; the writer closes the socket.
func (c *linkConn) close() {
	c.out.close(false)
	c.conn.Close()
}

// read is the connection's reader goroutine. The answers of a burst, the
// frames that are already whole in its read buffer when the first of them
// has been read, go to the link as one message (answers): one allocation
// and one hand-off for all of them. An answer is never held back waiting
// for the socket.
func (c *linkConn) read(self *actor.PID, root *actor.RootContext) {
	br := bufio.NewReaderSize(c.conn, readBufferSize)
	var buf []byte
	var batch answers
	flush := func() {
		sent := batch // the message keeps its own slice: batch starts afresh
		batch = nil
		root.Send(self, &sent)
	}
	broken := func(err error, garbage bool) {
		if len(batch) > 0 {
			flush()
		}
		root.Send(self, &connBroken{conn: c, err: err, garbage: garbage})
	}
	for {
		body, err := wire.ReadFrame(br, c.maxFrame+wire.EnvelopeHeadroom, buf)
		if err != nil {
			// Only a bad frame is the handler's doing; any other error
			// (end of stream, a reset when it closed with requests unread)
			// means the connection is lost.
			broken(err, isFrameError(err))
			return
		}
		if cap(body) <= maxIdleReadBuffer {
			buf = body[:0]
		}
		if batch == nil { // as large as the burst: the frames whole in the buffer
			batch = make(answers, 0, 1+wholeFramesBuffered(br, maxAnswerBatch-1))
		}
		batch = append(batch, answer{gen: c.gen})
		a := &batch[len(batch)-1]
		if err := c.codec.UnmarshalMap(body, &a.resp); err != nil {
			// A whole frame keeps the stream in step: when its id can be
			// read, only that request fails.
			id, ok := wire.PeekResponseID(c.codec, body)
			if !ok {
				batch = batch[:len(batch)-1]
				broken(err, true)
				return
			}
			a.id, a.err = id, wire.Errorf(wire.CodeHandlerError, "the handler's answer does not decode: %v", err)
		} else if a.resp.ID == nil {
			batch = batch[:len(batch)-1]
			broken(errors.New("response has no id"), true)
			return
		} else {
			a.id = *a.resp.ID
		}
		if len(batch) == cap(batch) {
			flush()
		}
	}
}

// maxAnswerBatch bounds the answers one answers message carries.
const maxAnswerBatch = 64

// wholeFramesBuffered counts the frames, up to max, that br holds whole
// at its start: reading them waits for nothing.
func wholeFramesBuffered(br *bufio.Reader, max int) int {
	b, _ := br.Peek(br.Buffered())
	n := 0
	for n < max && len(b) >= wire.FrameHeaderSize {
		size := int(binary.LittleEndian.Uint32(b))
		if len(b)-wire.FrameHeaderSize < size {
			break
		}
		b = b[wire.FrameHeaderSize+size:]
		n++
	}
	return n
}

// dial connects one slot (or, with slot -1, checks that a oneshot handler
// accepts) and reports connUp. It retries until ctx ends: every dialRetry
// while a started handler comes up, with backoff for an external one.
func (l *handlerLink) dial(ctx context.Context, gen, slot int) {
	h := &l.handler
	bo := backoff.Backoff{Base: h.Restart.BackoffMin, Max: h.Restart.BackoffMax}
	for attempt := 0; ; attempt++ {
		d := net.Dialer{Timeout: h.Timeout}
		conn, err := d.DialContext(ctx, "unix", h.Socket)
		if err == nil {
			if slot < 0 {
				conn.Close()
				l.root.Send(l.self, &connUp{gen: gen, slot: slot})
				return
			}
			lc := &linkConn{gen: gen, slot: slot, conn: conn, codec: h.Codec, maxFrame: l.maxFrame}
			self, root := l.self, l.root
			lc.out = newOutbox(l.pool, conn, outboxLimits{count: h.MaxInFlight, bytes: math.MaxInt}, func() wire.Codec { return h.Codec }, func(err error) {
				root.Send(self, &connBroken{conn: lc, err: fmt.Errorf("write: %w", err)})
			})
			l.root.Send(l.self, &connUp{gen: gen, slot: slot, conn: lc})
			return
		}
		wait := dialRetry
		if !l.managed() {
			wait = bo.Delay(attempt)
			if attempt == 0 || wait >= h.Restart.BackoffMax/2 {
				l.log.Warn("cannot reach handler socket, retrying", "socket", h.Socket, "error", err, "in", wait.String())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// exchange is one oneshot request: connect, write the data, read one
// response, close (protocol §5). It always sends exactly one answer.
func (l *handlerLink) exchange(gen int, id uint64, data wire.RawValue) {
	a := &answer{gen: gen, id: id, done: true}
	a.err = l.oneshotRoundTrip(data, &a.resp)
	l.root.Send(l.self, a)
}

// oneshotRoundTrip decodes the handler's response into resp, or says why
// there is none.
func (l *handlerLink) oneshotRoundTrip(data wire.RawValue, resp *wire.HandlerResponse) *wire.Error {
	h := &l.handler
	conn, err := net.DialTimeout("unix", h.Socket, h.Timeout)
	if err != nil {
		return wire.Errorf(wire.CodeHandlerUnavailable, "cannot reach handler %q: %v", h.Name, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(h.Timeout))
	if len(data) == 0 {
		data, _ = h.Codec.Marshal(nil)
	}
	if err := wire.WriteFrame(conn, data); err != nil {
		return wire.Errorf(wire.CodeHandlerCrashed, "handler %q: write: %v", h.Name, err)
	}
	body, err := wire.ReadFrame(conn, l.maxFrame+wire.EnvelopeHeadroom, nil)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return wire.Errorf(wire.CodeHandlerTimeout, "handler %q did not answer within %s", h.Name, h.Timeout)
	case isFrameError(err):
		return wire.Errorf(wire.CodeHandlerError, "handler %q answered garbage: %v", h.Name, err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return wire.Errorf(wire.CodeHandlerCrashed, "handler %q closed the connection without an answer", h.Name)
	case err != nil:
		return wire.Errorf(wire.CodeHandlerCrashed, "handler %q: connection lost: %v", h.Name, err)
	}
	if err := h.Codec.UnmarshalMap(body, resp); err != nil {
		return wire.Errorf(wire.CodeHandlerError, "handler %q answered garbage: %v", h.Name, err)
	}
	return nil
}

// isFrameError reports whether a read failed on a frame the handler wrote
// wrongly, rather than on the connection.
func isFrameError(err error) bool {
	return errors.Is(err, wire.ErrEmptyFrame) || errors.Is(err, wire.ErrFrameTooLarge)
}
