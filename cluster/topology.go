package cluster

import (
	"log/slog"
	"sync"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
)

// topology hands a provider's member list to protoactor's, holding each
// departure back for a grace period. protoactor blocks for good every
// member id that leaves its list (and gossips the block to the others),
// so a member that vanished from etcd or missed a poll only for a moment
// (its lease ran out just before it registered again after an etcd
// outage; one poll timed out on a busy machine) would otherwise stay
// outside the cluster until its process restarts. A member absent for the
// whole grace period leaves. The member itself is always in its own list.
type topology struct {
	cluster *pcluster.Cluster
	self    *pcluster.Member
	grace   time.Duration
	log     *slog.Logger

	mu        sync.Mutex
	published map[string]*pcluster.Member // by id, as last handed over
	missing   map[string]time.Time        // published members absent since
	latest    []*pcluster.Member          // the provider's last list
	recheck   *time.Timer
	stopped   bool
}

func newTopology(c *pcluster.Cluster, self *pcluster.Member, grace time.Duration, log *slog.Logger) *topology {
	return &topology{cluster: c, self: self, grace: grace, log: log,
		published: make(map[string]*pcluster.Member), missing: make(map[string]time.Time)}
}

// update takes the provider's current member list.
func (t *topology) update(members []*pcluster.Member) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latest = members
	t.publishLocked()
}

// stop ends the rechecks; later updates are ignored.
func (t *topology) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.recheck != nil {
		t.recheck.Stop()
	}
}

func (t *topology) publishLocked() {
	if t.stopped {
		return
	}
	now := time.Now()
	next := map[string]*pcluster.Member{t.self.Id: t.self}
	for _, m := range t.latest {
		next[m.Id] = m
		delete(t.missing, m.Id)
	}
	var soonest time.Duration
	for id, m := range t.published {
		if _, ok := next[id]; ok {
			continue
		}
		since, ok := t.missing[id]
		if !ok {
			since = now
			t.missing[id] = now
			t.log.Warn("cluster member missing from the membership; it leaves unless it is back within the grace period",
				"member", id, "grace", t.grace)
		}
		left := t.grace - now.Sub(since)
		if left <= 0 {
			delete(t.missing, id)
			continue
		}
		next[id] = m
		if soonest == 0 || left < soonest {
			soonest = left
		}
	}
	t.published = next
	members := make([]*pcluster.Member, 0, len(next))
	for _, m := range next {
		members = append(members, m)
	}
	t.cluster.MemberList.UpdateClusterTopology(members)
	if soonest > 0 {
		if t.recheck != nil {
			t.recheck.Stop()
		}
		t.recheck = time.AfterFunc(soonest, func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.publishLocked()
		})
	}
}
