package actors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/internal/backoff"
	"github.com/bester-project/bester/internal/gopool"
	"github.com/bester-project/bester/internal/unixsock"
	"github.com/bester-project/bester/wire"
)

// maxHops is how many times a message may be passed on, with sendHandler
// or sendServers, before it is stopped with error `loop`.
const maxHops = 8

// Link states, as the informer reports them.
const (
	stateStarting   = "starting"   // command started, waiting for its socket
	stateConnecting = "connecting" // no connection to the handler's socket yet
	stateUp         = "up"
	stateBackoff    = "backing_off" // command exited; restart scheduled
	stateFailed     = "failed"      // restarted too often; retried later or on SIGHUP
	stateStopping   = "stopping"
)

// linkSettings is what a handler link needs from the server.
type linkSettings struct {
	handler  config.Handler
	server   string // this server's name
	informer string // informer socket path, "" when none
	maxFrame int
	// maxRecipients bounds the usernames of one sendClients.
	maxRecipients int
	registry      *registry
	router        *actor.PID
	log           hclog.Logger
	pool          *gopool.Pool // runs the connections' writers
	// peers is the server's current peerBook, which a reload replaces.
	peers *atomic.Pointer[peerBook]
	// metrics count for /metrics; nil when they are off.
	metrics *metrics
	// cluster is this server's part in a cluster; nil on a single server.
	cluster *clusterNode
}

// handlerLink is the actor of one handler: it starts and supervises the
// handler's process (when it has a command), keeps its connections, sends
// it requests, matches answers to requests by id and carries them out.
type handlerLink struct {
	*linkSettings
	self *actor.PID
	root *actor.RootContext

	state   string
	gen     int             // bumped at every (re)start; older generations' news is ignored
	genCtx  context.Context // ends with the generation; dialers watch it
	cancel  context.CancelFunc
	proc    *handlerProcess
	conns   []*linkConn // stream mode: one slot per connection, nil when down
	next    int         // round-robin position in conns
	oneshot int         // oneshot exchanges under way

	nextID      uint64
	pending     map[uint64]pendingReq // by value: one allocation less per request
	deadlines   []expiry              // pending ids in send order; all share one timeout
	queue       []*queuedReq          // waiting for the handler to be ready
	restarts    restartHistory        // for the restart limit, the backoff and the state
	stopper     *actor.PID            // who asked for stopLink
	retiring    *retirement           // set once a reload took the link's type away
	fanouts     map[uint64]*fanout
	nextToken   uint64
	peerCtx     context.Context // ends with the link; exchanges with unnamed peers watch it
	peerCancel  context.CancelFunc
	timers      timers
	tick        time.Duration // how often sweep runs
	cancelTick  cancelFunc
	cancelTimer cancelFunc
	// expiryAt is when the extra sweep armed by armExpiry comes, zero when
	// none is armed; cancelExpiry cancels it.
	expiryAt     time.Time
	cancelExpiry cancelFunc
	// stats are the link's series in /metrics, from Started to Stopping;
	// nil when metrics are off.
	stats *handlerStats
}

type pendingReq struct {
	d    *dispatch
	slot int       // stream connection it went out on; -1 in oneshot mode
	sent time.Time // when it was sent, for the answer time
}

type expiry struct {
	id uint64
	at time.Time
}

type queuedReq struct {
	d  *dispatch
	at time.Time // when it gives up waiting
}

// Messages a link sends itself from its goroutines and timers.
type (
	procExited struct {
		gen int
		err error
	}
	connUp struct {
		gen, slot int
		conn      *linkConn // nil in oneshot mode: the socket accepts
	}
	connBroken struct {
		conn    *linkConn // which one: its slot may hold a newer one by now
		err     error
		garbage bool // the handler wrote something that is not a response
	}
	startTimedOut struct{ gen int }
	restartNow    struct{ gen int }
	sweep         struct{}
	// answers are the answers a stream connection read in one burst.
	answers []answer
	// answer is a handler's response, or why there is none (err).
	answer struct {
		gen  int
		id   uint64
		resp wire.HandlerResponse // in the same allocation as the message
		err  *wire.Error
		done bool // a oneshot exchange ended
	}
)

