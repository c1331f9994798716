package cluster

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/labstack/echo"
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
	// within about this long.
	Refresh time.Duration
}

// healthTimeout bounds reading a poll's request and writing the answer on
// the health port.
const healthTimeout = 5 * time.Second

// staticProvider is protoactor's automanaged provider with its health
// endpoint bound to the member's own host: left to itself, it binds every
// interface and prints a banner on stdout.
type staticProvider struct {
	*automanaged.AutoManagedProvider
	cluster *pcluster.Cluster // set by StartMember, read by the health endpoint
}

// newStaticProvider binds the health listener at once, so that a port in
// use is an error before the cluster starts.
func newStaticProvider(cfg StaticMembership, bindHost string) (*staticProvider, error) {
	addr := net.JoinHostPort(bindHost, strconv.Itoa(cfg.HealthPort))
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("static membership health listener: %w", err)
	}
	health := echo.New()
	health.HideBanner = true
	health.HidePort = true
	health.Listener = listener
	// Anyone who reaches the port may connect: a connection that does not
	// send its request in time, or stays idle past the next poll, is
	// closed rather than left holding a file descriptor.
	health.Server.ReadHeaderTimeout = healthTimeout
	health.Server.ReadTimeout = healthTimeout
	health.Server.WriteTimeout = healthTimeout
	health.Server.IdleTimeout = max(2*cfg.Refresh, healthTimeout)
	p := &staticProvider{}
	health.GET("/_health", func(ec echo.Context) error { return ec.JSON(http.StatusOK, p.node(cfg.HealthPort)) })
	p.AutoManagedProvider = automanaged.NewWithTesting(cfg.Refresh, cfg.HealthPort, health, cfg.Peers...)
	return p, nil
}

func (p *staticProvider) StartMember(c *pcluster.Cluster) error {
	p.cluster = c
	return p.AutoManagedProvider.StartMember(c)
}

// node is what the health endpoint tells the polling members about this
// one, as automanaged's own endpoint would.
func (p *staticProvider) node(healthPort int) *automanaged.NodeModel {
	c := p.cluster
	host, port, _ := c.ActorSystem.GetHostPort()
	return automanaged.NewNode(c.Config.Name, c.ActorSystem.ID, host, port, healthPort, c.GetClusterKinds())
}
