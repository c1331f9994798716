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
	byID    map[string]*memberEntry
}

// memberEntry is the link to one other member, and what it publishes.
type memberEntry struct {
	pid     *actor.PID
	address string // where the member's actors are, for the log
	stats   *memberStats
}

// memberLinks keeps the member book in step with the member list: a link
// for each other member, spawned when it joins and told memberGone when
// it leaves.
type memberLinks struct {
	self string
	// list is the member list now, this member included.
	list func() []cluster.MemberInfo
	book atomic.Pointer[memberBook]
	root *actor.RootContext
	// props are a new link's, for the member and the stats it publishes.
	props    func(cluster.MemberInfo, *memberStats) *actor.Props
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
	next := &memberBook{members: members, byID: make(map[string]*memberEntry, len(members))}
	for _, m := range members {
		if m.ID == ml.self {
			continue
		}
		if e, ok := old.byID[m.ID]; ok {
			next.byID[m.ID] = e
			continue
		}
		stats := newMemberStats(m.ID)
		next.byID[m.ID] = &memberEntry{pid: ml.root.Spawn(ml.props(m, stats)), address: m.Address, stats: stats}
		ml.log.Info("cluster member joined", "member", m.ID, "address", m.Address)
	}
	for id, e := range old.byID {
		if _, ok := next.byID[id]; !ok {
			ml.root.Send(e.pid, &memberGone{})
			ml.log.Warn("cluster member left", "member", id, "address", e.address)
		}
	}
	ml.book.Store(next)
}

// stop ends following the member list and returns the links of the last
// book, by member id, which the caller stops.
func (ml *memberLinks) stop() map[string]*actor.PID {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	ml.stopping = true
	pids := make(map[string]*actor.PID)
	for id, e := range ml.book.Load().byID {
		pids[id] = e.pid
	}
	return pids
}