func newHandlerLink(s *linkSettings) *handlerLink {
	return &handlerLink{linkSettings: s, pending: make(map[uint64]pendingReq),
		conns: make([]*linkConn, s.handler.Connections), fanouts: make(map[uint64]*fanout)}
}

func (l *handlerLink) managed() bool { return len(l.handler.Command) > 0 }

// Receive handles the actor's messages, and publishes the link's gauges
// after each, except after a request or an answer: those come with every
// message, and the next sweep, within a tick, publishes for them.
func (l *handlerLink) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		l.self, l.root = ctx.Self(), ctx.ActorSystem().Root
		l.timers = timers{root: l.root, pid: l.self}
		l.tick = max(5*time.Millisecond, min(l.handler.Timeout/8, 200*time.Millisecond))
		l.cancelTick = l.timers.sendEvery(l.tick, &sweep{})
		l.peerCtx, l.peerCancel = context.WithCancel(context.Background())
		l.stats = l.metrics.addHandler(l.handler.Name)
		l.start()
	case *dispatch:
		l.accept(ctx, m)
		return
	case *answer:
		l.answered(ctx, m)
		l.checkRetired(ctx) // a retiring link stops with its last answer, not a sweep later
		return
	case *answers:
		for i := range *m {
			l.answered(ctx, &(*m)[i])
		}
		l.checkRetired(ctx)
		return
	case *peerResult:
		l.peerAnswered(ctx, m)
	case *memberResult:
		l.memberAnswered(ctx, m)
	case *connUp:
		l.connUp(ctx, m)
	case *connBroken:
		l.connBroken(ctx, m)
	case *procExited:
		l.procExited(ctx, m)
	case *startTimedOut:
		if m.gen == l.gen && l.state == stateStarting {
			l.log.Error("handler did not accept on its socket in time, restarting",
				"socket", l.handler.Socket, "start_timeout", l.handler.StartTimeout.String())
			go l.proc.terminate()
		}
	case *restartNow:
		if m.gen == l.gen && l.state == stateBackoff {
			l.start()
		}
	case *retryLink:
		if l.state == stateFailed {
			l.log.Info("retrying failed handler")
			l.restarts.forgetRecent()
			l.start()
		}
	case *sweep:
		l.sweep(ctx)
	case *getLinkState:
		ctx.Respond(l.snapshot())
	case *stopLink:
		l.stop(ctx)
	case *retireLink:
		l.retire(ctx, m)
	case *actor.Stopping:
		l.peerCancel()
		l.cancelTick()
		if l.cancelExpiry != nil {
			l.cancelExpiry()
		}
		if l.cancelTimer != nil {
			l.cancelTimer()
		}
		if l.retiring == nil || !l.retiring.replaced {
			// A replaced link leaves its series to its successor, whose
			// Started, which takes them over, may come after this.
			l.metrics.removeHandler(l.handler.Name, l.stats)
		}
		return
	}
	l.stats.publish(l.state == stateUp, len(l.queue), len(l.pending), l.restarts.total)
	l.checkRetired(ctx)
}

// start (re)starts the handler: its process when it has a command, then
// the connections to its socket.
func (l *handlerLink) start() {
	l.gen++
	gen := l.gen
	l.genCtx, l.cancel = context.WithCancel(context.Background())
	ctx := l.genCtx
	l.state = stateConnecting
	if l.managed() {
		p, err := startHandlerProcess(&l.handler, l.informer, l.log)
		if err != nil {
			l.log.Error("cannot start handler", "error", err)
			self, root := l.self, l.root
			go root.Send(self, &procExited{gen: gen, err: err})
			return
		}
		l.proc = p
		l.state = stateStarting
		l.log.Info("handler started", "pid", p.pid(), "command", l.handler.Command)
		self, root := l.self, l.root
		go func() {
			<-p.done
			root.Send(self, &procExited{gen: gen, err: p.err})
		}()
		l.cancelTimer = l.timers.sendOnce(l.handler.StartTimeout, &startTimedOut{gen: gen})
	}
	if l.handler.Mode == wire.ModeOneshot {
		go l.dial(ctx, gen, -1)
		return
	}
	for slot := range l.conns {
		go l.dial(ctx, gen, slot)
	}
}

