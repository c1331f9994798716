package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/wire"
)

// routes is the type → link table. The router actor alone changes it (a
// reload's setRoute); connection readers look a client's message up in it
// themselves and send the dispatch straight to the link, which spares
// every message a hop through the router's mailbox.
//
// A reader holds the read lock from its lookup until its Send has
// returned, and the router changes the table under the write lock before
// it sends the old link retireLink: so every dispatch a reader sent to
// that link is in the link's mailbox ahead of retireLink, as if it had
// come through the router. The lock is never held while anyone waits.
type routes struct {
	mu    sync.RWMutex
	links map[string]*actor.PID
}

// send sends d to the link of its type and reports whether one serves it.
func (t *routes) send(ctx actor.SenderContext, d *dispatch) bool {
	t.mu.RLock()
	link, ok := t.links[d.typ]
	if ok {
		ctx.Send(link, d)
	}
	t.mu.RUnlock()
	return ok
}

// route sends d to the link of its type, or gives it its unknown_type
// report.
func (t *routes) route(ctx actor.SenderContext, d *dispatch) {
	if !t.send(ctx, d) {
		d.reply(ctx, badReport(d.id, wire.Errorf(wire.CodeUnknownType, "no handler for type %q", d.typ), nil))
	}
}

// router forwards the dispatches that do not come from a client's reader
// (a handler's sendHandler, a retiring link's queue) by type, and is where
// the table changes. It keeps no other state and never waits on anyone.
type router struct {
	table *routes
}

// Receive handles the actor's messages.
func (r *router) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *dispatch:
		r.table.route(ctx, m)
	case *setRoute:
		r.setRoute(ctx, m)
	case *routesSettled:
		ctx.Respond(m) // every setRoute sent before it is in the table
	}
}

// setRoute points a type at its new link, or at none, and tells the link
// that served it until now to retire. retireLink follows every dispatch
// that was sent to that link, by a reader or by the router: none reaches
// it afterwards.
func (r *router) setRoute(ctx actor.Context, m *setRoute) {
	t := r.table
	t.mu.Lock()
	old := t.links[m.typ]
	if m.link == nil {
		delete(t.links, m.typ)
	} else {
		t.links[m.typ] = m.link
	}
	t.mu.Unlock()
	if old != nil && old != m.link && m.retire != nil {
		ctx.Send(old, m.retire)
	}
}
