package actors

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/internal/backoff"
	"github.com/bester-project/bester/internal/gopool"
	"github.com/bester-project/bester/wire"
)

// peerLogEvery is how often a connection failure that keeps repeating is
// logged at warn (or error) level: the first failure, then every
// peerLogEvery-th, and whenever the failure changes; the others are logged
// at debug. Connections that a peer drops at once are counted the same way.
const peerLogEvery = 10

// peerSettings is what a peer link needs from the server.
type peerSettings struct {
	peer     config.Peer
	server   string // this server's name: how it authenticates at the peer
	maxFrame int
	log      hclog.Logger
	pool     *gopool.Pool // runs the connection's writer
	metrics  *metrics     // nil when metrics are off
	// book is the server's current peerBook, where a retiring link finds
	// the link that serves its peer now.
	book *atomic.Pointer[peerBook]
}

// peerLink is the actor of one configured peer server (protocol §6). It
// owns one outbound connection: dialed, authenticated and read by its
// goroutines, written by an outbox. It holds messages while it connects,
// gives each one it sends an id of its own and answers its sender only
// when the peer's status report for that id arrives, or with
// peer_unavailable when none can come.
type peerLink struct {
	*peerSettings
	self *actor.PID
	root *actor.RootContext
	// replaced is set when a reload gave the peer a new link, which takes
	// over this one's series.
	replaced bool

	state    string
	gen      int // bumped at every connection attempt; older news is ignored
	conn     *peerConn
	ctx      context.Context // ends when the link stops; dialers watch it
	cancel   context.CancelFunc
	gate     *gate
	attempts int         // attempts since the last connection that stayed up for backoff_max
	upAt     time.Time   // when the current connection came up
	drops    int         // connections in a row lost within backoff_max of coming up
	connects int         // times the peer came up
	refused  *wire.Error // the peer refused our credentials at the last attempt
	// lastError is the last failure, logged (a new kind at once) and shown
	// in the state until the link is up again.
	lastError string
	// closedWith is what a message gets once the link has stopped: at
	// shutdown, or when a reload removed or changed its peer.
	closedWith *wire.Error

	nextID uint64
	msgs   map[string]*peerMsg // accepted and not yet answered, by wire id
	order  []*peerMsg          // accepted, oldest first: also deadline order
	queue  []*peerMsg          // waiting for the connection, oldest first
	queued int                 // entries of queue not yet answered

	timers      timers
	cancelTick  cancelFunc
	cancelRetry cancelFunc
	// stats are the link's series in /metrics, from Started to Stopping;
	// nil when metrics are off.
	stats *peerStats
}

// peerMsg is one message for the peer and who waits for its result.
type peerMsg struct {
	id      string
	token   uint64
	replyTo *actor.PID
	msg     *wire.ServerMessage
	at      time.Time // deadline for the peer's report
	sentAt  time.Time // when it was handed to the writer, for the round trip
	sent    bool
	done    bool
}

// Messages a peer link sends itself from its goroutines and timers.
type (
	peerDialed struct {
		gen  int
		conn *peerConn
	}
	peerDialFailed struct {
		gen     int
		err     error
		refused *wire.Error // the peer answered our credentials with a bad report
	}
	peerReport struct {
		gen    int
		report *wire.StatusReport
	}
	peerLost struct {
		gen int
		err error
	}
	peerRetry struct{ gen int }
)

func newPeerLink(s *peerSettings) *peerLink {
	return &peerLink{peerSettings: s, msgs: make(map[string]*peerMsg), gate: &gate{}}
}

// Receive handles the actor's messages, and publishes the link's gauges
// after each, except after a message to send or a report: the next sweep,
// within a tick, publishes for them.
func (l *peerLink) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		l.self, l.root = ctx.Self(), ctx.ActorSystem().Root
		l.ctx, l.cancel = context.WithCancel(context.Background())
		l.timers = timers{root: l.root, pid: l.self}
		l.stats = l.metrics.addPeer(l.peer.Name)
		tick := max(5*time.Millisecond, min(l.peer.Timeout/8, 200*time.Millisecond))
		l.cancelTick = l.timers.sendEvery(tick, &sweep{})
		if l.peer.InsecurePlaintext && l.peer.PlaintextToNetwork() {
			l.log.Warn("INSECURE: the connection to this peer is not encrypted (insecure_plaintext): "+
				"its secret and every message cross the network in clear", "address", l.peer.Address)
		}
		l.connect()
	case *peerSend:
		l.accept(ctx, m)
		return
	case *peerDialed:
		l.dialed(ctx, m)
	case *peerDialFailed:
		if m.gen == l.gen && l.state == stateConnecting {
			l.failed(ctx, m.err, m.refused)
		}
	case *peerReport:
		if m.gen == l.gen && l.conn != nil {
			l.reported(ctx, m.report)
		}
		return
	case *peerLost:
		if m.gen == l.gen && l.conn != nil {
			l.lost(ctx, m.err)
		}
	case *peerRetry:
		if m.gen == l.gen && l.state == stateBackoff {
			l.connect()
		}
	case *retryPeer:
		if l.state == stateBackoff {
			l.log.Info("connecting to peer now", "address", l.peer.Address)
			l.cancelRetry()
			l.connect()
		}
	case *sweep:
		l.sweep(ctx)
	case *getPeerState:
		ctx.Respond(l.snapshot())
	case *stopPeer:
		l.stop(ctx)
	case *retirePeer:
		l.retire(ctx, m)
	case *actor.Stopping:
		l.shutdown()
		if !l.replaced { // the successor's Started may come after this
			l.metrics.removePeer(l.peer.Name, l.stats)
		}
	case *actor.Restarting: // a bug panicked: the new instance starts afresh
		l.shutdown()
		l.metrics.removePeer(l.peer.Name, l.stats)
	}
	l.stats.publish(l.state == stateUp, l.queued)
}

// connect starts a connection attempt.
func (l *peerLink) connect() {
	l.gen++
	l.state = stateConnecting
	go l.dial(l.ctx, l.gen)
}

// dialed takes a connection that authenticated.
func (l *peerLink) dialed(ctx actor.Context, m *peerDialed) {
	if m.gen != l.gen || l.state != stateConnecting {
		m.conn.close()
		return
	}
	l.conn = m.conn
	l.conn.start(l.self, l.root, l.gate)
	l.state = stateUp
	l.upAt = time.Now()
	l.connects++
	lv := hclog.Info
	if l.drops > 1 && l.drops%peerLogEvery != 1 {
		lv = hclog.Debug // the peer keeps dropping us: said already
	}
	args := []any{"address", l.peer.Address}
	if l.conn.tls != "" {
		args = append(args, "tls", l.conn.tls)
	}
	if l.attempts > 0 {
		args = append(args, "connects", l.connects, "attempts", l.attempts)
	}
	l.log.Log(lv, "peer is up", args...)
	l.refused, l.lastError = nil, ""
	for len(l.queue) > 0 && l.state == stateUp {
		pm := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		if !pm.done {
			l.queued--
			l.write(ctx, pm)
		}
	}
	l.queue = nil
}