// accept takes a request: sends it, queues it or refuses it.
func (l *handlerLink) accept(ctx actor.Context, d *dispatch) {
	switch l.state {
	case stateUp:
		if l.handler.Mode == wire.ModeOneshot && l.oneshot >= l.handler.Connections {
			l.enqueue(ctx, d)
			return
		}
		l.send(ctx, d)
	case stateFailed:
		l.fail(ctx, d, wire.Errorf(wire.CodeHandlerUnavailable,
			"handler %q failed after %d restarts; retried every %s", l.handler.Name,
			l.handler.Restart.MaxRestarts, l.handler.Restart.RetryAfter))
	case stateStopping:
		l.fail(ctx, d, wire.Errorf(wire.CodeShuttingDown, "server is shutting down"))
	default:
		l.enqueue(ctx, d)
	}
}

func (l *handlerLink) enqueue(ctx actor.Context, d *dispatch) {
	if len(l.queue) >= l.handler.Queue {
		l.fail(ctx, d, wire.Errorf(wire.CodeOverloaded, "handler %q is %s and its queue is full", l.handler.Name, l.state))
		return
	}
	l.queue = append(l.queue, &queuedReq{d: d, at: time.Now().Add(l.handler.Timeout)})
}

// pump sends queued requests while the handler can take them.
func (l *handlerLink) pump(ctx actor.Context) {
	for len(l.queue) > 0 && l.state == stateUp {
		if l.handler.Mode == wire.ModeOneshot && l.oneshot >= l.handler.Connections {
			return
		}
		q := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		l.send(ctx, q.d)
	}
}

// send writes one request to the handler.
func (l *handlerLink) send(ctx actor.Context, d *dispatch) {
	if len(l.pending) >= l.handler.MaxInFlight {
		l.fail(ctx, d, wire.Errorf(wire.CodeOverloaded, "handler %q has %d requests in flight", l.handler.Name, len(l.pending)))
		return
	}
	// Readers convert; this converts only after a sendHandler between
	// handlers of different codecs, and checks a handler's data's size.
	data, err := wire.ConvertWithin(d.data, d.codec, l.handler.Codec, l.maxFrame)
	if err != nil {
		l.fail(ctx, d, wire.Errorf(wire.CodeBadMessage, "data cannot be sent to a %s handler: %v", l.handler.Codec, err))
		return
	}
	id := l.nextID
	l.nextID++
	now := time.Now()
	if l.handler.Mode == wire.ModeOneshot {
		l.pending[id] = pendingReq{d: d, slot: -1, sent: now}
		l.oneshot++
		go l.exchange(l.gen, id, data)
	} else {
		slot := l.pickConn(len(data))
		d.req = wire.HandlerRequest{ID: id, Type: d.typ, From: d.from, Data: data, Origin: d.origin}
		if slot < 0 || !l.conns[slot].out.push(&d.req) {
			l.fail(ctx, d, wire.Errorf(wire.CodeOverloaded, "handler %q is not reading its requests", l.handler.Name))
			return
		}
		l.pending[id] = pendingReq{d: d, slot: slot, sent: now}
	}
	l.deadlines = append(l.deadlines, expiry{id: id, at: now.Add(l.handler.Timeout)})
}

// bulkData is the data size, in bytes, from which a request is bulk: with
// two connections or more, bulk requests go on the first and the others
// carry the rest, so that small messages never queue behind a megabyte
// being written, read and answered on the same socket.
const bulkData = 64 << 10

