//go:build !race

// protoactor's cluster layer has data races of its own, so the tests that
// start cluster members build only without -race; .ci/run runs them in a
// pass of their own.

package actors

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/internal/testnet"
)

// relayBlock is the example relay handler.
const relayBlock = `
handler "relay" {
  socket  = "relay.sock"
  command = ["$RELAY"]
}
`

// staticCluster is the cluster block of each of n members of one cluster
// on loopback with a static member list.
func staticCluster(t *testing.T, n int) []*config.Cluster {
	t.Helper()
	ports := testnet.FreeLoopbackPorts(t, n)
	var members []string
	for _, port := range ports {
		members = append(members, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	blocks := make([]*config.Cluster, n)
	for i, port := range ports {
		blocks[i] = &config.Cluster{Name: "test", Bind: "127.0.0.1:0",
			RequestTimeout: 2 * time.Second, DeliveryTimeout: 2 * time.Second,
			Static: &config.ClusterStatic{HealthPort: port, Members: members, Refresh: 300 * time.Millisecond}}
	}
	return blocks
}

// startCluster starts a server for each cluster block, all named J with
// extra, at once, and waits until their handlers are up and each sees
// every member.
func startCluster(t *testing.T, blocks []*config.Cluster, extra string) []*testServer {
	t.Helper()
	return startClusterLogged(t, blocks, extra, nil)
}

// startClusterLogged is startCluster with every server's log also
// written to log, when set.
func startClusterLogged(t *testing.T, blocks []*config.Cluster, extra string, log io.Writer) []*testServer {
	t.Helper()
	servers := make([]*testServer, len(blocks))
	var wg sync.WaitGroup
	for i, c := range blocks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			servers[i] = startServerWith(t, serverOptions{name: "J", cluster: c, log: log}, extra)
		}()
	}
	wg.Wait()
	for _, ts := range servers {
		if ts == nil {
			t.FailNow()
		}
	}
	waitMembers(t, servers, len(servers))
	return servers
}

// waitMembers waits until every server of servers sees n members.
func waitMembers(t *testing.T, servers []*testServer, n int) {
	t.Helper()
	eventually(t, "every member sees "+strconv.Itoa(n)+" members", func() bool {
		for _, ts := range servers {
			if len(ts.cluster.links.book.Load().byID) != n-1 {
				return false
			}
		}
		return true
	})
}
