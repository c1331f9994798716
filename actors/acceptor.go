package actors

import (
	"net"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/wire"
)

// accepted hands a new client connection to the acceptor.
type accepted struct {
	conn     net.Conn
	addr     string       // its source address, as connLimits counted it
	codec    wire.Codec   // the listener's; CodecAuto decides on the first body
	listener string       // the listener's name
	tls      *tlsListener // the listener's TLS settings; nil for a plain one
}

// useSettings gives the acceptor the settings of the connections it
// accepts from now on (a reload).
type useSettings struct{ settings *connSettings }

// drained tells the server that every connection of a draining acceptor is
// quiet (or gone): no message is in flight and none will be read.
type drained struct{}

// connsClosed tells the server that the last connection has closed after
// closeConns.
type connsClosed struct{}

// acceptor is the parent of every client connection actor. A connection
// actor that panics is stopped, never restarted: a restarted one would
// start a second reader on the same socket. It coordinates the shutdown of
// the connections: on drain it tells every connection to stop reading and
// says drained once all of them are quiet; on closeConns it tells them to
// close and says connsClosed once the last has gone. Connections stay open
// between the two, so that messages in flight reach idle recipients.
type acceptor struct {
	settings *connSettings
	next     uint64
	draining bool
	closing  bool
	quiet    map[string]struct{} // PID ids of the connections that are quiet
	waiter   *actor.PID          // who asked to drain or close, until told
}

// Receive handles the actor's messages.
func (a *acceptor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *accepted:
		if a.draining {
			a.settings.limits.leave(m.addr, m.listener)
			m.conn.Close()
			return
		}
		a.next++
		id := strconv.FormatUint(a.next, 10)
		c := newClientConn(a.settings, m, id)
		ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return c }, onPool(a.settings.pool)), "conn-"+id)
	case *useSettings:
		a.settings = m.settings
	case *drain:
		a.draining, a.quiet = true, make(map[string]struct{})
		a.tellAll(ctx, m)
	case *quiet:
		a.quiet[m.conn.Id] = struct{}{}
		a.answerWaiter(ctx)
	case *closeConns:
		a.closing = true
		a.tellAll(ctx, m)
	case *dropPeerConns:
		for _, c := range ctx.Children() {
			ctx.Send(c, m)
		}
	case *actor.Terminated:
		delete(a.quiet, m.Who.Id)
		a.answerWaiter(ctx)
	}
}

// tellAll passes m on to every connection; the sender waits for the answer.
func (a *acceptor) tellAll(ctx actor.Context, m any) {
	a.waiter = ctx.Sender()
	for _, c := range ctx.Children() {
		ctx.Send(c, m)
	}
	a.answerWaiter(ctx)
}

// answerWaiter tells the waiter connsClosed once no connection is left after
// closeConns, or drained once every connection is quiet.
func (a *acceptor) answerWaiter(ctx actor.Context) {
	if a.waiter == nil {
		return
	}
	switch n := len(ctx.Children()); {
	case a.closing && n == 0:
		ctx.Send(a.waiter, &connsClosed{})
	case !a.closing && a.draining && len(a.quiet) == n:
		ctx.Send(a.waiter, &drained{})
	default:
		return
	}
	a.waiter = nil
}

// stopConnections is the acceptor's supervisor strategy.
var stopConnections = actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })
