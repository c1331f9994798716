package actors

import (
	"net"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/wire"
)

// accepted hands a new client connection to the acceptor.
type accepted struct {
	conn  net.Conn
	addr  string     // its source address, as connLimits counted it
	codec wire.Codec // the listener's; CodecAuto decides on the first body
}

// drained tells the server that the last connection of a draining acceptor
// has closed.
type drained struct{}

// acceptor is the parent of every client connection actor. A connection
// actor that panics is stopped, never restarted: a restarted one would
// start a second reader on the same socket. On drain it asks every
// connection to finish and says when the last has gone.
type acceptor struct {
	settings *connSettings
	next     uint64
	draining bool
	waiter   *actor.PID // who asked to drain, until told
}

// Receive handles the actor's messages.
func (a *acceptor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *accepted:
		if a.draining {
			a.settings.limits.leave(m.addr)
			m.conn.Close()
			return
		}
		a.next++
		id := strconv.FormatUint(a.next, 10)
		c := newClientConn(a.settings, m.conn, m.addr, m.codec, id)
		ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return c }, onPool(a.settings.pool)), "conn-"+id)
	case *drain:
		a.draining, a.waiter = true, ctx.Sender()
		for _, c := range ctx.Children() {
			ctx.Send(c, m)
		}
		a.reportDrained(ctx)
	case *actor.Terminated:
		a.reportDrained(ctx)
	}
}

func (a *acceptor) reportDrained(ctx actor.Context) {
	if a.waiter != nil && len(ctx.Children()) == 0 {
		ctx.Send(a.waiter, &drained{})
		a.waiter = nil
	}
}

// stopConnections is the acceptor's supervisor strategy.
var stopConnections = actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })
