package actors

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/auth"
	"github.com/bester-project/bester/actors/logthrottle"
	"github.com/bester-project/bester/actors/permit"
	"github.com/bester-project/bester/internal/gopool"
	"github.com/bester-project/bester/wire"
)

// readBufferSize is the size in bytes of a connection's read buffer. A
// client connection holds one only while it reads a burst (see
// frameReader), so it can be large enough for many pipelined frames: with
// 4 KiB, the relay benchmark made 0.17 read system calls per message, with
// 32 KiB 0.10.
const readBufferSize = 32 << 10

// readBuffers holds read buffers between bursts, shared by every
// connection: an idle connection waits for its next frame header without
// one (see frameReader).
var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// frameReader is a connection's io.Reader for wire.ReadFrame. While no
// read buffer is held it reads directly from the socket, which is how an
// idle connection waits for a frame header; once a frame has begun it
// takes a buffer from readBuffers so that the body, and the frames sent
// with it, come in with few system calls. release gives the buffer back
// when it is empty between frames.
//
// A held buffer is charged to the server's budget, since a frame that
// stalls keeps it; when the budget is spent, reads go straight to the
// socket, slower but holding nothing.
type frameReader struct {
	sock   sockReader
	br     *bufio.Reader
	budget *budget
}

func (f *frameReader) Read(p []byte) (int, error) {
	if f.br != nil && len(p) >= directRead {
		f.release(false) // when empty: a large body is read straight into place
	}
	if f.br == nil {
		if len(p) <= wire.FrameHeaderSize || len(p) >= directRead || !f.budget.tryTake(readBufferSize) {
			return f.sock.Read(p)
		}
		f.br = readBuffers.Get().(*bufio.Reader)
		f.br.Reset(&f.sock)
	}
	return f.br.Read(p)
}

// directRead is the read size, in bytes, from which a frameReader reads
// straight into the caller's buffer (the rest of a large body), without a
// read buffer.
const directRead = 4 << 10

// release returns the read buffer to readBuffers unless it holds bytes
// not read yet (or always, when the reader is done).
func (f *frameReader) release(done bool) {
	if f.br != nil && (done || f.br.Buffered() == 0) {
		f.br.Reset(nil)
		readBuffers.Put(f.br)
		f.br = nil
		f.budget.release(readBufferSize)
	}
}

// begin prepares the read of the next frame: the wait for it may last
// idle from when the socket is waited on (zero: until limit, or for ever
// without one); once it has begun, it must be whole within frameTimeout
// (and before limit, when that is set). It sets no deadline itself: the
// socket's is set only when the socket is read, so that frames that come
// in together cost no system call and no clock reading each.
func (f *frameReader) begin(idle time.Duration, limit time.Time) {
	s := &f.sock
	s.idle, s.limit = idle, limit
	s.waitArmed, s.armed, s.started = false, false, time.Time{}
	s.buffered = f.br != nil && f.br.Buffered() > 0 // it came in with the last one
}

// sockReader reads a connection's socket for its frameReader, and gives a
// frame that has begun its own deadline the first time the rest has to be
// waited for: frames that arrive whole cost no deadline.
type sockReader struct {
	conn         net.Conn
	frameTimeout time.Duration
	idle         time.Duration // how long the socket may be waited on for a frame's first byte; zero for no bound
	limit        time.Time     // a deadline no frame may pass (authentication's); zero for none
	buffered     bool          // the frame began in the read buffer, before the socket was read
	started      time.Time     // when the frame being read began; zero before its first byte
	waitArmed    bool          // the wait for the frame's first byte has its deadline
	armed        bool          // the frame's deadline is set
	draining     *atomic.Bool
	hello        helloSniffer   // looks for a TLS client among a plain listener's first bytes
	counted      *atomic.Uint64 // the server's received bytes; nil when metrics are off
}

func (s *sockReader) Read(p []byte) (int, error) {
	if s.buffered && s.started.IsZero() {
		// Timed from now rather than from the frame's first byte, which
		// came earlier by no more than reading the buffer took.
		s.started = time.Now()
	}
	switch {
	case !s.started.IsZero() && !s.armed:
		s.setDeadline(s.deadline())
		s.armed = true
	case s.started.IsZero() && !s.waitArmed:
		s.setDeadline(s.waitDeadline())
		s.waitArmed = true
	}
	n, err := s.conn.Read(p)
	add(s.counted, n)
	if n > 0 && s.started.IsZero() {
		s.started = time.Now()
	}
	if !s.hello.done && s.hello.isTLS(p[:n]) {
		return 0, errTLSHello
	}
	return n, err
}

// setDeadline sets the socket's read deadline to d, or to now once the
// connection drains. It sets d before it looks at draining, and drain sets
// its own deadline after draining: one of the two always sees the other.
func (s *sockReader) setDeadline(d time.Time) {
	s.conn.SetReadDeadline(d)
	if s.draining.Load() {
		s.conn.SetReadDeadline(time.Now())
	}
}

// waitDeadline is how long the socket may be waited on for a frame's
// first byte.
func (s *sockReader) waitDeadline() time.Time {
	if s.idle > 0 {
		return time.Now().Add(s.idle)
	}
	return s.limit
}

// deadline is when the frame being read must be whole: now, once the
// server drains, since a frame not read by then is not accepted.
func (s *sockReader) deadline() time.Time {
	if s.draining.Load() {
		return time.Now()
	}
	d := s.started.Add(s.frameTimeout)
	if !s.limit.IsZero() && s.limit.Before(d) {
		return s.limit
	}
	return d
}

// frameLate reports whether a timeout hit a frame that had begun (rather
// than the wait for one, or authentication's limit).
func (s *sockReader) frameLate() bool {
	return !s.started.IsZero() && (s.limit.IsZero() || s.started.Add(s.frameTimeout).Before(s.limit))
}

// maxIdleReadBuffer is the largest frame body buffer, in bytes, a connection
// keeps between frames; larger ones are dropped after use so that one big
// message does not pin memory on an idle connection.
const maxIdleReadBuffer = 16 << 10

// connSettings is what every client connection shares.
type connSettings struct {
	server        string
	maxFrame      int
	maxAuthFrame  int
	authTimeout   time.Duration
	idleTimeout   time.Duration
	frameTimeout  time.Duration
	outbox        outboxLimits
	maxInFlight   int
	maxPerUser    int
	rate          rateLimit
	budget        *budget
	limits        *connLimits
	handlerCodecs *codecTable
	credentials   *atomic.Pointer[credentials] // the server's, which a reload swaps
	logins        *auth.Guard                  // limits logins per source address
	handshakes    handshakeSlots               // bounds the TLS handshakes computing at once
	registry      *registry
	routes        *routes // where readers send their messages
	log           hclog.Logger
	pool          *gopool.Pool // runs the writers; its dispatcher runs the actors
	// allowLegacy accepts one unauthenticated server-scope message per
	// connection, as the original besterd sent them.
	allowLegacy bool
	// strangerLogs throttles the warnings of connections not yet
	// authenticated, which anyone can cause.
	strangerLogs *logthrottle.Throttle
	// permissions say which types users and peers may send.
	permissions *permit.Policy
	// metrics count for /metrics; nil when they are off.
	metrics *metrics
}

// clientConn is the actor of one client connection, or of one connection
// a peer server opened (scope server). Its reader goroutine decodes frames
// and sends them on; its outbox's writer goroutine writes what the actor
// queues. The actor owns the connection's state: who is logged in, how
// many messages await their report, and when to close.
type clientConn struct {
	*connSettings
	conn     net.Conn      // a *tls.Conn on a TLS listener
	listener string        // the listener's name, for the log
	tls      *tlsListener  // the listener's TLS settings; nil for a plain one
	addr     string        // the source address connLimits counts it under
	codec    atomic.Uint32 // wire.Codec; fixed by the listener or by the first body
	out      *outbox
	inFlight chan struct{} // one token per message awaiting its report
	stopped  chan struct{} // closed when the actor stops; releases a waiting reader
	draining atomic.Bool
	id       string       // the connection's number, for the log
	log      hclog.Logger // built on first use (logger): most connections never log

	user        string
	peer        string // the peer server, on a server-scope connection
	away        int    // messages that left by sendServers: slot free, report to come
	readerEnded bool
	dropped     bool // stopped for not reading: do not flush
	quiet       bool // told the acceptor it is quiet (while draining)
	closing     bool // told to close once its last reports are written
	flushing    bool // its outbox writes what is left and closes the socket

	// leaving is closed on drain or stop: it ends a login's wait in the
	// login guard, which no read deadline reaches.
	leaving   chan struct{}
	leaveOnce sync.Once

	// direct is held while a report is queued without the actor (see
	// reportDirect); live says that may be done: the connection reads and
	// is not closing, so the actor has nothing to decide at a report.
	direct sync.Mutex
	live   bool
}

// flushed tells the actor its outbox has written everything and closed
// the socket.
type flushed struct{}

// writeFailed tells the actor its writer could not write to the socket.
type writeFailed struct{ err error }

func newClientConn(s *connSettings, a *accepted, id string) *clientConn {
	c := &clientConn{connSettings: s, conn: a.conn, addr: a.addr, listener: a.listener, tls: a.tls,
		inFlight: make(chan struct{}, s.maxInFlight), stopped: make(chan struct{}), leaving: make(chan struct{}), id: id}
	c.codec.Store(uint32(a.codec))
	return c
}

// connLogger returns the server's logger with the connection's fields,
// and extra ones. It allocates, so connections call it only to log.
func (c *clientConn) connLogger(extra ...any) hclog.Logger {
	return c.connSettings.log.With(append([]any{"conn", c.id, "listener", c.listener, "remote", c.conn.RemoteAddr().String()}, extra...)...)
}

// logger is the actor's logger: the connection's fields and, once
// authenticated, the user or peer.
func (c *clientConn) logger() hclog.Logger {
	if c.log == nil {
		switch {
		case c.peer != "":
			c.log = c.connLogger("peer", c.peer)
		case c.user != "":
			c.log = c.connLogger("user", c.user)
		default:
			c.log = c.connLogger()
		}
	}
	return c.log
}

// debug logs at debug level without building the logger when that level
// is off.
func (c *clientConn) debug(msg string, args ...any) {
	if c.connSettings.log.IsDebug() {
		c.logger().Debug(msg, args...)
	}
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
		c.out = newOutbox(c.pool, c.conn, c.outbox, c.currentCodec, func(err error) {
			root.Send(self, &writeFailed{err})
		})
		c.out.metrics = c.metrics
		go c.read(self, root)
	case *authenticated:
		if m.peer != "" { // a peer server: it receives no deliveries, only reports
			c.peer = m.peer
			if c.log != nil {
				c.log = c.log.With("peer", m.peer)
			}
			c.metrics.login(true)
			c.queue(ctx, wire.GoodReport(wire.IDAuth))
			c.setLive(true)
			close(m.registered)
			c.logger().Info("peer server connected", "codec", m.codec)
			return
		}
		limits, ok := c.registry.add(m.user, recipient{pid: ctx.Self(), codec: m.codec, out: c.out}, c.maxPerUser, c.rate)
		if !ok {
			c.metrics.login(false)
			c.metrics.refuse(refusedMaxPerUser)
			c.strangerLogs.Warn(c.logger(), "login refused: the user has max_connections_per_user open", "user", m.user)
			c.queue(ctx, wire.BadReport(wire.IDAuth, wire.Errorf(wire.CodeOverloaded,
				"user %q has %d connections open, the most this server allows", m.user, c.maxPerUser), nil))
			ctx.Stop(ctx.Self())
			return
		}
		c.user = m.user
		if c.log != nil {
			c.log = c.log.With("user", m.user)
		}
		m.limits, m.sent = limits, c.registry.sendCount(m.user, time.Now())
		c.metrics.login(true)
		c.queue(ctx, wire.GoodReport(wire.IDAuth))
		c.setLive(true)
		close(m.registered)
		c.debug("client authenticated", "codec", m.codec)
	case *leftServer:
		c.release()
		c.away++
	case *report:
		if m.slotFreed {
			c.away--
		} else {
			c.release()
		}
		c.metrics.countReport(m)
		c.queue(ctx, &m.msg)
		c.whenDone(ctx)
	case *dummyReply:
		c.release()
		c.queue(ctx, wire.NewDummyReply(m.id))
		c.whenDone(ctx)
	case *notReading:
		c.cut(ctx)
	case *readerDone:
		c.setLive(false)
		c.readerEnded = true
		c.debug("reader ended", "reason", m.reason)
		c.whenDone(ctx)
	case *finalReport:
		c.queue(ctx, m.report)
	case *writeFailed:
		c.debug("write failed, closing", "error", m.err)
		c.dropped = true
		ctx.Stop(ctx.Self())
	case *drain:
		c.setLive(false)
		c.draining.Store(true)
		c.leave()
		c.conn.SetReadDeadline(time.Now())
		c.whenDone(ctx)
	case *closeConns:
		c.setLive(false)
		c.closing = true
		c.whenDone(ctx)
	case *dropPeerConns:
		if c.peer != "" && m.peers[c.peer] {
			// Its messages in flight get their reports nowhere: the peer
			// fails them as on any lost connection.
			c.logger().Info("closing the connection of a peer server a reload removed or gave a new secret")
			c.dropped = true
			ctx.Stop(ctx.Self())
		}
	case *flushed:
		ctx.Stop(ctx.Self())
	case *actor.Stopping:
		c.setLive(false)
		c.limits.leave(c.addr, c.listener)
		if c.user != "" {
			c.registry.remove(c.user, ctx.Self())
		}
		if c.peer != "" {
			c.logger().Info("peer server disconnected")
		}
		close(c.stopped)
		c.leave()
		c.conn.SetReadDeadline(time.Now())
		// A connection stopped while closing has flushed already, or has
		// run out of the time the server gives it.
		abort := c.dropped || c.closing
		c.out.close(!abort)
		if abort { // also ends a write already waiting on a client that does not read
			closeSocket(c.conn)
		}
	}
}

// setLive says whether reports may go straight into the outbox. Once it
// has returned false, no report is being queued that way: each one after
// comes to the actor, which can then tell when the last one is in.
func (c *clientConn) setLive(live bool) {
	c.direct.Lock()
	c.live = live
	c.direct.Unlock()
}

// reportDirect queues r, a report on one of the connection's messages,
// from whichever goroutine made it, sparing the hop through the actor's
// mailbox: it gives the message's in-flight token back and counts the
// report as the actor would. It does so only while the connection is live
// and the token is there; otherwise it returns false and r goes to the
// actor. A nil connection always returns false.
func (c *clientConn) reportDirect(ctx actor.SenderContext, self *actor.PID, r *report) bool {
	if c == nil {
		return false
	}
	c.direct.Lock()
	defer c.direct.Unlock()
	if !c.live {
		return false
	}
	select {
	case <-c.inFlight:
	default: // not in flight: the actor logs it
		return false
	}
	c.metrics.countReport(r)
	if !c.out.push(&r.msg) {
		ctx.Send(self, &notReading{})
	}
	return true
}

// leave closes leaving, once.
func (c *clientConn) leave() { c.leaveOnce.Do(func() { close(c.leaving) }) }

// release returns the in-flight token of a reported message. It never
// blocks: a second report for one message would be a bug, logged here
// rather than allowed to stall the connection.
func (c *clientConn) release() {
	select {
	case <-c.inFlight:
	default:
		c.logger().Error("report for a message that was not in flight")
	}
}

// queue hands m to the writer; a client whose queue is full is not reading
// and is disconnected so that it cannot hold up anyone else.
func (c *clientConn) queue(ctx actor.Context, m any) {
	if !c.out.push(m) {
		c.cut(ctx)
	}
}

// notReading tells a connection actor that its outbox refused a delivery
// another actor queued there: see cut.
type notReading struct{}

// cut disconnects a client whose outbox refused a message, once.
func (c *clientConn) cut(ctx actor.Context) {
	if c.dropped {
		return
	}
	c.metrics.slowConsumer()
	c.strangerLogs.Warn(c.logger(), "client is not reading its messages, disconnecting",
		"send_queue", c.outbox.count, "send_queue_bytes", c.outbox.bytes, "budget_spent", c.budget.spent())
	c.dropped = true
	ctx.Stop(ctx.Self())
}

// whenDone acts once the reader has ended and every message the
// connection accepted has been reported (including those that left by
// sendServers and gave their token back early). Normally the connection
// closes. While the server drains it tells the acceptor it is quiet and
// stays open, since other connections' messages may still be delivered to
// it, until it is told to close; then it writes what is queued and stops.
func (c *clientConn) whenDone(ctx actor.Context) {
	if !c.readerEnded || len(c.inFlight) > 0 || c.away > 0 || c.dropped {
		return
	}
	switch {
	case c.closing:
		c.flushAndStop(ctx)
	case c.draining.Load():
		c.tellQuiet(ctx)
	default:
		ctx.Stop(ctx.Self())
	}
}

// tellQuiet tells the acceptor, once, that the connection is quiet.
func (c *clientConn) tellQuiet(ctx actor.Context) {
	if !c.quiet {
		c.quiet = true
		ctx.Send(ctx.Parent(), &quiet{conn: ctx.Self()})
	}
}

// flushAndStop closes the outbox, once; the actor stops when its writer
// has written everything and closed the socket.
func (c *clientConn) flushAndStop(ctx actor.Context) {
	if c.flushing {
		return
	}
	c.flushing = true
	self, root := ctx.Self(), ctx.ActorSystem().Root
	c.out.closeAfterFlush(func() { root.Send(self, &flushed{}) })
}

// finalReport is the last thing written before a connection closes: the
// answer to a failed authentication or an unreadable frame.
type finalReport struct{ report *wire.StatusReport }

// read is the connection's reader goroutine: the only place that blocks on
// the socket. It never touches the actor's state; it sends messages. Once
// the connection is authenticated, reading goes on in a new goroutine and
// this one ends: decoding and checking the credentials grow a stack that
// an idle connection would otherwise keep until a collection shrinks it,
// while the new one starts small. Only one of them reads at a time.
func (c *clientConn) read(self *actor.PID, root *actor.RootContext) {
	r := &connReader{clientConn: c, self: self, root: root}
	r.fr.sock = sockReader{conn: c.conn, frameTimeout: c.frameTimeout, draining: &c.draining,
		hello: helloSniffer{limit: c.firstFrameLimit(), done: c.tls != nil}, counted: c.metrics.received()}
	r.fr.budget = c.budget
	r.growFn = r.grow
	first, reason := r.start()
	if first == nil {
		r.end(reason)
		return
	}
	go r.continueReading(first)
}

// continueReading reads after the first message until the connection ends.
func (r *connReader) continueReading(first *wire.Envelope) {
	r.end(r.run(first))
}

// end gives the read buffer back and tells the actor why reading ended.
func (r *connReader) end(reason string) {
	r.fr.release(true)
	r.releaseHeld()
	r.root.Send(r.self, &readerDone{reason: reason})
}