// pickConn chooses the live stream connection for a request of size
// bytes of data: the bulk one for large requests, the others round robin
// for the rest; any live one when those are down.
func (l *handlerLink) pickConn(size int) int {
	if len(l.conns) > 1 {
		if size >= bulkData {
			if l.conns[0] != nil {
				return 0
			}
		} else if slot := l.roundRobin(1); slot >= 0 {
			return slot
		}
	}
	return l.roundRobin(0)
}

// roundRobin returns the next live connection from first on, or -1.
func (l *handlerLink) roundRobin(first int) int {
	n := len(l.conns) - first
	for range n {
		l.next = first + (l.next-first+1+n)%n
		if l.conns[l.next] != nil {
			return l.next
		}
	}
	return -1
}

// answered carries out a handler's response.
func (l *handlerLink) answered(ctx actor.Context, a *answer) {
	if a.done { // the count spans generations: an exchange may outlive its handler process
		l.oneshot--
		defer l.pump(ctx)
	}
	p, ok := l.pending[a.id]
	if !ok {
		if a.err == nil {
			l.log.Debug("answer for an unknown or expired request", "id", a.id)
		}
		return
	}
	delete(l.pending, a.id)
	if a.err != nil {
		l.fail(ctx, p.d, a.err)
		return
	}
	l.stats.answered(p.sent)
	l.carryOut(ctx, p.d, &a.resp)
}

// carryOut does what a handler's response asks (protocol §5).
func (l *handlerLink) carryOut(ctx actor.Context, d *dispatch, resp *wire.HandlerResponse) {
	if resp.Header.Status != wire.HandlerStatusOK {
		l.fail(ctx, d, wire.Errorf(wire.CodeHandlerError, "handler %q answered status %q: %s",
			l.handler.Name, resp.Header.Status, l.explain(resp.Data)))
		return
	}
	cmd := resp.Header.Command
	if cmd == nil {
		d.reply(ctx, goodReport(d.id))
		return
	}
	switch cmd.Type {
	case wire.CommandSendClients:
		users, err := l.handler.Codec.UnmarshalStrings(cmd.Data)
		if err != nil {
			l.fail(ctx, d, wire.Errorf(wire.CodeHandlerError, "sendClients needs a list of usernames: %v", err))
			return
		}
		if len(users) > l.maxRecipients {
			l.fail(ctx, d, wire.Errorf(wire.CodeBadMessage, "sendClients names %d users, more than max_recipients (%d)", len(users), l.maxRecipients))
			return
		}
		l.deliver(ctx, d, users, resp.Data)
	case wire.CommandSendHandler:
		var next string
		if err := l.handler.Codec.Unmarshal(cmd.Data, &next); err != nil {
			l.fail(ctx, d, wire.Errorf(wire.CodeHandlerError, "sendHandler needs a handler name: %v", err))
			return
		}
		if d.hops+1 > maxHops {
			l.fail(ctx, d, wire.Errorf(wire.CodeLoop, "message passed between handlers more than %d times", maxHops))
			return
		}
		fwd := *d
		fwd.typ, fwd.data, fwd.codec, fwd.hops = next, resp.Data, l.handler.Codec, d.hops+1
		ctx.Send(l.router, &fwd)
	case wire.CommandSendServers:
		l.sendServers(ctx, d, cmd.Data, resp.Data)
	default:
		l.fail(ctx, d, wire.Errorf(wire.CodeHandlerError, "handler %q answered unknown command %q", l.handler.Name, cmd.Type))
	}
}

// maxExplanation bounds, in bytes, how much of a failing handler's data is
// quoted to the sender.
const maxExplanation = 256

// explain renders a failing handler's data (usually its error text) for the
// sender's report.
func (l *handlerLink) explain(data wire.RawValue) string {
	var text string
	if l.handler.Codec.Unmarshal(data, &text) != nil {
		if js, err := wire.Convert(data, l.handler.Codec, wire.CodecJSON); err == nil {
			text = string(js)
		}
	}
	if len(text) > maxExplanation {
		text = strings.ToValidUTF8(text[:maxExplanation], "") + "…"
	}
	if text == "" {
		return "no detail given"
	}
	return text
}

