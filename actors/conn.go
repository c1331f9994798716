package actors

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/auth"
	"github.com/bester-project/bester/wire"
)

// readBufferSize is the size in bytes of a connection's read buffer.
const readBufferSize = 4 << 10

// maxIdleReadBuffer is the largest frame body buffer, in bytes, a connection
// keeps between frames; larger ones are dropped after use so that one big
// message does not pin memory on an idle connection.
const maxIdleReadBuffer = 16 << 10

// connSettings is what every client connection shares.
type connSettings struct {
	server      string
	maxFrame    int
	authTimeout time.Duration
	idleTimeout time.Duration
	sendQueue   int
	maxInFlight int
	auth        auth.Authenticator
	registry    *registry
	router      *actor.PID
	log         hclog.Logger
}

// clientConn is the actor of one client connection. Its reader goroutine
// decodes frames and sends them on; its outbox's writer goroutine writes
// what the actor queues. The actor owns the connection's state: who is
// logged in, how many messages await their report, and when to close.
type clientConn struct {
	*connSettings
	conn     net.Conn
	codec    atomic.Uint32 // wire.Codec; fixed by the listener or by the first body
	out      *outbox
	inFlight chan struct{} // one token per message awaiting its report
	stopped  chan struct{} // closed when the actor stops; releases a waiting reader
	draining atomic.Bool
	log      hclog.Logger

	user        string
	readerEnded bool
	dropped     bool // stopped for not reading: do not flush
}

// writeFailed tells the actor its writer could not write to the socket.
type writeFailed struct{ err error }

func newClientConn(s *connSettings, conn net.Conn, codec wire.Codec, id string) *clientConn {
	c := &clientConn{connSettings: s, conn: conn,
		inFlight: make(chan struct{}, s.maxInFlight), stopped: make(chan struct{}),
		log: s.log.With("conn", id, "remote", conn.RemoteAddr().String())}
	c.codec.Store(uint32(codec))
	return c
}

func (c *clientConn) currentCodec() wire.Codec {
	if cd := wire.Codec(c.codec.Load()); cd != wire.CodecAuto {
		return cd
	}
	return wire.CodecJSON // before the first body: what the original clients speak
}

// Receive handles the actor's messages.
func (c *clientConn) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		self, root := ctx.Self(), ctx.ActorSystem().Root
		c.out = newOutbox(c.conn, c.sendQueue, c.currentCodec, func(err error) {
			root.Send(self, &writeFailed{err})
		})
		go c.out.run()
		go c.read(self, root)
	case *authenticated:
		c.user = m.user
		c.log = c.log.With("user", m.user)
		c.registry.add(m.user, recipient{pid: ctx.Self(), codec: m.codec})
		c.queue(ctx, wire.GoodReport(wire.IDAuth))
		close(m.registered)
		c.log.Debug("client authenticated", "codec", m.codec)
	case *report:
		c.release()
		if m.err == nil {
			c.queue(ctx, wire.GoodReport(m.id))
		} else {
			c.queue(ctx, wire.BadReport(m.id, m.err, m.undelivered))
		}
		c.stopWhenDone(ctx)
	case *dummyReply:
		c.release()
		c.queue(ctx, wire.NewDummyReply(m.id))
		c.stopWhenDone(ctx)
	case *deliver:
		c.queue(ctx, m.msg)
	case *readerDone:
		c.readerEnded = true
		c.log.Debug("reader ended", "reason", m.reason)
		c.stopWhenDone(ctx)
	case *finalReport:
		c.queue(ctx, m.report)
	case *writeFailed:
		c.log.Debug("write failed, closing", "error", m.err)
		c.dropped = true
		ctx.Stop(ctx.Self())
	case *drain:
		c.draining.Store(true)
		c.conn.SetReadDeadline(time.Now())
		c.stopWhenDone(ctx)
	case *actor.Stopping:
		if c.user != "" {
			c.registry.remove(c.user, ctx.Self())
		}
		close(c.stopped)
		c.conn.SetReadDeadline(time.Now())
		c.out.close(!c.dropped)
		if c.dropped { // also ends a write already waiting on a client that does not read
			c.conn.Close()
		}
	}
}

// release returns the in-flight token of a reported message. It never
// blocks: a second report for one message would be a bug, logged here
// rather than allowed to stall the connection.
func (c *clientConn) release() {
	select {
	case <-c.inFlight:
	default:
		c.log.Error("report for a message that was not in flight")
	}
}

