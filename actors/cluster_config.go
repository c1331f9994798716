package actors

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/cluster"
)

// memberConfig turns the cluster block into how the member starts: it
// reads the member's and etcd's TLS files, so that an unreadable one
// fails the start with its path.
func memberConfig(c *config.Cluster, log hclog.Logger) (cluster.Config, error) {
	mc := cluster.Config{Name: c.Name, Bind: c.Bind, Advertise: c.Advertise,
		RequestTimeout: orDefault(c.RequestTimeout, config.DefaultClusterRequestTimeout),
		Logger:         slog.New(&slogToHclog{l: log})}
	if c.TLS != nil {
		cert, cas, err := c.TLS.Load()
		if err != nil {
			return cluster.Config{}, fmt.Errorf("cluster tls: %w", err)
		}
		mc.TLS = &cluster.MemberTLS{Certificate: cert, CAs: cas}
	}
	switch {
	case c.Etcd != nil:
		etcd := cluster.EtcdMembership{Endpoints: c.Etcd.Endpoints, Prefix: c.Etcd.Prefix,
			LeaseTTL: c.Etcd.LeaseTTL, DialTimeout: c.Etcd.DialTimeout}
		if c.Etcd.TLS != nil {
			// No address: without a server_name, the etcd client checks
			// each endpoint's certificate against that endpoint's host.
			tc, err := c.Etcd.TLS.Config("")
			if err != nil {
				return cluster.Config{}, fmt.Errorf("cluster etcd tls: %w", err)
			}
			etcd.TLS = tc
		}
		mc.Etcd = &etcd
	case c.Static != nil:
		mc.Static = &cluster.StaticMembership{HealthPort: c.Static.HealthPort, Peers: c.Static.Members,
			Refresh: c.Static.Refresh}
	}
	return mc, nil
}

// deliveryTimeout and deliveryWindow are the cluster block's, or their
// defaults where a value built in code leaves them zero.
func deliveryTimeout(c *config.Cluster) time.Duration {
	return orDefault(c.DeliveryTimeout, config.DefaultClusterDeliveryTimeout)
}

func deliveryWindow(c *config.Cluster) int {
	if c.DeliveryWindow > 0 {
		return c.DeliveryWindow
	}
	return config.DefaultClusterDeliveryWindow
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