// deliver sends data to every connection of each user and reports to the
// sender which users could not be reached. In a cluster, users go to the
// other members that hold them too (deliverAcross), whether or not this
// server holds them: a user gets the message on every connection.
func (l *handlerLink) deliver(ctx actor.Context, d *dispatch, users []string, data wire.RawValue) {
	var undelivered []string
	ld := localDelivery{typ: d.typ, from: d.origin, data: data, codec: l.handler.Codec, maxFrame: l.maxFrame}
	users = dedup(users)
	for _, user := range users {
		if !ld.to(ctx, l.registry, user) {
			undelivered = append(undelivered, user)
		}
	}
	if l.cluster != nil && l.deliverAcross(ctx, d, users, undelivered, &ld) {
		return
	}
	if len(undelivered) == 0 {
		d.reply(ctx, goodReport(d.id))
		return
	}
	detail := ld.detail
	if detail == "" {
		detail = l.notConnected()
	}
	d.reply(ctx, undeliveredReport(d.id, wire.CodeUndelivered, detail, undelivered))
}

// undeliveredReport is the bad report of a delivery that did not reach
// users, listing as many of them as a report may hold.
func undeliveredReport(id string, code wire.ErrorCode, detail string, users []string) *report {
	if listed := fitUndelivered(users); listed < len(users) {
		detail += fmt.Sprintf(" (%d users; the first %d are listed)", len(users), listed)
		users = users[:listed]
	}
	return badReport(id, &wire.Error{Code: code, Detail: detail}, users)
}

// maxUndeliveredBytes bounds the names a report lists as undelivered,
// so that a report always fits in what a client reads.
const maxUndeliveredBytes = 16 << 10

// fitUndelivered returns how many of users a report lists.
func fitUndelivered(users []string) int {
	size := 0
	for i, u := range users {
		if size += len(u) + 4; size > maxUndeliveredBytes { // quotes and a separator
			return i
		}
	}
	return len(users)
}

// dedupAbove is the recipient count up to which dedup first looks for
// repeats by comparing names, which is faster than a map.
const dedupAbove = 16

// hasRepeats reports whether a short list names someone twice.
func hasRepeats(users []string) bool {
	for i, u := range users {
		if slices.Contains(users[:i], u) {
			return true
		}
	}
	return false
}

// dedup returns users without repeats, in their first order, in time
// linear in their number.
func dedup(users []string) []string {
	if len(users) <= dedupAbove && !hasRepeats(users) {
		return users // the common case allocates nothing
	}
	out := users[:0:0]
	seen := make(map[string]struct{}, len(users))
	for _, u := range users {
		if _, dup := seen[u]; !dup {
			seen[u] = struct{}{}
			out = append(out, u)
		}
	}
	return out
}

// fail sends the sender a bad report.
func (l *handlerLink) fail(ctx actor.Context, d *dispatch, err *wire.Error) {
	d.reply(ctx, badReport(d.id, err, nil))
}

// failPending fails every request sent on slot (all of them when slot is
// -2) with err.
func (l *handlerLink) failPending(ctx actor.Context, slot int, err *wire.Error) {
	for id, p := range l.pending {
		if slot == -2 || p.slot == slot {
			delete(l.pending, id)
			l.fail(ctx, p.d, err)
		}
	}
}

func (l *handlerLink) failQueue(ctx actor.Context, err *wire.Error) {
	for _, q := range l.queue {
		l.fail(ctx, q.d, err)
	}
	l.queue = nil
}

// sweep expires requests that waited longer than the handler's timeout.
// It also drops the deadlines of requests answered already: deadlines are
// in the order requests were sent, and handlers answer roughly in that
// order, so the queue stays about as long as what is in flight instead of
// holding every request of the last timeout's worth. It runs every tick,
// and at the next deadline when that comes before the next tick (see
// armExpiry).
func (l *handlerLink) sweep(ctx actor.Context) {
	now := time.Now()
	if !l.expiryAt.After(now) {
		l.expiryAt = time.Time{} // the extra sweep came, if one was armed
	}
	l.deadlines = expire(l.deadlines, l.pending, now, func(p pendingReq) {
		l.fail(ctx, p.d, wire.Errorf(wire.CodeHandlerTimeout, "handler %q did not answer within %s", l.handler.Name, l.handler.Timeout))
	})
	l.expireFanouts(ctx, now)
	for len(l.queue) > 0 && !l.queue[0].at.After(now) {
		q := l.queue[0]
		l.queue = l.queue[1:]
		code := wire.CodeHandlerUnavailable
		if l.state == stateUp { // waiting for a oneshot slot: the handler is slow, not absent
			code = wire.CodeHandlerTimeout
		}
		l.fail(ctx, q.d, wire.Errorf(code, "handler %q was not ready within %s (%s)", l.handler.Name, l.handler.Timeout, l.state))
	}
	l.armExpiry(now)
}

// expire takes from the front of deadlines (ids of pending, in the order
// of their deadlines) those answered already and those due at now:
// expired is called for each due one, which leaves pending. It returns
// what is left of deadlines, nil when nothing is, to let go of the array
// the queue was sliced from.
func expire[T any](deadlines []expiry, pending map[uint64]T, now time.Time, expired func(T)) []expiry {
	for len(deadlines) > 0 {
		e := deadlines[0]
		p, ok := pending[e.id]
		if ok && e.at.After(now) {
			break
		}
		deadlines = deadlines[1:]
		if ok {
			delete(pending, e.id)
			expired(p)
		}
	}
	if len(deadlines) == 0 {
		return nil
	}
	return deadlines
}

// armExpiry makes the next deadline exact: when it comes before the next
// tick, a sweep is sent for that moment, or else a request would time out
// up to a tick late and an answer arriving meanwhile would still count.
// It costs at most one timer per tick, none per request.
func (l *handlerLink) armExpiry(now time.Time) {
	at, ok := l.nextDeadline()
	if !ok || !at.Before(now.Add(l.tick)) || (!l.expiryAt.IsZero() && !at.Before(l.expiryAt)) {
		return
	}
	if l.cancelExpiry != nil {
		l.cancelExpiry()
	}
	l.expiryAt = at
	l.cancelExpiry = l.timers.sendOnce(at.Sub(now), &sweep{})
}

// nextDeadline is the earliest deadline of a request in flight or in the
// queue. Both lists are in deadline order, and after a sweep the first
// entry of deadlines is a request still in flight.
func (l *handlerLink) nextDeadline() (time.Time, bool) {
	var at time.Time
	if len(l.deadlines) > 0 {
		at = l.deadlines[0].at
	}
	if len(l.queue) > 0 && (at.IsZero() || l.queue[0].at.Before(at)) {
		at = l.queue[0].at
	}
	return at, !at.IsZero()
}

func (l *handlerLink) connUp(ctx actor.Context, m *connUp) {
	if m.gen != l.gen || l.state == stateStopping {
		if m.conn != nil {
			m.conn.close()
		}
		return
	}
	if m.conn != nil {
		l.conns[m.slot] = m.conn
		m.conn.start(l.self, l.root)
	}
	if l.state != stateUp {
		l.log.Info("handler is up", "socket", l.handler.Socket)
		l.state = stateUp
		if l.cancelTimer != nil {
			l.cancelTimer()
			l.cancelTimer = nil
		}
	}
	l.pump(ctx)
}

func (l *handlerLink) connBroken(ctx actor.Context, m *connBroken) {
	slot := m.conn.slot
	if m.conn.gen != l.gen || l.conns[slot] != m.conn {
		return
	}
	m.conn.close()
	l.conns[slot] = nil
	if m.garbage {
		l.log.Error("handler answered garbage, reconnecting", "error", m.err)
		l.failPending(ctx, slot, wire.Errorf(wire.CodeHandlerError, "handler %q answered garbage: %v", l.handler.Name, m.err))
	} else {
		l.log.Warn("connection to handler lost", "error", m.err)
		l.failPending(ctx, slot, wire.Errorf(wire.CodeHandlerCrashed, "handler %q closed the connection", l.handler.Name))
	}
	if l.state != stateStopping && !slices.ContainsFunc(l.conns, func(c *linkConn) bool { return c != nil }) {
		l.state = stateConnecting
	}
	if l.state != stateStopping {
		go l.dial(l.genCtx, l.gen, slot)
	}
}

