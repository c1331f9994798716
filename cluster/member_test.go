//go:build !race

// protoactor's cluster layer has data races of its own (gRPC logger,
// gossip, member list), so these tests build only without -race; .ci/run
// runs them in a pass of their own.

package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/bester-project/bester/cluster/pb"
	"github.com/bester-project/bester/internal/testetcd"
	"github.com/bester-project/bester/internal/testnet"
)

// testLogger shows the members' log with -v and keeps a quiet run quiet.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newSystem is an actor system for one member: each member needs its own,
// as each process has one.
func newSystem(t testing.TB) *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return testLogger(t) }))
}

// startMembers starts n members from the configs at once, as a cluster's
// processes start on a deploy, and stops them when the test ends.
func startMembers(t testing.TB, configs []Config) []*Member {
	t.Helper()
	members := make([]*Member, len(configs))
	errs := make([]error, len(configs))
	var wg sync.WaitGroup
	for i, cfg := range configs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			members[i], errs[i] = Start(newSystem(t), cfg)
		}()
	}
	wg.Wait()
	for i, m := range members {
		if m != nil {
			t.Cleanup(func() { m.Stop(15 * time.Second) })
		}
		if errs[i] != nil {
			t.Fatalf("member %d: %v", i, errs[i])
		}
	}
	return members
}