// queue hands m to the writer; a client whose queue is full is not reading
// and is disconnected so that it cannot hold up anyone else.
func (c *clientConn) queue(ctx actor.Context, m any) {
	if c.out.push(m) || c.dropped {
		return
	}
	c.log.Warn("client is not reading its messages, disconnecting", "send_queue", c.sendQueue)
	c.dropped = true
	ctx.Stop(ctx.Self())
}

// stopWhenDone closes the connection once its reader has ended and every
// message it accepted has been reported.
func (c *clientConn) stopWhenDone(ctx actor.Context) {
	if c.readerEnded && len(c.inFlight) == 0 && !c.dropped {
		ctx.Stop(ctx.Self())
	}
}

// finalReport is the last thing written before a connection closes: the
// answer to a failed authentication or an unreadable frame.
type finalReport struct{ report *wire.StatusReport }

// read is the connection's reader goroutine: the only place that blocks on
// the socket. It never touches the actor's state; it sends messages.
func (c *clientConn) read(self *actor.PID, root *actor.RootContext) {
	r := &connReader{clientConn: c, log: c.log, self: self, root: root,
		br: bufio.NewReaderSize(c.conn, readBufferSize)}
	reason := r.run()
	root.Send(self, &readerDone{reason: reason})
}

type connReader struct {
	*clientConn
	log  hclog.Logger // the reader's own: the actor adds fields to clientConn.log
	self *actor.PID
	root *actor.RootContext
	br   *bufio.Reader
	buf  []byte
	user string
}

// run reads until the connection ends and returns why it ended.
func (r *connReader) run() string {
	codec, env, err := r.next(r.authTimeout)
	if err != nil {
		return r.fail(wire.IDAuth, err)
	}
	if e := r.authenticate(env.Header); e != nil {
		r.log.Warn("authentication failed", "detail", e.Detail)
		r.root.Send(r.self, &finalReport{wire.BadReport(wire.IDAuth, e, nil)})
		return "authentication failed"
	}
	registered := make(chan struct{})
	r.root.Send(r.self, &authenticated{user: r.user, codec: codec, registered: registered})
	// Nothing is dispatched before the user is in the registry: a handler
	// may answer at once with a delivery to the sender.
	select {
	case <-registered:
	case <-r.stopped:
		return "stopped"
	}
	if env.Payload != nil && env.Payload.Type != "" {
		if !r.handle(env.Payload) {
			return "closed by the client"
		}
	}
	for {
		_, env, err := r.next(r.idleTimeout)
		if err != nil {
			var bad *badMessage
			if errors.As(err, &bad) {
				if !r.reportNow(bad.id, wire.Errorf(wire.CodeBadMessage, "%v", bad.err)) {
					return "stopped"
				}
				continue
			}
			return r.fail("", err)
		}
		if env.Payload == nil {
			if !r.reportNow("", wire.Errorf(wire.CodeBadMessage, "message has no payload")) {
				return "stopped"
			}
			continue
		}
		if !r.handle(env.Payload) {
			return "closed by the client"
		}
	}
}

// badMessage is a frame that was read whole but does not decode: the
// connection goes on.
type badMessage struct {
	id  string
	err error
}

func (b *badMessage) Error() string { return b.err.Error() }

// next reads and decodes one frame. Frame-level failures end the
// connection; a body that does not decode is a *badMessage.
func (r *connReader) next(timeout time.Duration) (wire.Codec, *wire.Envelope, error) {
	if timeout > 0 {
		r.conn.SetReadDeadline(time.Now().Add(timeout))
	} else {
		r.conn.SetReadDeadline(time.Time{})
	}
	body, err := wire.ReadFrame(r.br, r.maxFrame, r.buf)
	if err != nil {
		return 0, nil, err
	}
	if cap(body) <= maxIdleReadBuffer {
		r.buf = body[:0]
	}
	codec := wire.Codec(r.codec.Load())
	if codec == wire.CodecAuto {
		if codec, err = wire.DetectCodec(body); err != nil {
			return 0, nil, &badMessage{err: err}
		}
		r.codec.Store(uint32(codec))
	}
	env := new(wire.Envelope)
	if err := codec.UnmarshalMap(body, env); err != nil {
		return codec, nil, &badMessage{id: wire.PeekID(codec, body), err: err}
	}
	return codec, env, nil
}

