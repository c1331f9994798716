package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/wire"
)

// router forwards each dispatch to the link of the handler named by its
// type. It alone owns its table, which a reload changes with setRoute; it
// keeps no other state and never waits on anyone.
type router struct {
	links map[string]*actor.PID
}

// Receive handles the actor's messages.
func (r *router) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *dispatch:
		if link, ok := r.links[m.typ]; ok {
			ctx.Send(link, m)
			return
		}
		m.reply(ctx, badReport(m.id, wire.Errorf(wire.CodeUnknownType, "no handler for type %q", m.typ), nil))
	case *setRoute:
		r.setRoute(ctx, m)
	}
}

// setRoute points a type at its new link, or at none, and tells the link
// that served it until now to retire. The router sends retireLink after
// every dispatch it passed that link, so none reaches it afterwards: all
// dispatches, sendHandler's included, come through the router.
func (r *router) setRoute(ctx actor.Context, m *setRoute) {
	old := r.links[m.typ]
	if m.link == nil {
		delete(r.links, m.typ)
	} else {
		r.links[m.typ] = m.link
	}
	if old != nil && old != m.link && m.retire != nil {
		ctx.Send(old, m.retire)
	}
}