// waitForFullView waits until every member sees exactly the ids of all.
func waitForFullView(t testing.TB, members []*Member, within time.Duration) {
	t.Helper()
	want := make([]string, len(members))
	for i, m := range members {
		want[i] = m.ID()
	}
	slices.Sort(want)
	deadline := time.Now().Add(within)
	for {
		var wrong []string
		for _, m := range members {
			var got []string
			for _, member := range m.Members() {
				got = append(got, member.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				wrong = append(wrong, m.ID()+" sees ["+strings.Join(got, " ")+"]")
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, want every member to see [%s]; %s", within, strings.Join(want, " "), strings.Join(wrong, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func etcdConfig(t testing.TB, name string, etcd EtcdMembership) Config {
	return Config{
		Name: name, Bind: "127.0.0.1:0", Etcd: &etcd,
		RequestTimeout: 2 * time.Second, Logger: testLogger(t),
	}
}

// Three members started at the same moment against a real etcd all end up
// seeing all three: the start race of protoactor's own etcd provider
// (list, then watch without a revision) does not leave one behind. One
// that stops leaves the others' lists.
func TestThreeMembersOnEtcdSeeEachOtherAndOneLeaves(t *testing.T) {
	endpoint := testetcd.Endpoint(t)
	membership := EtcdMembership{
		Endpoints: []string{endpoint}, Prefix: "/bester-test/" + t.Name(),
		LeaseTTL: 3 * time.Second, DialTimeout: 5 * time.Second,
	}
	name := uniqueClusterName()
	configs := []Config{etcdConfig(t, name, membership), etcdConfig(t, name, membership), etcdConfig(t, name, membership)}
	members := startMembers(t, configs)
	waitForFullView(t, members, 20*time.Second)

	// A member that stops revokes its lease: the others drop it without
	// waiting for the lease to expire.
	members[0].Stop(15 * time.Second)
	waitForFullView(t, members[1:], 20*time.Second)
}

// With nothing listening at the etcd endpoint, Start fails with an error
// that names etcd within a few seconds, instead of hanging or panicking.
func TestEtcdUnreachableAtStartIsAClearError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close() // a port that refuses connections
	cfg := etcdConfig(t, "unreachable", EtcdMembership{
		Endpoints: []string{closed}, Prefix: "/bester-test",
		LeaseTTL: 3 * time.Second, DialTimeout: 2 * time.Second,
	})
	result := make(chan error, 1)
	go func() {
		m, err := Start(newSystem(t), cfg)
		if m != nil {
			m.Stop(15 * time.Second)
		}
		result <- err
	}()
	select {
	case err := <-result:
		if err == nil {
			t.Fatal("Start succeeded without etcd")
		}
		if !strings.Contains(err.Error(), "etcd") || !strings.Contains(err.Error(), closed) {
			t.Fatalf("the error should name etcd and its endpoint %s: %v", closed, err)
		}
		t.Logf("error: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Start still running 30 s after it was pointed at an unreachable etcd")
	}
}

// Three members with a static list of each other's health ports, all on
// loopback, end up seeing all three: a cluster without etcd.
func TestThreeMembersOnAStaticListSeeEachOther(t *testing.T) {
	members := startMembers(t, staticConfigs(t, "static", 3))
	waitForFullView(t, members, 20*time.Second)
}

// staticConfigs are the configs of n loopback members of a static cluster.
func staticConfigs(t *testing.T, name string, n int) []Config {
	healthPorts := testnet.FreeLoopbackPorts(t, n)
	var peers []string
	for _, port := range healthPorts {
		peers = append(peers, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	var configs []Config
	for _, port := range healthPorts {
		configs = append(configs, Config{
			Name: name, Bind: "127.0.0.1:0",
			Static:         &StaticMembership{HealthPort: port, Peers: peers, Refresh: 500 * time.Millisecond},
			RequestTimeout: 2 * time.Second, Logger: testLogger(t),
		})
	}
	return configs
}

// When etcd is lost for longer than the lease TTL and comes back, the
// members register again under new leases and see each other again, and a
// member that joins afterwards sees them all: their keys are back in etcd,
// not only in the others' memories.
func TestMembersRegisterAgainAfterEtcdRestarts(t *testing.T) {
	etcd := testetcd.StartPrivate(t)
	membership := EtcdMembership{
		Endpoints: []string{etcd.Endpoint()}, Prefix: "/bester-test",
		LeaseTTL: 2 * time.Second, DialTimeout: 2 * time.Second,
	}
	members := startMembers(t, []Config{etcdConfig(t, "restart", membership), etcdConfig(t, "restart", membership)})
	waitForFullView(t, members, 20*time.Second)

	etcd.Stop()
	// Longer than the lease TTL plus the client's keep-alive deadline:
	// the members' leases count as lost.
	time.Sleep(3 * membership.LeaseTTL)
	etcd.Start()
	// etcd extends leases it held when it restarts; a member that kept
	// only its old lease would vanish once that extension runs out.
	time.Sleep(2 * membership.LeaseTTL)

	late := startMembers(t, []Config{etcdConfig(t, "restart", membership)})
	waitForFullView(t, append(members, late...), 20*time.Second)
}

// A member whose lease etcd ends while the member runs (as when etcd was
// away for longer than the TTL) registers again under a new lease, and the
// others keep it: protoactor never admits again a member id that left its
// list, so a departure must not be published for a gap this short.
func TestAMemberWhoseLeaseEndedRegistersAgainAndStays(t *testing.T) {
	endpoint := testetcd.Endpoint(t)
	membership := directoryMembership(endpoint)
	members := startEtcdMembers(t, 2, membership)
	client := etcdClient(t, endpoint)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys, err := client.Get(ctx, membership.Prefix+"/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var lease clientv3.LeaseID
	for _, kv := range keys.Kvs {
		if strings.HasSuffix(string(kv.Key), "/members/"+members[1].ID()) {
			lease = clientv3.LeaseID(kv.Lease)
		}
	}
	if lease == 0 {
		t.Fatalf("no member key of %s in etcd", members[1].ID())
	}
	if _, err := client.Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	// It registers again within about a second; by then the other has
	// seen its key go.
	time.Sleep(3 * time.Second)
	waitForFullView(t, members, 20*time.Second)
}

// A connection to a static member's health port that sends nothing is
// closed by the member: the port is plain HTTP that anyone who reaches it
// can open, and idle connections would otherwise hold the server's file
// descriptors for good.
func TestStaticHealthPortClosesIdleConnections(t *testing.T) {
	configs := staticConfigs(t, "health-idle", 1)
	startMembers(t, configs)
	conn, err := net.Dial("tcp", configs[0].Static.Peers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("an idle connection to the health port: read %d bytes, %v; want it closed by the member", n, err)
	}
}

// A batch larger than gRPC's default limit on one message (4 MiB) crosses
// members: max_frame may be set higher than that, and a handler output
// of that size is one DeliverBatch.
func TestMembersCarryABatchOverFourMiB(t *testing.T) {
	sender, receiver, inbox, _ := startAckingPair(t, staticConfigs(t, "large", 2))
	batch := &pb.DeliverBatch{BatchId: 1, Users: []string{"G"}, Data: make([]byte, 6<<20)}
	answer, err := sender.cluster.ActorSystem.Root.RequestFuture(actor.NewPID(receiver.Address(), inbox.Id), batch, 10*time.Second).Result()
	if err != nil {
		t.Fatalf("a 6 MiB batch: %v", err)
	}
	if ack, ok := answer.(*pb.DeliverAck); !ok || ack.BatchId != 1 {
		t.Fatalf("answer %T %v, want DeliverAck for batch 1", answer, answer)
	}
}
