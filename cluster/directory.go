package cluster

import (
	"slices"
	"sync/atomic"
)

// Directory says which members hold a user's connections. Each member is
// the authority on its own connections; a directory is soft state built
// from what the members register, and a delivery's acknowledgement
// corrects what it got wrong: a member that no longer holds a user says
// so, and the user is reported undelivered.
//
// Every method may be called from any goroutine. Register and Unregister
// never wait on the network; Locate and Users read memory only.
type Directory interface {
	// Register records that this member holds a connection of user: the
	// server calls it when the user's first connection here logs in.
	Register(user string)
	// Unregister records that this member holds no connection of user
	// any more: the server calls it when the last one closes.
	Unregister(user string)
	// Locate appends to buf the ids of the other members that may hold
	// user, never this member's own, and returns the extended slice.
	Locate(user string, buf []string) []string
	// Users lists every user connected anywhere in the cluster, this
	// member's included. known is false when the directory does not know
	// them (it locates users by asking every member); the caller must
	// then ask the members.
	Users() (users []string, known bool)
	// Close stops the directory's work; later registrations are ignored.
	Close()
}

// everyMember is the directory of a cluster without etcd: it locates every
// user at every other member, and the members' acknowledgements say who
// actually got a delivery. It is exact and needs no state, at the cost of
// one delivery per member for each message to a user not held locally:
// made for the small fixed clusters static membership is for.
type everyMember struct {
	self   string
	others atomic.Pointer[[]string]
	cancel func()
}

// newEveryMember follows m's member list.
func newEveryMember(m *Member) *everyMember {
	d := &everyMember{self: m.ID()}
	d.update(m.Members())
	d.cancel = m.OnChange(d.update)
	return d
}

func (d *everyMember) update(members []MemberInfo) {
	others := make([]string, 0, len(members))
	for _, member := range members {
		if member.ID != d.self {
			others = append(others, member.ID)
		}
	}
	slices.Sort(others)
	d.others.Store(&others)
}

func (d *everyMember) Register(string)   {}
func (d *everyMember) Unregister(string) {}

func (d *everyMember) Locate(_ string, buf []string) []string {
	return append(buf, *d.others.Load()...)
}

func (d *everyMember) Users() ([]string, bool) { return nil, false }

func (d *everyMember) Close() { d.cancel() }