// fail turns the error that ended reading into the last report, when the
// client can still be told, and returns the reason for the log.
func (r *connReader) fail(id string, err error) string {
	var bad *badMessage
	var ne net.Error
	switch {
	case errors.As(err, &bad):
		e := wire.Errorf(wire.CodeBadMessage, "%v", bad.err)
		if id == wire.IDAuth {
			e = wire.Errorf(wire.CodeUnauthorized, "first message does not decode: %v", bad.err)
		}
		r.root.Send(r.self, &finalReport{wire.BadReport(id, e, nil)})
		return "bad first message"
	case errors.Is(err, io.EOF):
		return "closed by the client"
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded):
		if r.draining.Load() {
			return "server draining"
		}
		if id == wire.IDAuth {
			r.root.Send(r.self, &finalReport{wire.BadReport(id,
				wire.Errorf(wire.CodeUnauthorized, "no authentication within %s", r.authTimeout), nil)})
		}
		return "timed out"
	case errors.Is(err, wire.ErrEmptyFrame), errors.Is(err, wire.ErrFrameTooLarge):
		r.log.Warn("bad frame, closing", "error", err)
		r.root.Send(r.self, &finalReport{wire.BadReport(id,
			&wire.Error{Code: wire.FrameErrorCode(err), Detail: err.Error()}, nil)})
		return "bad frame"
	case errors.Is(err, io.ErrUnexpectedEOF):
		r.log.Debug("truncated frame", "error", err)
		return "truncated frame"
	}
	return err.Error()
}

// authenticate checks the first message's header and sets r.user.
func (r *connReader) authenticate(h *wire.Header) *wire.Error {
	switch {
	case h == nil || h.Scope == "":
		return wire.Errorf(wire.CodeUnauthorized, "the first message must carry header.scope")
	case h.Scope == wire.ScopeServer:
		return wire.Errorf(wire.CodeUnauthorized, "this server accepts no peer servers")
	case h.Scope != wire.ScopeClient:
		return wire.Errorf(wire.CodeUnauthorized, "unknown scope %q", h.Scope)
	case h.Authentication == nil:
		return wire.Errorf(wire.CodeUnauthorized, "the first message must carry header.authentication")
	}
	user := h.Authentication.Username
	if err := r.auth.Authenticate(user, h.Authentication.Password); err != nil {
		return wire.Errorf(wire.CodeUnauthorized, "bad username or password")
	}
	r.user = user
	return nil
}

// handle dispatches one payload and reports whether to keep reading.
func (r *connReader) handle(p *wire.Payload) bool {
	if !r.acquire() {
		return false
	}
	switch p.Type {
	case "":
		r.root.Send(r.self, &report{id: p.ID, err: wire.Errorf(wire.CodeBadMessage, "payload.type is missing")})
	case wire.TypeDummy:
		r.root.Send(r.self, &dummyReply{id: p.ID})
	case wire.TypeBuiltin:
		return r.builtin(p)
	default:
		codec := wire.Codec(r.codec.Load())
		r.root.Send(r.router, &dispatch{
			replyTo: r.self, id: p.ID, typ: p.Type, data: p.Data, codec: codec,
			from:   wire.From{Scope: wire.FromClient, Name: r.user, Server: r.server},
			origin: wire.Address{Server: r.server, User: r.user},
		})
	}
	return true
}

// builtin runs a server command; `close` ends reading after its report.
func (r *connReader) builtin(p *wire.Payload) bool {
	var d wire.BuiltinData
	codec := wire.Codec(r.codec.Load())
	if err := codec.UnmarshalMap(p.Data, &d); err != nil || d.Command == nil {
		r.root.Send(r.self, &report{id: p.ID, err: wire.Errorf(wire.CodeBadMessage, "builtin needs data.command.type")})
		return true
	}
	if d.Command.Type != wire.BuiltinClose {
		r.root.Send(r.self, &report{id: p.ID, err: wire.Errorf(wire.CodeUnknownCommand, "unknown builtin command %q", d.Command.Type)})
		return true
	}
	r.root.Send(r.self, &report{id: p.ID})
	return false
}

// reportNow sends a report for a message that was read but not dispatched.
func (r *connReader) reportNow(id string, err *wire.Error) bool {
	if !r.acquire() {
		return false
	}
	r.root.Send(r.self, &report{id: id, err: err})
	return true
}

// acquire takes an in-flight token, waiting while the client has
// max_in_flight messages unreported; false when the connection stopped.
func (r *connReader) acquire() bool {
	select {
	case r.inFlight <- struct{}{}:
		return true
	case <-r.stopped:
		return false
	}
}
