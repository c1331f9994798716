package actors

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/cluster"
	"github.com/bester-project/bester/wire"
)

// memberStopLimit bounds how long leaving the cluster may take at stop.
const memberStopLimit = 5 * time.Second

// clusterNode is this server's part in a cluster: its membership, its
// inbox and its links to the other members. A server without a cluster
// block has none, and its handler links and registry skip every cluster
// step on a nil check.
type clusterNode struct {
	member *cluster.Member
	dir    cluster.Directory
	inbox  *actor.PID
	links  *memberLinks
	// cancelFollow stops following the member list.
	cancelFollow    func()
	requestTimeout  time.Duration
	deliveryTimeout time.Duration
	counts          *clusterCounts
}

// joinCluster makes this server's actor system a member of the cluster of
// block c: it spawns the inbox, joins, and follows the member list with a
// link per other member. It runs before any listener serves.
func (s *Server) joinCluster(c *config.Cluster) (*clusterNode, error) {
	log := s.log.Named("cluster")
	mc, err := memberConfig(c, log)
	if err != nil {
		return nil, err
	}
	n := &clusterNode{requestTimeout: mc.RequestTimeout, counts: &clusterCounts{}}
	in := &inbox{registry: s.registry, maxFrame: s.cfg().Server.MaxFrame, log: log}
	n.inbox, err = s.sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return in }, onPool(s.pool)), inboxName)
	if err != nil {
		return nil, fmt.Errorf("cluster inbox: %w", err)
	}
	if n.member, err = cluster.Start(s.sys, mc); err != nil {
		s.sys.Root.PoisonFuture(n.inbox).Wait()
		return nil, fmt.Errorf("joining cluster %q as %s: %w", c.Name, c.Bind, err)
	}
	n.dir = n.member.Directory()
	timeout, window := deliveryTimeout(c), deliveryWindow(c)
	n.deliveryTimeout = timeout
	n.links = &memberLinks{self: n.member.ID(), list: n.member.Members, root: s.sys.Root, log: log,
		props: func(m cluster.MemberInfo, stats *memberStats) *actor.Props {
			ms := &memberSettings{id: m.ID, address: m.Address, timeout: timeout, window: window,
				counts: n.counts, stats: stats}
			return actor.PropsFromProducer(func() actor.Actor { return newMemberLink(ms) }, onPool(s.pool))
		}}
	n.links.book.Store(&memberBook{})
	n.cancelFollow = n.member.OnChange(func([]cluster.MemberInfo) { n.links.follow() })
	n.links.follow()
	n.counts.book = &n.links.book
	s.metrics.setCluster(n.counts)
	log.Info("joined the cluster", "cluster", c.Name, "member", n.member.ID(), "address", n.member.Address())
	return n, nil
}

// stopMemberLinks stops following the member list and fails what the
// member links still hold with shutting_down; it returns them.
func (s *Server) stopMemberLinks() map[string]*actor.PID {
	n := s.cluster
	n.cancelFollow()
	links := n.links.stop()
	s.stopAll("member", links, &stopMember{}, peerStopTimeout)
	return links
}

// info is the cluster part of serverInfo: this member's id and every
// member the list holds, with its state.
func (n *clusterNode) info() map[string]any {
	book := n.links.book.Load()
	self := n.member.ID()
	members := make([]map[string]any, 0, len(book.members))
	for _, m := range book.members {
		member := map[string]any{"id": m.ID, "address": m.Address, "state": "up"}
		if e, ok := book.byID[m.ID]; ok {
			member["unacked"] = e.stats.unacked.Load()
		} else if m.ID == self {
			member["state"] = "self"
		}
		members = append(members, member)
	}
	slices.SortFunc(members, func(a, b map[string]any) int {
		return strings.Compare(a["id"].(string), b["id"].(string))
	})
	return map[string]any{"member": self, "address": n.member.Address(), "members": members}
}

// clusterCounts count the batches this member's links sent to other
// members and those that failed, by code, for /metrics, which also shows
// each member link's stats from book.
type clusterCounts struct {
	sent atomic.Uint64
	// messages are the DeliverBatches that carried them.
	messages atomic.Uint64
	failed   [len(batchFailures)]atomic.Uint64
	book     *atomic.Pointer[memberBook]
}

// memberStats are what one member link publishes: its batches waiting
// for their acknowledgement, and their round trips.
type memberStats struct {
	unacked atomic.Int64
	rtt     prometheus.Histogram
}

func newMemberStats(member string) *memberStats {
	return &memberStats{rtt: latencyHistogram("bester_cluster_member_round_trip_seconds", helpMemberRoundTrip, "member", member)}
}

// batchFailures are the codes a batch can fail with.
var batchFailures = [...]wire.ErrorCode{wire.CodeOverloaded, wire.CodePeerUnavailable, wire.CodeShuttingDown}

func (c *clusterCounts) fail(code wire.ErrorCode) {
	if i := slices.Index(batchFailures[:], code); i >= 0 {
		c.failed[i].Add(1)
	}
}
