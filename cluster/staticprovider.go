package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
)

// StaticMembership is a fixed list of members, for small clusters without
// etcd: each member answers health checks on HealthPort and polls every
// peer's every Refresh. A member is in the list while it answers.
type StaticMembership struct {
	// HealthPort is where this member answers the others' polls, on the
	// host of the cluster's bind address.
	HealthPort int
	// Peers are every member's host:health port, this one's included.
	Peers []string
	// Refresh is the poll period: a dead member leaves the others' lists
	// within about three of them (see staticLeaveGrace).
	Refresh time.Duration
}

// staticLeaveGrace is how long a member of a static list may fail to
// answer before it leaves: two more polls after the first it missed, so
// that one slow answer on a busy machine does not drop it (protoactor
// never lets a dropped member back in).
func (m StaticMembership) staticLeaveGrace() time.Duration { return 2 * m.Refresh }

// pollTimeout bounds one poll of one member.
func (m StaticMembership) pollTimeout() time.Duration { return max(m.Refresh, time.Second) }

// healthAnswer is what a member's health endpoint tells the members that
// poll it: who it is and where its actors are.
type healthAnswer struct {
	Cluster string   `json:"cluster"`
	ID      string   `json:"id"`
	Host    string   `json:"host"`
	Port    int32    `json:"port"`
	Kinds   []string `json:"kinds"`
}

// staticProvider is a cluster.ClusterProvider for a fixed list of members.
// It replaces protoactor's automanaged provider, which binds its health
// endpoint on every interface and drops a member at the first poll it
// misses, after which protoactor never admits it again.
type staticProvider struct {
	cfg      StaticMembership
	log      *slog.Logger
	listener net.Listener
	server   *http.Server
	client   *http.Client
	self     atomic.Pointer[healthAnswer] // nil until the member starts

	topology *topology
	stop     context.CancelFunc
	stopped  sync.WaitGroup
}

// newStaticProvider binds the health listener at once, so that a port in
// use is an error before the cluster starts.
func newStaticProvider(cfg StaticMembership, bindHost string, log *slog.Logger) (*staticProvider, error) {
	addr := net.JoinHostPort(bindHost, strconv.Itoa(cfg.HealthPort))
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("static membership health listener: %w", err)
	}
	p := &staticProvider{cfg: cfg, log: log, listener: listener,
		client: &http.Client{Timeout: cfg.pollTimeout()}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_health", p.answer)
	// Anyone who reaches the port may connect: a connection that does not
	// send its request in time, or stays idle past the next poll, is
	// closed rather than left holding a file descriptor.
	p.server = &http.Server{Handler: mux, ReadHeaderTimeout: cfg.pollTimeout(), ReadTimeout: cfg.pollTimeout(),
		WriteTimeout: cfg.pollTimeout(), IdleTimeout: max(2*cfg.Refresh, cfg.pollTimeout())}
	go p.server.Serve(listener)
	return p, nil
}

func (p *staticProvider) answer(w http.ResponseWriter, _ *http.Request) {
	self := p.self.Load()
	if self == nil {
		http.Error(w, "not started", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(self)
}

// StartMember answers polls from now on, polls the list once, and then
// every Refresh.
func (p *staticProvider) StartMember(c *pcluster.Cluster) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("member address: %w", err)
	}
	self := &healthAnswer{Cluster: c.Config.Name, ID: c.ActorSystem.ID, Host: host, Port: int32(port), Kinds: c.GetClusterKinds()}
	p.self.Store(self)
	p.topology = newTopology(c, self.member(), p.cfg.staticLeaveGrace(), p.log)
	ctx, stop := context.WithCancel(context.Background())
	p.stop = stop
	p.topology.update(p.poll(ctx, c.Config.Name))
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		tick := time.NewTicker(p.cfg.Refresh)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				p.topology.update(p.poll(ctx, c.Config.Name))
			}
		}
	}()
	return nil
}

// poll asks every member of the list at once and returns those of this
// cluster that answered.
func (p *staticProvider) poll(ctx context.Context, cluster string) []*pcluster.Member {
	answers := make([]*healthAnswer, len(p.cfg.Peers))
	var wg sync.WaitGroup
	for i, peer := range p.cfg.Peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = p.ask(ctx, peer)
		}()
	}
	wg.Wait()
	var members []*pcluster.Member
	for _, a := range answers {
		if a != nil && a.Cluster == cluster {
			members = append(members, a.member())
		}
	}
	return members
}

// ask polls one member; nil when it did not answer as a member does.
func (p *staticProvider) ask(ctx context.Context, peer string) *healthAnswer {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+peer+"/_health", nil)
	if err != nil {
		return nil
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var a healthAnswer
	if resp.StatusCode != http.StatusOK || json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 64<<10)).Decode(&a) != nil {
		return nil
	}
	return &a
}

func (a *healthAnswer) member() *pcluster.Member {
	return &pcluster.Member{Id: a.ID, Host: a.Host, Port: a.Port, Kinds: a.Kinds}
}

// StartClient is not supported: every process of a Bester cluster is a
// member.
func (p *staticProvider) StartClient(*pcluster.Cluster) error {
	return errors.New("static membership: cluster clients are not supported")
}

// Shutdown stops polling and answering: the others drop this member once
// their grace period for it has passed.
func (p *staticProvider) Shutdown(bool) error {
	if p.stop != nil {
		p.stop()
		p.stopped.Wait()
		p.topology.stop()
	}
	return p.server.Close()
}
