package actors

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/cluster"
)

// memberBook is the member links that handler links may send batches
// to, by member id, with the member list they follow. It is never changed
// once made: a change of the member list makes a new book and swaps it in
// with one atomic pointer (copy on write, like peerBook).
type memberBook struct {
	// members is the member list as last seen, this member included.
	members []cluster.MemberInfo
	byID    map[string]*actor.PID
}

// memberLinks keeps the member book in step with the member list: a link
// for each other member, spawned when it joins and told memberGone when
// it leaves.
type memberLinks struct {
	self string
	// list is the member list now, this member included.
	list     func() []cluster.MemberInfo
	book     atomic.Pointer[memberBook]
	root     *actor.RootContext
	props    func(cluster.MemberInfo) *actor.Props
	log      hclog.Logger
	mu       sync.Mutex // serialises changes of the book
	stopping bool       // set by stop: no more links are spawned
}

// follow applies the member list as it is now: it reads it under the
// lock rather than taking the one an event carried, so that an older
// list can never replace a newer one. The member list's events come on
// protoactor's event stream goroutine: this only spawns and sends.
func (ml *memberLinks) follow() {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	if ml.stopping {
		return
	}
	members := ml.list()
	old := ml.book.Load()
	next := &memberBook{members: members, byID: make(map[string]*actor.PID, len(members))}
	for _, m := range members {
		if m.ID == ml.self {
			continue
		}
		if pid, ok := old.byID[m.ID]; ok {
			next.byID[m.ID] = pid
			continue
		}
		next.byID[m.ID] = ml.root.Spawn(ml.props(m))
		ml.log.Info("cluster member joined", "member", m.ID, "address", m.Address)
	}
	for id, pid := range old.byID {
		if _, ok := next.byID[id]; !ok {
			ml.root.Send(pid, &memberGone{})
			ml.log.Warn("cluster member left", "member", id)
		}
	}
	ml.book.Store(next)
}

// stop ends following the member list and returns the links of the last
// book, which the caller stops.
func (ml *memberLinks) stop() map[string]*actor.PID {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	ml.stopping = true
	return ml.book.Load().byID
}
