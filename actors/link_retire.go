package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/wire"
)

// retirement is what a link that a reload took its type from still has
// to do: finish its messages by until, then stop.
type retirement struct {
	*retireLink
	until time.Time
}

// retire begins the link's retirement (see retireLink). No dispatch comes
// after this: the router sent it after the last one, a reader's included
// (see routes).
func (l *handlerLink) retire(ctx actor.Context, m *retireLink) {
	l.retiring = &retirement{retireLink: m, until: time.Now().Add(l.handler.Timeout)}
	handed := 0
	if m.replaced {
		// Through the router, which sends them to the link that serves
		// the type by now: the link that replaced this one may have been
		// replaced and stopped in turn, when a second reload came before
		// this link took its retireLink.
		for _, q := range l.queue {
			ctx.Send(l.router, q.d)
		}
		handed = len(l.queue)
		l.queue = nil
	}
	l.log.Info("handler "+m.why+": finishing its messages, then stopping", "in_flight", len(l.pending),
		"queued", len(l.queue), "handed_to_successor", handed, "within", l.handler.Timeout.String())
}

// checkRetired stops a retiring link once it holds no message, or once
// its time is up, failing what it still holds with handler_unavailable.
func (l *handlerLink) checkRetired(ctx actor.Context) {
	r := l.retiring
	if r == nil || l.state == stateStopping {
		return
	}
	if l.holds() && time.Now().Before(r.until) {
		return
	}
	if l.holds() {
		l.log.Warn("handler "+r.why+": messages still unanswered; failing them", "in_flight", len(l.pending),
			"queued", len(l.queue), "sendServers", len(l.fanouts))
	}
	l.halt(ctx, wire.Errorf(wire.CodeHandlerUnavailable, "handler %q %s", l.handler.Name, r.why))
}

// holds tells whether a message waits on the link: queued, in flight or
// passed on to peers.
func (l *handlerLink) holds() bool {
	return len(l.pending) > 0 || len(l.queue) > 0 || len(l.fanouts) > 0
}
