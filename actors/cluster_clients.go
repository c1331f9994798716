package actors

import (
	"slices"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/cluster/pb"
)

// clientList answers the informer's listClients and isClient: for this
// server alone (the registry) or for the whole cluster (clusterClients).
type clientList interface {
	names() []string
	has(user string) bool
}

// clusterClients lists the users of every member: from the directory
// when it knows them, or else by asking every other member's inbox with
// ListUsers, all at once and bounded by request_timeout. It waits on
// futures, so it runs only on the informer's goroutines, never in an
// actor. A member that does not answer in time is left out, and the log
// says so.
type clusterClients struct {
	node     *clusterNode
	registry *registry
	root     *actor.RootContext
	log      hclog.Logger
	// dirKnows says the directory knows every user, and Locate finds
	// only the members that hold one.
	dirKnows bool
}

func (c *clusterClients) names() []string {
	if users, known := c.node.dir.Users(); known {
		return slices.Sorted(slices.Values(users)) // a copy: the directory's may be its own
	}
	users := c.registry.names()
	book := c.node.links.book.Load()
	self := c.node.member.ID()
	type asked struct {
		member string
		future *actor.Future
	}
	var futures []asked
	for _, m := range book.members {
		if m.ID != self {
			// Built here, in this server's actor system: see memberLink.inbox.
			inbox := actor.NewPID(m.Address, inboxName)
			futures = append(futures, asked{m.ID, c.root.RequestFuture(inbox, &pb.ListUsers{}, c.node.requestTimeout)})
		}
	}
	for _, a := range futures {
		res, err := a.future.Result()
		list, ok := res.(*pb.UserList)
		if err != nil || !ok {
			c.log.Warn("a member did not list its users in time; listClients leaves them out",
				"member", a.member, "request_timeout", c.node.requestTimeout.String(), "error", err)
			continue
		}
		users = append(users, list.Users...)
	}
	slices.Sort(users)
	return slices.Compact(users)
}

// has answers from the directory when it knows every user, without
// listing them all; otherwise by asking the members.
func (c *clusterClients) has(user string) bool {
	if c.registry.has(user) {
		return true
	}
	if c.dirKnows {
		var buf [8]string
		return len(c.node.dir.Locate(user, buf[:0])) > 0
	}
	_, found := slices.BinarySearch(c.names(), user)
	return found
}

// clientList is what the informer answers listClients and isClient from.
func (s *Server) clientList() clientList {
	if s.cluster == nil {
		return s.registry
	}
	_, known := s.cluster.dir.Users()
	return &clusterClients{node: s.cluster, registry: s.registry, root: s.sys.Root, log: s.log.Named("informer"), dirKnows: known}
}