// failed handles a connection attempt that did not succeed: it logs (not
// every time the same failure repeats) and tries again after a backoff.
func (l *peerLink) failed(ctx actor.Context, err error, refused *wire.Error) {
	delay := backoff.Backoff{Base: l.peer.BackoffMin, Max: l.peer.BackoffMax}.Delay(l.attempts)
	l.attempts++
	l.state = stateBackoff
	l.cancelRetry = l.timers.sendOnce(delay, &peerRetry{gen: l.gen})
	what := ""
	if refused != nil {
		what = string(refused.Code) + ": " + refused.Detail
		l.refused = wire.Errorf(wire.CodeUnauthorized,
			"peer %s refused this server's credentials (check the secret on both servers)", l.peer.Name)
		l.failQueue(ctx, l.refused)
	} else {
		what = err.Error()
	}
	lv := hclog.Debug
	if what != l.lastError || l.attempts%peerLogEvery == 1 {
		lv = hclog.Warn
		if refused != nil {
			lv = hclog.Error
		}
	}
	l.lastError = what
	if refused != nil {
		l.log.Log(lv, "peer "+l.peer.Name+" refused our credentials", "address", l.peer.Address,
			"answer", what, "attempt", l.attempts, "retry_in", delay.String())
		return
	}
	l.log.Log(lv, "cannot connect to peer, backing off", "address", l.peer.Address,
		"error", what, "attempt", l.attempts, "retry_in", delay.String(), "queued", l.queued)
}

// lost handles the end of the connection: messages sent on it can no
// longer be reported, so they fail; queued ones wait for the next one.
func (l *peerLink) lost(ctx actor.Context, err error) {
	l.conn.close()
	l.conn = nil
	l.lastError = err.Error()
	lostErr := wire.Errorf(wire.CodePeerUnavailable,
		"connection to peer %s lost; the message may or may not have been delivered", l.peer.Name)
	inFlight := 0
	for _, pm := range l.msgs {
		if pm.sent {
			inFlight++
			l.finish(ctx, pm, lostErr)
		}
	}
	if l.state == stateStopping {
		return
	}
	// A connection that worked for a while starts the backoff afresh; a
	// peer that drops us at once keeps it growing.
	if time.Since(l.upAt) >= l.peer.BackoffMax {
		l.attempts, l.drops = 0, 0
	} else {
		l.drops++
	}
	delay := backoff.Backoff{Base: l.peer.BackoffMin, Max: l.peer.BackoffMax}.Delay(l.attempts)
	l.attempts++
	l.state = stateBackoff
	lv := hclog.Warn
	if l.drops > 1 && l.drops%peerLogEvery != 1 {
		lv = hclog.Debug
	}
	l.log.Log(lv, "connection to peer lost, reconnecting", "address", l.peer.Address, "error", err,
		"failed_in_flight", inFlight, "drops", l.drops, "retry_in", delay.String())
	l.cancelRetry = l.timers.sendOnce(delay, &peerRetry{gen: l.gen})
}

// accept takes a message for the peer: sends it, queues it or refuses it.
func (l *peerLink) accept(ctx actor.Context, m *peerSend) {
	fail := func(err *wire.Error) {
		ctx.Send(m.replyTo, &peerResult{token: m.token, peer: l.peer.Name, err: err})
	}
	switch {
	case l.state == stateStopping:
		fail(l.closedWith)
		return
	case l.refused != nil:
		fail(l.refused)
		return
	case l.state != stateUp && l.queued >= l.peer.Queue:
		fail(wire.Errorf(wire.CodeOverloaded, "peer %s is not connected (%s) and its queue of %d is full",
			l.peer.Name, l.state, l.peer.Queue))
		return
	case l.inFlight() >= l.peer.MaxInFlight:
		fail(wire.Errorf(wire.CodeOverloaded, "peer %s has %d messages in flight (max_in_flight)",
			l.peer.Name, l.inFlight()))
		return
	}
	data, err := wire.ConvertWithin(m.data, m.codec, l.peer.Codec, l.maxFrame)
	if err != nil {
		fail(wire.Errorf(wire.CodeBadMessage, "data cannot be sent to peer %s (%s): %v", l.peer.Name, l.peer.Codec, err))
		return
	}
	id := strconv.FormatUint(l.nextID, 10)
	l.nextID++
	pm := &peerMsg{id: id, token: m.token, replyTo: m.replyTo, at: time.Now().Add(l.peer.Timeout),
		msg: &wire.ServerMessage{
			Header:  wire.ServerHeader{Origin: m.origin, Hops: m.hops},
			Payload: wire.Payload{Type: m.typ, ID: id, Data: data},
		}}
	l.msgs[id] = pm
	l.order = append(l.order, pm)
	if l.state == stateUp {
		l.write(ctx, pm)
		return
	}
	l.queue = append(l.queue, pm)
	l.queued++
}

