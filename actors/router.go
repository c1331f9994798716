package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/wire"
)

// router forwards each dispatch to the link of the handler named by its
// type. Its table is fixed when the server starts, so it keeps no other
// state and never waits on anyone.
type router struct {
	links map[string]*actor.PID
}

// Receive handles the actor's messages.
func (r *router) Receive(ctx actor.Context) {
	d, ok := ctx.Message().(*dispatch)
	if !ok {
		return
	}
	if link, ok := r.links[d.typ]; ok {
		ctx.Send(link, d)
		return
	}
	d.reply(ctx, badReport(d.id, wire.Errorf(wire.CodeUnknownType, "no handler for type %q", d.typ), nil))
}
