package cluster

import (
	"log/slog"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
)

// StaticMembership is a fixed list of members, for small clusters without
// etcd: each member answers health checks on HealthPort and polls every
// peer's every Refresh. A member is in the list while it answers.
type StaticMembership struct {
	// HealthPort is where this member answers the others' polls.
	HealthPort int
	// Peers are every member's host:health port, this one's included.
	Peers []string
	// Refresh is the poll period: a dead member leaves the others' lists
	// within about this long.
	Refresh time.Duration
}

func newStaticProvider(cfg StaticMembership, _ *slog.Logger) (pcluster.ClusterProvider, error) {
	return automanaged.NewWithConfig(cfg.Refresh, cfg.HealthPort, cfg.Peers...), nil
}
