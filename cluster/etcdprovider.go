package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// EtcdMembership keeps the member list in etcd: each member puts one key
// under a lease of its own and watches the others'. A member that dies
// leaves the list when its lease expires.
type EtcdMembership struct {
	// Endpoints are etcd's client addresses, host:port.
	Endpoints []string
	// Prefix is the key prefix the cluster's keys live under; each
	// cluster name gets its own folder below it.
	Prefix string
	// LeaseTTL is how long a dead member stays in the list at most.
	// etcd raises anything under 2 s to 2 s.
	LeaseTTL time.Duration
	// DialTimeout bounds the connection to etcd and every step of joining:
	// with etcd unreachable, Start fails after about this long.
	DialTimeout time.Duration
	// TLS, when set, is used for the connection to etcd.
	TLS *tls.Config
}

// check refuses values etcd or the provider cannot work with.
func (m EtcdMembership) check() error {
	switch {
	case len(m.Endpoints) == 0:
		return errors.New("etcd membership: no endpoints")
	case m.LeaseTTL < 2*time.Second:
		return fmt.Errorf("etcd membership: lease TTL %v is under etcd's minimum of 2s", m.LeaseTTL)
	case m.DialTimeout <= 0:
		return fmt.Errorf("etcd membership: dial timeout %v must be positive", m.DialTimeout)
	}
	return nil
}

// leaseSeconds is LeaseTTL in etcd's unit, rounded up.
func (m EtcdMembership) leaseSeconds() int64 {
	return int64((m.LeaseTTL + time.Second - 1) / time.Second)
}

// relistEvery is how often a member reads the whole member list again even
// when its watch reported nothing, so that a lost watch event cannot leave
// its view wrong for long.
const relistEvery = 5 * time.Second

// etcdProvider is a cluster.ClusterProvider on etcd. It replaces
// protoactor's own, which lists the members and then watches without a
// start revision, so that a member joining in between is never seen; which
// blocks forever on an unreachable etcd; and which names members
// "<cluster>@<id>" where everything else uses the bare actor system id.
//
// Here a member registers first, then lists, then watches from the list's
// revision onwards, and lists again on every change, on every watch error
// and every relistEvery. Every etcd call has a deadline.
type etcdProvider struct {
	cfg    EtcdMembership
	client *clientv3.Client
	lease  clientv3.LeaseID
	log    *slog.Logger

	dir   string // the cluster's folder: Prefix/<cluster name>/
	key   string // this member's key in dir
	value string // this member's entry, an encoded cluster.Member

	stop    context.CancelFunc
	stopped sync.WaitGroup
}

// newEtcdProvider connects to etcd and grants the member's lease, so that
// an unreachable etcd is an error here, before the cluster starts.
func newEtcdProvider(cfg EtcdMembership, clusterName string, log *slog.Logger) (*etcdProvider, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		TLS:         cfg.TLS,
		// The client's own zap logging would bypass the server's log;
		// failures reach it as errors instead.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", cfg.Endpoints, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout)
	defer cancel()
	grant, err := client.Grant(ctx, cfg.leaseSeconds())
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("etcd at %v unreachable (no lease within %v): %w", cfg.Endpoints, cfg.DialTimeout, err)
	}
	return &etcdProvider{
		cfg:    cfg,
		client: client,
		lease:  grant.ID,
		log:    log,
		dir:    cfg.Prefix + "/" + clusterName + "/",
	}, nil
}

// StartMember registers this member under its lease, publishes the member
// list, and follows it from then on.
func (p *etcdProvider) StartMember(c *pcluster.Cluster) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("member address: %w", err)
	}
	self := &pcluster.Member{Id: c.ActorSystem.ID, Host: host, Port: int32(port), Kinds: c.GetClusterKinds()}
	value, err := proto.Marshal(self)
	if err != nil {
		return fmt.Errorf("encoding member %s: %w", self.Id, err)
	}
	p.key, p.value = p.dir+self.Id, string(value)
	follow, stop := context.WithCancel(context.Background())
	keepAlive, err := p.register(follow, p.lease)
	if err != nil {
		stop()
		return fmt.Errorf("registering member %s in etcd: %w", self.Id, err)
	}
	ctx, cancel := context.WithTimeout(follow, p.cfg.DialTimeout)
	defer cancel()
	rev, err := p.publish(ctx, c)
	if err != nil {
		stop()
		return err
	}
	p.stop = stop
	p.stopped.Add(2)
	go p.keepRegistered(follow, keepAlive)
	go p.follow(follow, c, rev)
	return nil
}

// StartClient is not supported: every process of a Bester cluster is a
// member.
func (p *etcdProvider) StartClient(*pcluster.Cluster) error {
	return errors.New("etcd membership: cluster clients are not supported")
}

// Shutdown stops following the list and revokes the lease, which removes
// this member from every other member's list at once.
func (p *etcdProvider) Shutdown(bool) error {
	if p.stop != nil {
		p.stop()
		p.stopped.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DialTimeout)
	defer cancel()
	_, err := p.client.Revoke(ctx, p.lease)
	if cerr := p.client.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("leaving etcd membership: %w", err)
	}
	return nil
}