// procExited handles the end of the handler's process: restart it with
// backoff, or mark the link failed when it restarts too often.
func (l *handlerLink) procExited(ctx actor.Context, m *procExited) {
	if m.gen != l.gen {
		return
	}
	l.proc = nil
	l.teardown()
	l.failPending(ctx, -2, wire.Errorf(wire.CodeHandlerCrashed, "handler %q exited: %v", l.handler.Name, exitText(m.err)))
	if l.state == stateStopping {
		l.stopped(ctx)
		return
	}
	r := l.handler.Restart
	recent, allowed := l.restarts.record(time.Now(), r)
	if !allowed {
		l.state = stateFailed
		l.log.Error("handler keeps exiting, giving up for now", "exit", exitText(m.err),
			"restarts", recent, "window", r.Window.String(), "retry_after", r.RetryAfter.String())
		l.failQueue(ctx, wire.Errorf(wire.CodeHandlerUnavailable, "handler %q keeps exiting", l.handler.Name))
		l.cancelTimer = l.timers.sendOnce(r.RetryAfter, &retryLink{})
		return
	}
	delay := backoff.Backoff{Base: r.BackoffMin, Max: r.BackoffMax}.Delay(recent - 1)
	l.state = stateBackoff
	l.log.Warn("handler exited, restarting", "exit", exitText(m.err), "retry_in", delay.String())
	l.cancelTimer = l.timers.sendOnce(delay, &restartNow{gen: l.gen})
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// teardown closes every connection of the current generation and stops its
// dialers.
func (l *handlerLink) teardown() {
	if l.cancel != nil {
		l.cancel()
	}
	for i, c := range l.conns {
		if c != nil {
			c.close()
			l.conns[i] = nil
		}
	}
	if l.cancelTimer != nil {
		l.cancelTimer()
		l.cancelTimer = nil
	}
}

// stop fails what the link holds with shutting_down and ends the handler's
// process; linkStopped goes to the asker once it has exited.
func (l *handlerLink) stop(ctx actor.Context) {
	l.stopper = ctx.Sender()
	if l.state == stateStopping { // retiring: its process is ending already
		return
	}
	l.halt(ctx, wire.Errorf(wire.CodeShuttingDown, "server is shutting down"))
}

// halt fails what the link holds with err and ends the handler's process;
// stopped follows once it has exited.
func (l *handlerLink) halt(ctx actor.Context, err *wire.Error) {
	l.state = stateStopping
	l.failQueue(ctx, err)
	l.failPending(ctx, -2, err)
	l.failFanouts(ctx, err)
	l.peerCancel()
	l.teardown()
	if l.proc == nil {
		l.stopped(ctx)
		return
	}
	go l.proc.terminate()
}

func (l *handlerLink) stopped(ctx actor.Context) {
	if l.managed() {
		if err := unixsock.RemoveFile(l.handler.Socket); err != nil {
			l.log.Warn("cannot remove handler socket", "error", err)
		}
	}
	if l.stopper != nil {
		ctx.Send(l.stopper, &linkStopped{})
	}
	if l.retiring != nil {
		l.log.Info("handler " + l.retiring.why + ": stopped")
		l.retiring.done()
		ctx.Stop(ctx.Self())
	}
}

func (l *handlerLink) snapshot() *LinkState {
	s := &LinkState{Name: l.handler.Name, State: l.state, Mode: string(l.handler.Mode),
		Codec: l.handler.Codec.String(), InFlight: len(l.pending), Queued: len(l.queue), Restarts: l.restarts.total}
	for _, c := range l.conns {
		if c != nil {
			s.Connections++
		}
	}
	if l.proc != nil {
		s.PID = l.proc.pid()
	}
	return s
}