// write hands one message to the connection's writer.
func (l *peerLink) write(ctx actor.Context, pm *peerMsg) {
	if !l.conn.out.push(pm.msg) {
		l.finish(ctx, pm, wire.Errorf(wire.CodeOverloaded, "peer %s is not reading its messages", l.peer.Name))
		return
	}
	pm.sent, pm.sentAt = true, time.Now()
}

// reported carries the peer's status report to the message's sender.
func (l *peerLink) reported(ctx actor.Context, r *wire.StatusReport) {
	if r.Header.MessageType != wire.MessageTypeStatusReport {
		l.log.Debug("peer wrote a message that is not a status report; ignored", "messageType", r.Header.MessageType)
		return
	}
	pm, ok := l.msgs[r.Payload.ID]
	if !ok || !pm.sent {
		if r.Header.Status != wire.StatusGood && r.Payload.ID == "" {
			l.log.Warn("peer reported an error about no message", "error", r.Header.Error, "detail", r.Header.Detail)
		} else {
			l.log.Debug("report for an unknown or expired message", "id", r.Payload.ID)
		}
		return
	}
	l.stats.reported(pm.sentAt)
	if r.Header.Status == wire.StatusGood {
		l.finish(ctx, pm, nil)
		return
	}
	l.finish(ctx, pm, remoteError(l.peer.Name, r))
}

// remoteError turns a peer's bad report into the error its sender gets:
// the peer's code, its detail named after the peer.
func remoteError(peer string, r *wire.StatusReport) *wire.Error {
	code := r.Header.Error
	if code == "" {
		code = wire.CodePeerUnavailable
	}
	detail := "peer " + peer + ": " + r.Header.Detail
	if r.Header.Detail == "" {
		detail = "peer " + peer + " reported " + r.Header.Status
	}
	if len(r.Payload.Undelivered) > 0 {
		detail += " (undelivered there: " + strings.Join(r.Payload.Undelivered, ", ") + ")"
	}
	return &wire.Error{Code: code, Detail: detail}
}

// finish answers a message's sender, once.
func (l *peerLink) finish(ctx actor.Context, pm *peerMsg, err *wire.Error) {
	if pm.done {
		return
	}
	pm.done = true
	delete(l.msgs, pm.id)
	if !pm.sent {
		l.queued--
	}
	ctx.Send(pm.replyTo, &peerResult{token: pm.token, peer: l.peer.Name, err: err})
}

// failQueue fails every message that was not sent yet.
func (l *peerLink) failQueue(ctx actor.Context, err *wire.Error) {
	for _, pm := range l.queue {
		l.finish(ctx, pm, err)
	}
	l.queue = nil
}

// sweep fails messages whose report did not arrive within the peer's
// timeout, whether they were sent or still wait for the connection.
func (l *peerLink) sweep(ctx actor.Context) {
	now := time.Now()
	for len(l.order) > 0 && (l.order[0].done || !l.order[0].at.After(now)) {
		pm := l.order[0]
		l.order[0] = nil
		l.order = l.order[1:]
		if pm.done {
			continue
		}
		if pm.sent {
			l.finish(ctx, pm, wire.Errorf(wire.CodePeerUnavailable,
				"peer %s did not report within %s; the message may or may not have been delivered", l.peer.Name, l.peer.Timeout))
		} else {
			l.finish(ctx, pm, wire.Errorf(wire.CodePeerUnavailable,
				"peer %s could not be reached within %s (%s)", l.peer.Name, l.peer.Timeout, l.state))
		}
	}
	if len(l.order) == 0 {
		l.order = nil
	}
	if l.queued == 0 {
		l.queue = nil
	}
}

