package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// cluster name gets its own folder below it, with the member list in
	// <Prefix>/<name>/members/ and the user directory in
	// <Prefix>/<name>/users/.
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

// etcdLeaveGrace is how long a member's key may be missing before the
// member leaves the list. A member that lost its lease while etcd was away
// registers again a few seconds after etcd returns, and etcd may delete
// its old key first: protoactor would never let it back in (see topology).
// A dead member's users vanish from the directory with its lease at once;
// only its member link waits the grace period.
const etcdLeaveGrace = 5 * time.Second

// relistEvery is how often a member reads the whole member list again even
// when its watch reported nothing.
const relistEvery = 5 * time.Second

// etcdProvider is a cluster.ClusterProvider on etcd. It replaces
// protoactor's own, which lists the members and then watches without a
// start revision, so that a member joining in between is never seen; which
// blocks forever on an unreachable etcd; and which names members
// "<cluster>@<id>" where everything else uses the bare actor system id.
//
// Here a member registers first, then follows the member folder: lists,
// then watches from the list's revision onwards (see folder). Every etcd
// call has a deadline.
//
// The user directory shares the provider's client and lease: its keys go
// away with the member's.
type etcdProvider struct {
	cfg    EtcdMembership
	client *clientv3.Client
	log    *slog.Logger

	lease atomic.Int64 // the clientv3.LeaseID this member's keys live under
	// renewed gets a value when the member registered again under a new
	// lease: the keys under the old one are gone or going.
	renewed chan struct{}

	clusterDir string // the cluster's folder: Prefix/<cluster name>/
	key        string // this member's key in the member folder
	value      string // this member's entry, an encoded cluster.Member

	members  *folder
	current  map[string]*pcluster.Member // the member folder, by key
	topology *topology

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
	p := &etcdProvider{
		cfg:        cfg,
		client:     client,
		log:        log,
		renewed:    make(chan struct{}, 1),
		clusterDir: cfg.Prefix + "/" + clusterName + "/",
	}
	p.lease.Store(int64(grant.ID))
	return p, nil
}

// currentLease is the lease this member's keys live under now.
func (p *etcdProvider) currentLease() clientv3.LeaseID {
	return clientv3.LeaseID(p.lease.Load())
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
	p.topology = newTopology(c, self, etcdLeaveGrace, p.log)
	p.members = &folder{
		client: p.client, prefix: p.clusterDir + "members/", what: "the member list",
		timeout: p.cfg.DialTimeout, relist: relistEvery, log: p.log,
		reset: p.reset,
		apply: p.apply,
	}
	p.key, p.value = p.members.prefix+self.Id, string(value)
	follow, stop := context.WithCancel(context.Background())
	keepAlive, err := p.register(follow, p.currentLease())
	if err != nil {
		stop()
		return fmt.Errorf("registering member %s in etcd: %w", self.Id, err)
	}
	rev, err := p.members.load(follow)
	if err != nil {
		stop()
		return err
	}
	p.stop = stop
	p.stopped.Add(2)
	go p.keepRegistered(follow, keepAlive)
	go func() {
		defer p.stopped.Done()
		p.members.follow(follow, rev)
	}()
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
		p.topology.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DialTimeout)
	defer cancel()
	_, err := p.client.Revoke(ctx, p.currentLease())
	if cerr := p.client.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("leaving etcd membership: %w", err)
	}
	return nil
}

// reset takes the member folder as read whole and publishes it to
// protoactor's member list.
func (p *etcdProvider) reset(resp *clientv3.GetResponse) {
	p.current = make(map[string]*pcluster.Member, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		p.put(string(kv.Key), kv.Value)
	}
	p.publish()
}

// apply changes the member list by events and publishes it.
func (p *etcdProvider) apply(events []*clientv3.Event) {
	for _, ev := range events {
		if ev.Type == clientv3.EventTypeDelete {
			delete(p.current, string(ev.Kv.Key))
			continue
		}
		p.put(string(ev.Kv.Key), ev.Kv.Value)
	}
	p.publish()
}

// put records one member entry; an unreadable one is logged and left out.
func (p *etcdProvider) put(key string, value []byte) {
	m := &pcluster.Member{}
	if err := proto.Unmarshal(value, m); err != nil {
		p.log.Warn("ignoring an unreadable member entry", "key", key, "error", err)
		delete(p.current, key)
		return
	}
	p.current[key] = m
}

func (p *etcdProvider) publish() {
	members := make(pcluster.Members, 0, len(p.current))
	for _, m := range p.current {
		members = append(members, m)
	}
	p.topology.update(members)
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
		p.log.Error("etcd lease lost: the other members drop this one until it registers again", "lease", fmt.Sprintf("%x", p.currentLease()))
		if answers = p.reregister(ctx); answers == nil {
			return
		}
		p.log.Info("registered in etcd again", "lease", fmt.Sprintf("%x", p.currentLease()))
		select {
		case p.renewed <- struct{}{}:
		default: // the last renewal is still unread; one signal covers both
		}
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
	p.lease.Store(int64(lease))
	return answers, nil
}
