package targets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bester-project/bester/loadgen"
)

// membersReady bounds the wait for a cluster's servers to deliver to each
// other once they are up.
const membersReady = time.Minute

// freeAddrs returns n loopback TCP addresses whose ports were free a
// moment ago, distinct from each other (all are held until the last is
// found), for servers that must name each other before they listen.
func freeAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// portOf is the port of a host:port address.
func portOf(addr string) (int, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(port)
}

// cluster gathers the processes of a cluster target as they start, so
// that a failure part of the way stops those already started.
type cluster struct {
	mu      sync.Mutex
	stops   []func() error
	servers []int // server pids, by index
	drivers []loadgen.Driver
	addrs   []string
}

func newCluster(servers int) *cluster {
	return &cluster{servers: make([]int, servers), drivers: make([]loadgen.Driver, servers), addrs: make([]string, servers)}
}

func (c *cluster) add(stop func() error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stops = append(c.stops, stop)
}

// stop stops every process started, the last first.
func (c *cluster) stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for i := len(c.stops) - 1; i >= 0; i-- {
		errs = append(errs, c.stops[i]())
	}
	c.stops = nil
	return errors.Join(errs...)
}

// startAll runs start for each server at once (members of a cluster may
// wait for each other) and returns the first error.
func startAll(n int, start func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = start(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ready waits until the servers deliver to each other and returns the
// running target, or stops them.
func (c *cluster) ready(ctx context.Context, r *Running) (*Running, error) {
	wctx, cancel := context.WithTimeout(ctx, membersReady)
	defer cancel()
	if err := loadgen.WaitMembers(wctx, c.drivers, ""); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", r.Name, err), c.stop())
	}
	r.Members, r.Addr, r.PIDs, r.stop = c.drivers, c.addrs[0], c.servers, c.stop
	return r, nil
}

// startBesterCluster starts ClusterSize besterd members of one cluster
// on loopback, each with its relay handler: with etcd membership on the
// etcd at client address etcd when it is set, else static.
func startBesterCluster(ctx context.Context, b *Binaries, o Options, etcd string) (*Running, error) {
	// Per member: the member-to-member address, the health endpoint's,
	// and the monitor's.
	addrs, err := freeAddrs(3 * ClusterSize)
	if err != nil {
		return nil, err
	}
	binds, healths, monitors := addrs[:ClusterSize], addrs[ClusterSize:2*ClusterSize], addrs[2*ClusterSize:]
	c := newCluster(ClusterSize)
	r := &Running{Name: "bester-cluster", HandlerPIDs: make([]int, ClusterSize)}
	if etcd != "" {
		r.Name = "bester-cluster-etcd"
	}
	err = startAll(ClusterSize, func(i int) error {
		health, err := portOf(healths[i])
		if err != nil {
			return err
		}
		so := besterOptions(b, o)
		so.Cluster = &loadgen.SpawnCluster{Name: "bench", Bind: binds[i], HealthPort: health, Members: healths}
		if etcd != "" {
			so.Cluster = &loadgen.SpawnCluster{Name: "bench", Bind: binds[i], Etcd: etcd}
		}
		if o.Profile {
			so.Monitor = monitors[i]
		}
		s, err := loadgen.SpawnBester(ctx, so)
		if err != nil {
			return fmt.Errorf("member %d: %w", i, err)
		}
		c.add(s.Stop)
		c.servers[i], r.HandlerPIDs[i], c.addrs[i] = s.PID, s.HandlerPID, s.Addr
		c.drivers[i] = &loadgen.Bester{Network: "tcp4", Address: s.Addr, BufferSize: o.BufferSize}
		return nil
	})
	if err != nil {
		return nil, errors.Join(err, c.stop())
	}
	if o.Profile {
		r.Monitors = monitors
	}
	return c.ready(ctx, r)
}

// startNATSCluster starts ClusterSize NATS servers joined by routes, and
// natshandlers on the first handlers of them.
func startNATSCluster(ctx context.Context, b *Binaries, o Options, handlers int) (*Running, error) {
	routes, err := freeAddrs(ClusterSize)
	if err != nil {
		return nil, err
	}
	c := newCluster(ClusterSize)
	urls := make([]string, ClusterSize)
	err = startAll(ClusterSize, func(i int) error {
		var others []string
		for j, addr := range routes {
			if j != i {
				others = append(others, "nats://"+addr)
			}
		}
		srv, line, err := startProc(ctx, "listening ", b.Natsd,
			append([]string{"-cluster", routes[i], "-routes", strings.Join(others, ",")}, o.NatsdArgs...)...)
		if err != nil {
			return fmt.Errorf("server %d: %w", i, err)
		}
		c.add(srv.stop)
		c.addrs[i] = strings.TrimPrefix(line, "listening ")
		urls[i], c.servers[i] = "nats://"+c.addrs[i], srv.pid()
		c.drivers[i] = &NATS{URL: urls[i], Pending: o.Pending}
		return nil
	})
	if err != nil {
		return nil, errors.Join(err, c.stop())
	}
	r := &Running{Name: "nats-cluster"}
	if handlers == 1 {
		r.Name = "nats-cluster-one"
	}
	for _, url := range urls[:handlers] {
		h, _, err := startProc(ctx, "ready", b.NatsHandler, append([]string{"-url", url}, o.natsHandlerArgs()...)...)
		if err != nil {
			return nil, errors.Join(err, c.stop())
		}
		c.add(h.stop)
		r.HandlerPIDs = append(r.HandlerPIDs, h.pid())
	}
	return c.ready(ctx, r)
}
