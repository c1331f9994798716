package actors

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
)

// fanout is one sendServers under way: the message went to several peers
// at once, and the sender's report waits for all of their results. A
// sendClients that went to other members of a cluster is one too, its
// "peers" being those members (members is set then).
type fanout struct {
	d       *dispatch
	kind    string              // "peer", or "member" for a cluster delivery
	peers   []string            // as named, without repeats
	left    map[string]struct{} // peers whose result is still to come
	errs    map[string]*wire.Error
	until   time.Time     // the backstop: see peerBook.fanoutTimeout
	timeout time.Duration // the backstop's length, for the report
	// slotFreed says the sender's in-flight slot was given back when the
	// message left (see freeSlot).
	slotFreed bool
	// members is the cluster delivery's state; nil for a sendServers.
	members *memberFanout
}

// sendServers carries out a handler's sendServers (protocol §5, §6): the
// handler's data goes to every named peer in parallel, as a server-scope
// message of this handler's type. The sender's report is good when every
// peer reported the message good; otherwise it carries the first failed
// peer's code (in the order named) and lists the failed peers.
func (l *handlerLink) sendServers(ctx actor.Context, d *dispatch, target, data wire.RawValue) {
	var names wire.Names
	if err := l.handler.Codec.Unmarshal(target, &names); err != nil {
		l.fail(ctx, d, wire.Errorf(wire.CodeHandlerError, "sendServers needs a list of peer names: %v", err))
		return
	}
	if d.hops+1 > maxHops {
		l.fail(ctx, d, wire.Errorf(wire.CodeLoop, "message passed between handlers and servers more than %d times", maxHops))
		return
	}
	token := l.nextToken
	l.nextToken++
	book := l.peers.Load()
	f := &fanout{d: d, kind: "peer", errs: make(map[string]*wire.Error), left: make(map[string]struct{}),
		until: time.Now().Add(book.fanoutTimeout), timeout: book.fanoutTimeout}
	unnamed := false
	for _, name := range names {
		if slices.Contains(f.peers, name) {
			continue
		}
		f.peers = append(f.peers, name)
		if pid, ok := book.byName[name]; ok {
			ctx.Send(pid, &peerSend{token: token, replyTo: l.self, origin: d.origin, typ: l.handler.Name,
				data: data, codec: l.handler.Codec, hops: d.hops + 1})
			f.left[name] = struct{}{}
			continue
		}
		if !isHostPort(name) {
			f.errs[name] = wire.Errorf(wire.CodePeerUnavailable, "no peer named %q", name)
			continue
		}
		if !book.allowUnnamed {
			f.errs[name] = wire.Errorf(wire.CodePeerUnavailable,
				"peer %s is not configured, and this server does not send to unnamed peers (allow_unnamed_peers)", name)
			continue
		}
		converted, err := wire.ConvertWithin(data, l.handler.Codec, unnamedPeerCodec, l.maxFrame)
		if err != nil {
			f.errs[name] = wire.Errorf(wire.CodeBadMessage, "data cannot be sent to peer %s (%s): %v", name, unnamedPeerCodec, err)
			continue
		}
		msg := &wire.ServerMessage{
			Header:  wire.ServerHeader{Scope: wire.ScopeServer, Origin: d.origin, Hops: d.hops + 1},
			Payload: wire.Payload{Type: l.handler.Name, ID: strconv.FormatUint(token, 10), Data: converted},
		}
		f.left[name] = struct{}{}
		unnamed = true
		self, root, pctx, maxFrame := l.self, l.root, l.peerCtx, l.maxFrame
		go func() {
			err := legacyExchange(pctx, name, msg, config.DefaultPeerTimeout, maxFrame)
			root.Send(self, &peerResult{token: token, peer: name, err: err})
		}()
	}
	if len(f.left) == 0 {
		l.finishFanout(ctx, f)
		return
	}
	l.fanouts[token] = f
	if d.from.Scope == wire.FromServer && !unnamed {
		l.freeSlot(ctx, f)
	}
}