type connReader struct {
	*clientConn
	log  hclog.Logger // the reader's own, built on first use (logger)
	self *actor.PID
	root *actor.RootContext
	fr   frameReader
	buf  []byte
	env  wire.Envelope // the last one read; next reuses it
	user string
	// held is what the frame read last was charged to the budget; it goes
	// with the message it holds, or back when that is not dispatched.
	held   int64
	growFn func(prev, next int) error // grow, bound once
	limits *userLimits                // the user's, shared by their connections; nil for none
	sent   *sendCount                 // the user's, for the top senders; nil for a peer server
	read   int                        // the size of the frame read last

	peer string // set once a peer server authenticated
	// peerSecret is the SHA-256 of the secret the peer proved.
	peerSecret [sha256.Size]byte
	legacy     bool // an original-style peer: one message, no authentication
	logged     bool // the failed authentication was logged already

	permits *permit.Checker // what the user or peer may send
}

// start runs the TLS handshake on a TLS listener, then reads and checks
// the first message, both within auth_timeout. It returns that message
// once the connection is authenticated and registered, or nil and why
// reading ended.
func (r *connReader) start() (*wire.Envelope, string) {
	limit, maxFirst := time.Now().Add(r.authTimeout), r.firstFrameLimit()
	if tc, ok := r.conn.(*tls.Conn); ok {
		if reason, ok := r.handshake(tc, limit); !ok {
			return nil, reason
		}
	}
	codec, env, err := r.next(0, limit, maxFirst)
	if err != nil {
		return nil, r.fail(wire.IDAuth, err)
	}
	if e := r.authenticate(env.Header); e != nil {
		r.metrics.login(false)
		if !r.logged {
			r.strangerLogs.Warn(r.logger(), "authentication failed", "detail", e.Detail)
		}
		r.root.Send(r.self, &finalReport{wire.BadReport(wire.IDAuth, e, nil)})
		return nil, "authentication failed"
	}
	if r.legacy {
		if env.Payload == nil {
			r.reportNow("", wire.Errorf(wire.CodeBadMessage, "an original-style peer message needs a payload"))
		} else {
			r.handlePeer(env)
		}
		return nil, "original-style peer message read"
	}
	auth := &authenticated{user: r.user, peer: r.peer, codec: codec, registered: make(chan struct{})}
	r.root.Send(r.self, auth)
	// Nothing is dispatched before the user is in the registry: a handler
	// may answer at once with a delivery to the sender.
	select {
	case <-auth.registered:
	case <-r.stopped:
		return nil, "stopped"
	}
	if r.peer != "" && !r.peerStillTrusted() { // closed as dropPeerConns closes the others
		r.logger().Info("closing the connection of a peer server a reload removed or gave a new secret")
		return nil, "peer removed or given a new secret by a reload"
	}
	r.limits, r.sent = auth.limits, auth.sent
	return env, ""
}

// firstFrameLimit is the largest first frame's body, in bytes.
func (c *connSettings) firstFrameLimit() int {
	if c.allowLegacy { // an original-style peer's only message is its first
		return c.maxFrame
	}
	return c.maxAuthFrame
}

// logger is the reader's logger: the connection's fields only, apart from
// the actor's, which adds the user's.
func (r *connReader) logger() hclog.Logger {
	if r.log == nil {
		r.log = r.connLogger()
	}
	return r.log
}

// run reads from the authenticated first message on until the connection
// ends and returns why it ended. Peer connections have no idle timeout: a
// peer keeps its connection open while it has nothing to send.
func (r *connReader) run(first *wire.Envelope) string {
	handle, timeout, ended, maxFrame := r.handleClient, r.idleTimeout, "closed by the client", r.maxFrame
	if r.peer != "" { // a peer passes on messages of up to max_frame in an envelope
		handle, timeout, ended, maxFrame = r.handlePeer, 0, "stopped", r.maxFrame+wire.EnvelopeHeadroom
	}
	r.permits = r.checker()
	if first.Payload != nil && first.Payload.Type != "" && !handle(first) {
		return ended
	}
	r.env = wire.Envelope{} // a waiting reader keeps no message, nor the credentials
	for {
		if !r.throttle() {
			return "stopped"
		}
		_, env, err := r.next(timeout, time.Time{}, maxFrame)
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
		if !handle(env) {
			return ended
		}
		r.env = wire.Envelope{}
	}
}

// throttle waits, before the next frame is read, as long as the user's
// byte_rate asks for the frame read last; false when the connection is
// leaving meanwhile.
func (r *connReader) throttle() bool {
	d := r.limits.byteDelay(r.read)
	if d == 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.leaving:
		return false
	}
}

// handleClient dispatches one message of a client; false ends reading.
func (r *connReader) handleClient(env *wire.Envelope) bool {
	if env.Payload == nil {
		return r.reportNow("", wire.Errorf(wire.CodeBadMessage, "message has no payload"))
	}
	return r.handle(env.Payload)
}

// badMessage is a frame that was read whole but does not decode: the
// connection goes on.
type badMessage struct {
	id  string
	err error
}

func (b *badMessage) Error() string { return b.err.Error() }

// next reads and decodes one frame of at most max bytes, waiting for it
// up to idle on the socket (zero: no bound) and for no frame past limit
// (zero: no deadline). Once the connection drains, the socket's deadline
// is now whatever the reader asked (sockReader.setDeadline): a reader that
// comes back from dispatching reads nothing more from it. Frame-level
// failures end the connection; a body that does not decode is a
// *badMessage. The envelope it returns is the reader's own and holds only
// until the next call.
func (r *connReader) next(idle time.Duration, limit time.Time, max int) (wire.Codec, *wire.Envelope, error) {
	r.releaseHeld()
	r.fr.begin(idle, limit)
	body, err := wire.ReadFrameGrow(&r.fr, max, r.buf, r.growFn)
	if err != nil {
		return 0, nil, err
	}
	r.read = len(body)
	r.fr.release(false)
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
	r.env = wire.Envelope{}
	if err := codec.UnmarshalMap(body, &r.env); err != nil {
		return codec, nil, &badMessage{id: wire.PeekID(codec, body), err: err}
	}
	return codec, &r.env, nil
}

// errBusy ends a large frame that found no room in the buffer budget
// before its deadline.
var errBusy = errors.New("the server had no room for this frame within frame_timeout")

// grow charges the budget for the next buffer of a large frame beyond the
// maxIdleReadBuffer any reader may keep, waiting for room until the
// frame's deadline: a first message, or any small one, never waits.
func (r *connReader) grow(prev, next int) error {
	n := int64(max(0, next-maxIdleReadBuffer) - max(0, prev-maxIdleReadBuffer))
	if n == 0 { // what every connection may keep between frames anyway
		return nil
	}
	if !r.budget.take(n, r.leaving, r.fr.sock.deadline()) {
		return errBusy
	}
	r.held += n
	return nil
}

// releaseHeld gives back what the last frame was charged, unless a
// dispatched message took it along.
func (r *connReader) releaseHeld() {
	r.budget.release(r.held)
	r.held = 0
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
	case errors.Is(err, errTLSHello):
		return r.refuseTLS()
	case errors.Is(err, errBusy) && r.draining.Load():
		return "server draining"
	case errors.Is(err, errBusy):
		r.metrics.refuse(refusedBufferBudget)
		r.strangerLogs.Warn(r.logger(), "large frame waited too long for buffer room, closing", "buffer_budget", r.budget.limit.Load())
		r.root.Send(r.self, &finalReport{wire.BadReport(id, wire.Errorf(wire.CodeOverloaded, "%v", err), nil)})
		return "no buffer room"
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded):
		if r.draining.Load() {
			return "server draining"
		}
		if r.fr.sock.frameLate() {
			r.strangerLogs.Warn(r.logger(), "frame not complete within frame_timeout, closing", "frame_timeout", r.frameTimeout)
			r.root.Send(r.self, &finalReport{wire.BadReport(id,
				wire.Errorf(wire.CodeBadFrame, "frame not complete within %s", r.frameTimeout), nil)})
			return "frame timed out"
		}
		if id == wire.IDAuth {
			r.metrics.refuse(refusedAuthTimeout)
			r.root.Send(r.self, &finalReport{wire.BadReport(id,
				wire.Errorf(wire.CodeUnauthorized, "no authentication within %s", r.authTimeout), nil)})
		}
		return "timed out"
	case errors.Is(err, wire.ErrEmptyFrame), errors.Is(err, wire.ErrFrameTooLarge):
		r.strangerLogs.Warn(r.logger(), "bad frame, closing", "error", err)
		r.root.Send(r.self, &finalReport{wire.BadReport(id,
			&wire.Error{Code: wire.FrameErrorCode(err), Detail: err.Error()}, nil)})
		return "bad frame"
	case errors.Is(err, io.ErrUnexpectedEOF):
		r.logger().Debug("truncated frame", "error", err)
		return "truncated frame"
	case r.tls != nil && !errors.As(err, new(syscall.Errno)) && !errors.Is(err, net.ErrClosed):
		// Not the socket's error but the TLS layer's: an alert, a
		// renegotiation attempt, a record that does not decrypt.
		r.strangerLogs.Warn(r.logger(), "TLS error, closing", "error", err)
		return "TLS error"
	}
	return err.Error()
}

