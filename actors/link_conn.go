package actors

import (
	"bufio"
	"context"
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

func (c *linkConn) read(self *actor.PID, root *actor.RootContext) {
	br := bufio.NewReaderSize(c.conn, readBufferSize)
	var buf []byte
	for {
		body, err := wire.ReadFrame(br, c.maxFrame+wire.EnvelopeHeadroom, buf)
		if err != nil {
			// Only a bad frame is the handler's doing; any other error
			// (end of stream, a reset when it closed with requests unread)
			// means the connection is lost.
			root.Send(self, &connBroken{conn: c, err: err, garbage: isFrameError(err)})
			return
		}
		if cap(body) <= maxIdleReadBuffer {
			buf = body[:0]
		}
		a := &answer{gen: c.gen}
		if err := c.codec.UnmarshalMap(body, &a.resp); err != nil {
			// A whole frame keeps the stream in step: when its id can be
			// read, only that request fails.
			id, ok := wire.PeekResponseID(c.codec, body)
			if !ok {
				root.Send(self, &connBroken{conn: c, err: err, garbage: true})
				return
			}
			a.id, a.err = id, wire.Errorf(wire.CodeHandlerError, "the handler's answer does not decode: %v", err)
			root.Send(self, a)
			continue
		}
		if a.resp.ID == nil {
			root.Send(self, &connBroken{conn: c, err: errors.New("response has no id"), garbage: true})
			return
		}
		a.id = *a.resp.ID
		root.Send(self, a)
	}
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