// publish reads the member list and hands it to protoactor's member list.
// It returns the revision the list was read at.
func (p *etcdProvider) publish(ctx context.Context, c *pcluster.Cluster) (int64, error) {
	resp, err := p.client.Get(ctx, p.dir, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("reading the member list from etcd: %w", err)
	}
	members := make(pcluster.Members, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		m := &pcluster.Member{}
		if err := proto.Unmarshal(kv.Value, m); err != nil {
			p.log.Warn("ignoring an unreadable member entry", "key", string(kv.Key), "error", err)
			continue
		}
		members = append(members, m)
	}
	c.MemberList.UpdateClusterTopology(members)
	return resp.Header.Revision, nil
}

// follow watches the cluster's folder from the revision after rev and
// publishes the list again on every change, every watch error and every
// relistEvery, until ctx ends.
func (p *etcdProvider) follow(ctx context.Context, c *pcluster.Cluster, rev int64) {
	defer p.stopped.Done()
	relist := time.NewTicker(relistEvery)
	defer relist.Stop()
	for ctx.Err() == nil {
		watchCtx, cancelWatch := context.WithCancel(clientv3.WithRequireLeader(ctx))
		changes := p.client.Watch(watchCtx, p.dir, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		rev = p.watch(ctx, c, changes, relist.C, rev)
		cancelWatch()
	}
}

// watch publishes the list on each event of changes and each tick, and
// returns the newest revision published when the watch fails or ctx ends.
func (p *etcdProvider) watch(ctx context.Context, c *pcluster.Cluster, changes clientv3.WatchChan, tick <-chan time.Time, rev int64) int64 {
	for {
		select {
		case <-ctx.Done():
			return rev
		case resp, ok := <-changes:
			if !ok || resp.Err() != nil {
				if ctx.Err() == nil {
					p.log.Warn("etcd watch of the member list ended; reading it again", "error", resp.Err())
				}
				return p.republish(ctx, c, rev)
			}
			rev = p.republish(ctx, c, rev)
		case <-tick:
			rev = p.republish(ctx, c, rev)
		}
	}
}

// republish is publish with a deadline: a failure is logged (unless ctx
// ended) and keeps the last good revision.
func (p *etcdProvider) republish(ctx context.Context, c *pcluster.Cluster, rev int64) int64 {
	stepCtx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	newRev, err := p.publish(stepCtx, c)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("member list not refreshed", "error", err)
		}
		return rev
	}
	return newRev
}

// reregisterEvery is the pause between attempts to register again after
// the lease was lost.
const reregisterEvery = time.Second

// keepRegistered consumes the lease's keep-alive answers (the client warns
// when nobody does). When the lease is lost, because etcd was out of reach
// for longer than its TTL, the others drop this member; it then registers
// again under a new lease as soon as etcd answers, and they see it again.
func (p *etcdProvider) keepRegistered(ctx context.Context, answers <-chan *clientv3.LeaseKeepAliveResponse) {
	defer p.stopped.Done()
	for {
		if !drain(ctx, answers) {
			return
		}
		p.log.Error("etcd lease lost: the other members drop this one until it registers again", "lease", fmt.Sprintf("%x", p.lease))
		if answers = p.reregister(ctx); answers == nil {
			return
		}
		p.log.Info("registered in etcd again", "lease", fmt.Sprintf("%x", p.lease))
	}
}

// drain reads answers until the channel closes (true) or ctx ends (false).
func drain(ctx context.Context, answers <-chan *clientv3.LeaseKeepAliveResponse) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case _, ok := <-answers:
			if !ok {
				return ctx.Err() == nil
			}
		}
	}
}

// reregister grants a new lease and registers under it, retrying until it
// succeeds or ctx ends (nil).
func (p *etcdProvider) reregister(ctx context.Context) <-chan *clientv3.LeaseKeepAliveResponse {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(reregisterEvery):
		}
		grantCtx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
		grant, err := p.client.Grant(grantCtx, p.cfg.leaseSeconds())
		cancel()
		if err != nil {
			p.log.Warn("no new etcd lease yet; retrying", "error", err)
			continue
		}
		answers, err := p.register(ctx, grant.ID)
		if err != nil {
			p.log.Warn("registering in etcd again failed; retrying", "error", err)
			continue
		}
		return answers
	}
}

// register puts this member's key under lease and keeps the lease alive
// until ctx ends.
func (p *etcdProvider) register(ctx context.Context, lease clientv3.LeaseID) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	putCtx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	if _, err := p.client.Put(putCtx, p.key, p.value, clientv3.WithLease(lease)); err != nil {
		return nil, fmt.Errorf("putting %s: %w", p.key, err)
	}
	answers, err := p.client.KeepAlive(ctx, lease)
	if err != nil {
		return nil, fmt.Errorf("keeping lease %x alive: %w", lease, err)
	}
	p.lease = lease
	return answers, nil
}
