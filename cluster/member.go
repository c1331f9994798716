// Package cluster runs one member of a Bester cluster on protoactor's
// cluster layer: several server processes that act as one logical server.
// Membership comes from etcd (EtcdMembership) or from a fixed list of
// members (StaticMembership).
package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Config says how one member starts.
type Config struct {
	// Name is the cluster's name: members only see members of the same name.
	Name string
	// Bind is the host:port the member-to-member listener binds; port 0
	// picks a free one.
	Bind string
	// Advertise is the host:port the other members dial; empty means Bind.
	Advertise string
	// Etcd or Static, exactly one, says how members find each other.
	Etcd   *EtcdMembership
	Static *StaticMembership
	// TLS, when set, is mutual TLS between members; nil is plaintext,
	// acceptable only where every member is on loopback.
	TLS *MemberTLS
	// RequestTimeout bounds a request to another member.
	RequestTimeout time.Duration
	// Logger receives protoactor's and the membership's log; nil means
	// slog's default logger.
	Logger *slog.Logger
}

// Member is one running member of a cluster.
type Member struct {
	cluster   *pcluster.Cluster
	directory Directory
	stopOnce  sync.Once
}

// MemberInfo is one member of the cluster as another sees it.
type MemberInfo struct {
	// ID is the member's id, new on every start of its process.
	ID string
	// Address is the host:port its actors are reached at.
	Address string
}

// Start makes system a member of the cluster described by cfg: its actors
// become reachable from the other members. It returns an error, never a
// panic and never a hang, when membership cannot start: with etcd
// unreachable it fails after about Etcd.DialTimeout. system must not have
// its remote layer started already.
func Start(system *actor.ActorSystem, cfg Config) (*Member, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	host, port, err := splitHostPort(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("cluster bind address: %w", err)
	}
	provider, err := newProvider(cfg, host)
	if err != nil {
		return nil, err
	}
	remoteOpts := transportOptions(cfg.TLS)
	if cfg.Advertise != "" {
		remoteOpts = append(remoteOpts, remote.WithAdvertisedHost(cfg.Advertise))
	}
	c := pcluster.New(system, pcluster.Configure(cfg.Name, provider, disthash.New(),
		remote.Configure(host, port, remoteOpts...),
		pcluster.WithRequestTimeout(cfg.RequestTimeout)))
	if err := startMember(c); err != nil {
		abandon(c, provider, cfg.Logger)
		return nil, err
	}
	m := &Member{cluster: c}
	if m.directory, err = newDirectory(m, provider, cfg.Logger); err != nil {
		abandon(c, provider, cfg.Logger)
		return nil, err
	}
	return m, nil
}

// maxMemberMessage bounds one gRPC message between members. The remote
// layer sends the envelopes waiting for a member together, as one
// message, and one batch may carry a handler output of max_frame: past
// gRPC's default of 4 MiB the receiver would tear the connection down,
// and every batch on it would be lost. Only members (mutual TLS) or
// processes of the same host (loopback) reach the port.
const maxMemberMessage = math.MaxInt32

// transportOptions are the remote layer's gRPC settings: mutual TLS when
// tlsCfg is set, plaintext otherwise (protoactor's default dial option,
// which these replace), and maxMemberMessage both ways.
func transportOptions(tlsCfg *MemberTLS) []remote.ConfigOption {
	server := []grpc.ServerOption{grpc.MaxRecvMsgSize(maxMemberMessage)}
	dial := []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(maxMemberMessage), grpc.MaxCallSendMsgSize(maxMemberMessage))}
	if tlsCfg != nil {
		creds, dialCreds := tlsCfg.credentials()
		server, dial = append(server, creds), append(dial, dialCreds)
	} else {
		dial = append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	return []remote.ConfigOption{remote.WithServerOptions(server...), remote.WithDialOptions(dial...)}
}

// newDirectory is the directory that fits the membership: users' keys in
// etcd where etcd keeps the member list, every member otherwise.
func newDirectory(m *Member, provider pcluster.ClusterProvider, log *slog.Logger) (Directory, error) {
	if etcd, ok := provider.(*etcdProvider); ok {
		return newEtcdDirectory(etcd, m.ID(), log)
	}
	return newEveryMember(m), nil
}

// abandon shuts down a member that failed to start, and its membership.
func abandon(c *pcluster.Cluster, provider pcluster.ClusterProvider, log *slog.Logger) {
	c.Shutdown(false)
	if err := provider.Shutdown(false); err != nil {
		log.Warn("cluster membership not left after a failed start", "error", err)
	}
}

// startMember runs protoactor's StartMember, which panics when the provider
// fails, and turns that panic into an error.
func startMember(c *pcluster.Cluster) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("starting cluster member: %w", e)
				return
			}
			err = fmt.Errorf("starting cluster member: %v", r)
		}
	}()
	c.StartMember()
	return nil
}

func newProvider(cfg Config, bindHost string) (pcluster.ClusterProvider, error) {
	switch {
	case cfg.Etcd != nil && cfg.Static != nil:
		return nil, errors.New("cluster membership: etcd and static are exclusive")
	case cfg.Etcd != nil:
		return newEtcdProvider(*cfg.Etcd, cfg.Name, cfg.Logger)
	case cfg.Static != nil:
		return newStaticProvider(*cfg.Static, bindHost, cfg.Logger)
	}
	return nil, errors.New("cluster membership: neither etcd nor static is configured")
}

// ID is the member's id in the member list: its actor system's id, new on
// every start.
func (m *Member) ID() string { return m.cluster.ActorSystem.ID }

// Address is the host:port the other members reach this one at.
func (m *Member) Address() string { return m.cluster.ActorSystem.Address() }

// Directory locates users in the cluster.
func (m *Member) Directory() Directory { return m.directory }

// Members lists the members this one currently sees, itself included.
func (m *Member) Members() []MemberInfo {
	return infos(m.cluster.MemberList.Members().Members())
}

// OnChange calls f with the whole member list, this member included, after
// every change to it, on protoactor's event stream goroutine: f must not
// block. cancel stops the calls.
func (m *Member) OnChange(f func([]MemberInfo)) (cancel func()) {
	stream := m.cluster.ActorSystem.EventStream
	sub := stream.Subscribe(func(evt any) {
		if t, ok := evt.(*pcluster.ClusterTopology); ok {
			f(infos(t.Members))
		}
	})
	return func() { stream.Unsubscribe(sub) }
}

func infos(members []*pcluster.Member) []MemberInfo {
	out := make([]MemberInfo, len(members))
	for i, member := range members {
		out[i] = MemberInfo{ID: member.Id, Address: member.Address()}
	}
	return out
}

// Stop leaves the cluster. protoactor's graceful shutdown sleeps 2 s and
// may wait up to 10 s more for gRPC; Stop returns after at most limit,
// leaving whatever is still stopping to finish on its own. Later calls do
// nothing.
func (m *Member) Stop(limit time.Duration) {
	m.stopOnce.Do(func() {
		m.directory.Close()
		m.shutdownWithin(limit)
	})
}

func (m *Member) shutdownWithin(limit time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.cluster.Shutdown(true)
	}()
	select {
	case <-done:
	case <-time.After(limit):
		m.cluster.Logger().Warn("cluster member still stopping after the limit; leaving it behind", "limit", limit)
	}
}

func splitHostPort(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return "", 0, fmt.Errorf("port of %q: %w", addr, err)
	}
	return host, port, nil
}