// authenticate checks the first message's header and sets r.user.
func (r *connReader) authenticate(h *wire.Header) *wire.Error {
	switch {
	case h == nil || h.Scope == "":
		return wire.Errorf(wire.CodeUnauthorized, "the first message must carry header.scope")
	case h.Scope == wire.ScopeServer:
		return r.authenticatePeer(h)
	case h.Scope != wire.ScopeClient:
		return wire.Errorf(wire.CodeUnauthorized, "unknown scope %q", h.Scope)
	}
	if user, refusal, ok := r.certificateUser(); ok {
		if refusal != nil {
			return refusal
		}
		return r.loginByCertificate(user, h.Authentication)
	}
	if h.Authentication == nil {
		return wire.Errorf(wire.CodeUnauthorized, "the first message must carry header.authentication")
	}
	user := h.Authentication.Username
	if len(user) > wire.MaxNameLength {
		return wire.Errorf(wire.CodeUnauthorized, "username longer than %d bytes", wire.MaxNameLength)
	}
	if e := r.checkPassword(user, h.Authentication.Password); e != nil {
		return e
	}
	r.user = user
	return nil
}

// checkPassword runs the authenticator under the login guard, which may
// refuse the address with rate_limited before any password is checked.
// Waiting for the guard is bounded by auth_timeout.
func (r *connReader) checkPassword(user, password string) *wire.Error {
	login, err := r.logins.Admit(r.conn.RemoteAddr(), r.authTimeout, r.leaving)
	switch {
	case errors.Is(err, auth.ErrGaveUp):
		return wire.Errorf(wire.CodeShuttingDown, "the server is stopping")
	case err != nil:
		return wire.Errorf(wire.CodeRateLimited, "%v", err)
	}
	err = r.credentials.Load().auth.Authenticate(user, password)
	login.End(err != nil)
	if err != nil {
		return wire.Errorf(wire.CodeUnauthorized, "bad username or password")
	}
	return nil
}

// handle dispatches one payload and reports whether to keep reading.
func (r *connReader) handle(p *wire.Payload) bool {
	if !r.acquire() {
		return false
	}
	stats := r.metrics.typeOf(p.Type)
	r.sent.add()
	if !r.limits.allowMessage() {
		r.root.Send(r.self, typedReport(stats, p.ID, wire.Errorf(wire.CodeRateLimited,
			"more than %d messages per second (burst %d)", r.rate.perSecond, r.rate.burst)))
		return true
	}
	switch p.Type {
	case "":
		r.root.Send(r.self, badReport(p.ID, wire.Errorf(wire.CodeBadMessage, "payload.type is missing"), nil))
	case wire.TypeDummy:
		r.root.Send(r.self, &dummyReply{id: p.ID})
	case wire.TypeBuiltin:
		return r.builtin(p)
	default:
		if !r.permits.Allows(p.Type) { // counted in message_rate, reported at once: no handler time
			r.root.Send(r.self, typedReport(stats, p.ID, r.forbidden(p.Type)))
			return true
		}
		data, codec, err := r.forHandler(p.Type, p.Data)
		if err != nil {
			r.root.Send(r.self, typedReport(stats, p.ID, err))
			return true
		}
		r.dispatch(&dispatch{
			replyTo: r.self, sender: r.clientConn, id: p.ID, typ: p.Type, data: data, codec: codec, stats: stats,
			from:   wire.From{Scope: wire.FromClient, Name: r.user, Server: r.server},
			origin: wire.Address{Server: r.server, User: r.user},
		})
	}
	return true
}

// typedReport is a bad report on a message of a known type, counted under
// it.
func typedReport(stats *typeStats, id string, err *wire.Error) *report {
	rep := badReport(id, err, nil)
	rep.kind = stats
	return rep
}

// forHandler checks a message's type and data for the handler of typ and
// converts the data to the handler's codec, here on the reader's
// goroutine rather than in the handler's link, where a large conversion
// would hold up everyone else's messages.
func (r *connReader) forHandler(typ string, data wire.RawValue) (wire.RawValue, wire.Codec, *wire.Error) {
	codec := wire.Codec(r.codec.Load())
	if len(typ) > wire.MaxNameLength {
		return nil, codec, wire.Errorf(wire.CodeBadMessage, "payload.type is longer than %d bytes", wire.MaxNameLength)
	}
	to, ok := r.handlerCodecs.of(typ)
	if !ok {
		to = codec // no such handler: dispatch says so
	}
	conv, err := wire.ConvertWithin(data, codec, to, r.maxFrame)
	if err != nil {
		return nil, codec, wire.Errorf(wire.CodeBadMessage, "data cannot be sent to a %s handler: %v", to, err)
	}
	return conv, to, nil
}

// dispatch sends d to the link of its type with the budget the frame it
// came in was charged, which its report gives back, and counts it.
func (r *connReader) dispatch(d *dispatch) {
	d.stats.countReceived()
	d.held, d.budget = r.held, r.budget
	r.held = 0
	r.routes.route(r.root, d)
}

