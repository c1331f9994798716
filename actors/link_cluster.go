package actors

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/cluster/pb"
	"github.com/bester-project/bester/wire"
)

// memberFanout is the cluster part of a fanout: a sendClients some of
// whose users this member does not hold, sent on to the members that may,
// one DeliverBatch per member.
type memberFanout struct {
	users []string        // every user named, without repeats, in order
	got   map[string]bool // users delivered here or confirmed by a member's ack
	parts []memberPart    // by member, in the order first located
	// detail says why a connection here could not be sent to; empty
	// when none failed.
	detail string
}

// memberPart is the users of a cluster delivery sent to one member. A
// slice searched by member id rather than a map: a message goes to few
// members, most often one, and this runs for every message.
type memberPart struct {
	member string
	users  []string
}

// sentTo returns the users sent to member.
func (mf *memberFanout) sentTo(member string) []string {
	for _, p := range mf.parts {
		if p.member == member {
			return p.users
		}
	}
	return nil
}

// deliverAcross sends the users of a sendClients to the other members the
// directory locates them at, one DeliverBatch per member, and reports once
// every member has answered. undelivered are the users this member holds
// no connection of. The report is good when every user was delivered here
// or confirmed by a member and no member a user was sent to failed;
// otherwise it lists the other users, with the first failed member's code
// (overloaded, peer_unavailable...), or undelivered when they are simply
// connected nowhere. It returns false, having done nothing, when the
// directory places none of the users at another member.
func (l *handlerLink) deliverAcross(ctx actor.Context, d *dispatch, users, undelivered []string, ld *localDelivery) bool {
	n := l.cluster
	var (
		parts []memberPart
		buf   [8]string
	)
	for _, u := range users {
		for _, id := range n.dir.Locate(u, buf[:0]) {
			i := slices.IndexFunc(parts, func(p memberPart) bool { return p.member == id })
			if i < 0 {
				i = len(parts)
				parts = append(parts, memberPart{member: id})
			}
			parts[i].users = append(parts[i].users, u)
		}
	}
	if parts == nil {
		return false
	}
	mf := &memberFanout{users: users, got: make(map[string]bool, len(users)), parts: parts, detail: ld.detail}
	for _, u := range users {
		mf.got[u] = true
	}
	for _, u := range undelivered {
		delete(mf.got, u)
	}
	f := &fanout{d: d, kind: "member", members: mf, peers: make([]string, len(parts)), errs: make(map[string]*wire.Error),
		left: make(map[string]struct{}, len(parts)), until: time.Now().Add(n.deliveryTimeout + fanoutGrace), timeout: n.deliveryTimeout}
	token := l.nextToken
	l.nextToken++
	book := n.links.book.Load()
	from := &pb.Origin{Server: d.origin.Server, User: d.origin.User}
	// A batch is the last step of the message: the inbox delivers it and
	// passes nothing on, so it carries the message's hops unchanged, and
	// a message at its last hop reaches every member as it does this one.
	for i, p := range parts {
		f.peers[i] = p.member
		e, ok := book.byID[p.member]
		if !ok {
			f.errs[p.member] = wire.Errorf(wire.CodePeerUnavailable, "member %s is not in the member list", p.member)
			continue
		}
		f.left[p.member] = struct{}{}
		ctx.Send(e.pid, &memberSend{token: token, replyTo: l.self, batch: &pb.DeliverBatch{Type: d.typ, From: from,
			Users: p.users, Data: ld.data, Codec: ld.codec.String(), Hops: uint32(d.hops)}})
	}
	if len(f.left) == 0 {
		l.finishFanout(ctx, f)
		return true
	}
	l.fanouts[token] = f
	return true
}

// notConnected is the detail of a report whose users are connected nowhere.
func (l *handlerLink) notConnected() string {
	if l.cluster == nil {
		return "not connected to this server"
	}
	return fmt.Sprintf("not connected to any of the %d members of the cluster", len(l.cluster.links.book.Load().members))
}

// confirm records a member's ack: the users sent to it that it did not
// list as undelivered got the message.
func (mf *memberFanout) confirm(member string, undelivered []string) {
	var notThere map[string]bool
	if len(undelivered) > 0 {
		notThere = make(map[string]bool, len(undelivered))
		for _, u := range undelivered {
			notThere[u] = true
		}
	}
	for _, u := range mf.sentTo(member) {
		if !notThere[u] {
			mf.got[u] = true
		}
	}
}

// finishDelivery reports a sendClients that went to other members.
func (l *handlerLink) finishDelivery(ctx actor.Context, f *fanout) {
	mf := f.members
	var first *wire.Error
	var details []string
	for _, id := range f.peers {
		if e := f.errs[id]; e != nil {
			if first == nil {
				first = e
			}
			details = append(details, e.Detail)
			for _, u := range mf.sentTo(id) { // may have connections there that it did not reach
				delete(mf.got, u)
			}
		}
	}
	var undelivered []string
	for _, u := range mf.users {
		if !mf.got[u] {
			undelivered = append(undelivered, u)
		}
	}
	if len(undelivered) == 0 {
		l.reportFanout(ctx, f, goodReport(f.d.id))
		return
	}
	code, detail := wire.CodeUndelivered, mf.detail
	switch {
	case first != nil:
		code, detail = first.Code, strings.Join(details, "; ")
	case detail == "":
		detail = l.notConnected()
	}
	l.reportFanout(ctx, f, undeliveredReport(f.d.id, code, detail, undelivered))
}
