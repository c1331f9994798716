package targets

import (
	"slices"
	"testing"

	"github.com/bester-project/bester/loadgen"
)

// TestClustersRelayAcrossServers: every cluster target is three servers
// (besterd members of one cluster, static or on a private etcd, NATS
// servers joined by routes) whose
// handlers relay a message from a user on one server to a user on
// another, every id accounted for, under both placements.
func TestClustersRelayAcrossServers(t *testing.T) {
	ctx, bins := built(t)
	for _, name := range ClusterNames {
		if err := EtcdMissing(); err != nil && name == "bester-cluster-etcd" {
			t.Logf("%s left out: %v", name, err)
			continue
		}
		r, err := Start(ctx, name, bins, Options{Window: 8, Pending: 1024})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Members) != ClusterSize || len(r.PIDs) != ClusterSize || r.Driver != nil {
			t.Errorf("%s: %d members, server pids %v, driver %v", name, len(r.Members), r.PIDs, r.Driver)
		}
		for _, p := range loadgen.Placements {
			res, err := loadgen.Run(ctx, loadgen.Config{Workload: "relay", Members: r.Members, Placement: p,
				Senders: 6, Recipients: 1, Window: 8, Size: 64, Messages: 3000})
			if err != nil {
				t.Fatal(err)
			}
			wantUsers := map[loadgen.Placement][]int{loadgen.PlacementCross: {6, 6, 0}, loadgen.PlacementMixed: {4, 4, 4}}[p]
			if a := res.Accounting; !a.Complete || a.Good != a.Sent || a.Delivered != a.Sent || a.Sent < 3000 ||
				!slices.Equal(res.Placement.Users, wantUsers) || res.Placement.CrossShare != 1 {
				t.Errorf("%s %s: accounting %+v, placement %+v", name, p, a, res.Placement)
			}
		}
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
	}
}

func TestSingleOf(t *testing.T) {
	for cluster, single := range map[string]string{"bester-cluster": "bester", "bester-cluster-etcd": "bester", "nats-cluster": "nats", "nats-cluster-one": "nats"} {
		if got := SingleOf(cluster); got != single || !IsCluster(cluster) || IsCluster(single) {
			t.Errorf("SingleOf(%q) = %q, want %q", cluster, got, single)
		}
	}
}