// builtin runs a server command; `close` ends reading after its report.
func (r *connReader) builtin(p *wire.Payload) bool {
	var d wire.BuiltinData
	codec := wire.Codec(r.codec.Load())
	if err := codec.UnmarshalMap(p.Data, &d); err != nil || d.Command == nil {
		r.root.Send(r.self, badReport(p.ID, wire.Errorf(wire.CodeBadMessage, "builtin needs data.command.type"), nil))
		return true
	}
	if d.Command.Type != wire.BuiltinClose {
		r.root.Send(r.self, badReport(p.ID, wire.Errorf(wire.CodeUnknownCommand, "unknown builtin command %q", d.Command.Type), nil))
		return true
	}
	r.root.Send(r.self, goodReport(p.ID))
	return false
}

// reportNow sends a report for a message that was read but not dispatched.
func (r *connReader) reportNow(id string, err *wire.Error) bool {
	return r.reportTyped(badReport(id, err, nil))
}

// reportTyped sends rep, a report for a message that was read but not
// dispatched.
func (r *connReader) reportTyped(rep *report) bool {
	if !r.acquire() {
		return false
	}
	r.root.Send(r.self, rep)
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

// authenticatePeer checks the credentials of a connection with scope
// server (protocol §6): the name of a configured peer and its secret. The
// answer does not say which of the two was wrong; the log does.
func (r *connReader) authenticatePeer(h *wire.Header) *wire.Error {
	refused := wire.Errorf(wire.CodeUnauthorized, "bad peer name or secret")
	if h.Authentication == nil {
		if r.allowLegacy {
			r.legacy = true
			return nil
		}
		r.logged = true
		r.strangerLogs.Warn(r.logger(), "peer server refused: no authentication (original-style peers are not allowed)")
		return wire.Errorf(wire.CodeUnauthorized, "a peer server must authenticate with its name and the shared secret")
	}
	name := h.Authentication.Username
	want, ok := r.credentials.Load().peerSecrets[name]
	got := sha256.Sum256([]byte(h.Authentication.Password))
	// Comparing digests takes the same time whatever the secrets' lengths.
	match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	r.logged = true
	switch {
	case !ok:
		r.strangerLogs.Warn(r.logger(), "peer server refused: unknown peer", "peer", name)
		return refused
	case !match:
		r.strangerLogs.Warn(r.logger(), "peer server refused: wrong secret", "peer", name)
		return refused
	}
	if e := r.checkPeerCertificate(name); e != nil {
		return e
	}
	r.peer, r.peerSecret = name, got
	return nil
}

// peerStillTrusted tells whether the peer's secret still holds once its
// connection is registered. A reload swaps the credentials, then closes
// the registered connections of peers it removed or gave a new secret
// (dropPeerConns): this catches one that proved the old secret but was
// registered only after that.
func (r *connReader) peerStillTrusted() bool {
	return r.credentials.Load().peerSecrets[r.peer] == r.peerSecret
}

// handlePeer dispatches one message of a peer server to the handler of its
// type, from the peer, on behalf of the user who wrote it (header.origin).
// It reports false when the connection stopped.
func (r *connReader) handlePeer(env *wire.Envelope) bool {
	p := env.Payload
	if p == nil {
		return r.reportNow("", wire.Errorf(wire.CodeBadMessage, "message has no payload"))
	}
	h := env.Header
	var origin wire.Address
	hops := 0
	if h != nil {
		if h.Origin != nil {
			origin = *h.Origin
		}
		hops = h.Hops
	}
	switch {
	case p.Type == "":
		return r.reportNow(p.ID, wire.Errorf(wire.CodeBadMessage, "payload.type is missing"))
	case !r.legacy && (h == nil || h.Origin == nil):
		return r.reportNow(p.ID, wire.Errorf(wire.CodeBadMessage, "a peer's message needs header.origin"))
	case hops < 0:
		return r.reportNow(p.ID, wire.Errorf(wire.CodeBadMessage, "header.hops must not be negative"))
	case hops > maxHops:
		return r.reportNow(p.ID, wire.Errorf(wire.CodeLoop, "message passed between handlers and servers more than %d times", maxHops))
	case len(origin.User) > wire.MaxNameLength || len(origin.Server) > wire.MaxNameLength:
		return r.reportNow(p.ID, wire.Errorf(wire.CodeBadMessage, "header.origin names are limited to %d bytes", wire.MaxNameLength))
	}
	stats := r.metrics.typeOf(p.Type)
	if !r.permits.Allows(p.Type) {
		return r.reportTyped(typedReport(stats, p.ID, r.forbidden(p.Type)))
	}
	data, codec, err := r.forHandler(p.Type, p.Data)
	if err != nil {
		return r.reportTyped(typedReport(stats, p.ID, err))
	}
	if !r.acquire() {
		return false
	}
	r.dispatch(&dispatch{
		replyTo: r.self, sender: r.clientConn, id: p.ID, typ: p.Type, data: data, codec: codec, stats: stats,
		from:   wire.From{Scope: wire.FromServer, Name: r.peer, Server: r.peer},
		origin: origin, hops: hops,
	})
	return true
}