// stop fails everything with shutting_down, closes the connection and
// ends the dialers; peerStopped goes to the asker.
func (l *peerLink) stop(ctx actor.Context) {
	l.close(ctx, wire.Errorf(wire.CodeShuttingDown, "server is shutting down"))
	if ctx.Sender() != nil {
		ctx.Respond(&peerStopped{})
	}
}

// retire stops the link of a peer that a reload removed or changed. The
// messages still waiting for the connection go to the link that serves
// the peer by now, when it changed (the peerBook's: the link that replaced
// this one may have been replaced and retired in turn, when a second
// reload came before this link took its retirePeer); the rest fail with
// peer_unavailable. The actor itself
// stops a moment later: a handler link that took it from the peerBook
// just before the reload replaced the book may still send it a message,
// which gets the same answer meanwhile (and the fan-out's backstop after
// that).
func (l *peerLink) retire(ctx actor.Context, m *retirePeer) {
	l.replaced = m.replaced
	handed := 0
	if next := l.book.Load().byName[l.peer.Name]; m.replaced && next != nil && !next.Equal(ctx.Self()) {
		handed = l.handOver(ctx, next)
	}
	l.log.Info("peer "+m.why+": failing its messages and closing its connection", "in_flight", l.inFlight(),
		"queued", l.queued, "handed_to_successor", handed)
	l.close(ctx, wire.Errorf(wire.CodePeerUnavailable,
		"peer %s %s; a message already sent may or may not have been delivered", l.peer.Name, m.why))
	l.timers.sendOnce(fanoutGrace, &actor.PoisonPill{})
}

// handOver passes the messages not sent yet to successor, which answers
// their senders instead, and returns how many there were.
func (l *peerLink) handOver(ctx actor.Context, successor *actor.PID) int {
	n := 0
	for _, pm := range l.queue {
		if pm.done {
			continue
		}
		pm.done = true
		delete(l.msgs, pm.id)
		l.queued--
		ctx.Send(successor, &peerSend{token: pm.token, replyTo: pm.replyTo, origin: pm.msg.Header.Origin,
			typ: pm.msg.Payload.Type, data: pm.msg.Payload.Data, codec: l.peer.Codec, hops: pm.msg.Header.Hops})
		n++
	}
	l.queue = nil
	return n
}

// close fails everything with err, closes the connection and ends the
// dialers; messages that come later get err too.
func (l *peerLink) close(ctx actor.Context, err *wire.Error) {
	l.state = stateStopping
	l.closedWith = err
	l.shutdown()
	for _, pm := range l.order {
		l.finish(ctx, pm, err)
	}
	l.order, l.queue = nil, nil
}

// shutdown releases the link's goroutines, timers and connection.
func (l *peerLink) shutdown() {
	l.gate.close()
	if l.cancel != nil {
		l.cancel()
	}
	if l.cancelTick != nil {
		l.cancelTick()
	}
	if l.cancelRetry != nil {
		l.cancelRetry()
	}
	if l.conn != nil {
		l.conn.close()
		l.conn = nil
	}
}

// inFlight is how many messages were sent to the peer and await its report.
func (l *peerLink) inFlight() int {
	return len(l.msgs) - l.queued
}

func (l *peerLink) snapshot() *PeerState {
	return &PeerState{Name: l.peer.Name, Address: l.peer.Address, State: l.state, TLS: l.peer.TLS != nil,
		Queued: l.queued, InFlight: l.inFlight(), Connects: l.connects, LastError: l.lastError}
}

// gate lets goroutines hand news (and the connections it carries) to an
// actor until the actor stops; after that they must clean up themselves.
// Sending under the lock orders every such message before the actor's
// last ones.
type gate struct {
	mu     sync.Mutex
	closed bool
}

// send runs f, which sends to the actor, unless the gate is closed.
func (g *gate) send(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	f()
	return true
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