// freeSlot gives the in-flight slot of a message from a peer server back
// to that peer's connection while the message waits for the next servers:
// a peer connection must never hold its slots while its messages wait on
// the link back to the same peer (see leftServer). What such a message
// holds from now on is bounded by the peer links' max_in_flight. Messages
// also sent to unnamed peers keep their slot: nothing else bounds those
// exchanges.
func (l *handlerLink) freeSlot(ctx actor.Context, f *fanout) {
	f.slotFreed = true
	ctx.Send(f.d.replyTo, &leftServer{})
}

// peerAnswered records one peer's result.
func (l *handlerLink) peerAnswered(ctx actor.Context, m *peerResult) {
	l.settle(ctx, m.token, m.peer, m.err, nil)
}

// memberAnswered records one member's result of a cluster delivery.
func (l *handlerLink) memberAnswered(ctx actor.Context, m *memberResult) {
	l.settle(ctx, m.token, m.member, m.err, m.undelivered)
}

// settle records the result of one peer or member of a fanout (err, or
// for a member the users it did not hold) and reports to the sender once
// every one has answered.
func (l *handlerLink) settle(ctx actor.Context, token uint64, name string, err *wire.Error, undelivered []string) {
	f, ok := l.fanouts[token]
	if !ok {
		return // failed already, at stop
	}
	if _, ok := f.left[name]; !ok {
		return
	}
	delete(f.left, name)
	switch {
	case err != nil:
		f.errs[name] = err
	case f.members != nil:
		f.members.confirm(name, undelivered)
	}
	if len(f.left) == 0 {
		delete(l.fanouts, token)
		l.finishFanout(ctx, f)
	}
}

// expireFanouts fails the peers of every sendServers past its backstop that
// have still not answered, so that no sender waits forever.
func (l *handlerLink) expireFanouts(ctx actor.Context, now time.Time) {
	for token, f := range l.fanouts {
		if now.Before(f.until) {
			continue
		}
		for name := range f.left {
			f.errs[name] = wire.Errorf(wire.CodePeerUnavailable, "no result from the link to %s %s within %s", f.kind, name, f.timeout)
		}
		delete(l.fanouts, token)
		l.finishFanout(ctx, f)
	}
}

func (l *handlerLink) finishFanout(ctx actor.Context, f *fanout) {
	if f.members != nil {
		l.finishDelivery(ctx, f)
		return
	}
	var failed, details []string
	var first *wire.Error
	for _, name := range f.peers {
		if e := f.errs[name]; e != nil {
			if first == nil {
				first = e
			}
			failed = append(failed, name)
			details = append(details, e.Detail)
		}
	}
	if first == nil {
		l.reportFanout(ctx, f, goodReport(f.d.id))
		return
	}
	l.reportFanout(ctx, f, badReport(f.d.id, &wire.Error{Code: first.Code, Detail: strings.Join(details, "; ")}, failed))
}

// reportFanout sends the sender the report of a sendServers, marked when
// its slot was given back already so that it is not given back twice.
func (l *handlerLink) reportFanout(ctx actor.Context, f *fanout, r *report) {
	r.slotFreed = f.slotFreed
	f.d.reply(ctx, r)
}

// failFanouts reports every sendServers still waiting as failed with err.
func (l *handlerLink) failFanouts(ctx actor.Context, err *wire.Error) {
	for token, f := range l.fanouts {
		delete(l.fanouts, token)
		if f.members != nil { // its report lists the users not confirmed
			for name := range f.left {
				f.errs[name] = err
			}
			l.finishDelivery(ctx, f)
			continue
		}
		l.reportFanout(ctx, f, badReport(f.d.id, err, nil))
	}
}

// isHostPort tells whether a sendServers target is an address (host:port
// with a port from 1 to 65535) rather than a peer name.
func isHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}
