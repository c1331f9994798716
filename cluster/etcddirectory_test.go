//go:build !race

package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/bester-project/bester/internal/testetcd"
)

// directoryMembership is the etcd membership of the directory tests: a
// short lease, so that a dead member's users vanish soon.
func directoryMembership(endpoint string) EtcdMembership {
	return EtcdMembership{
		Endpoints: []string{endpoint}, Prefix: "/bester-test",
		LeaseTTL: 2 * time.Second, DialTimeout: 2 * time.Second,
	}
}

// startEtcdMembers starts n members of a cluster of a name of its own on
// etcd and waits until they see each other.
func startEtcdMembers(t testing.TB, n int, membership EtcdMembership) []*Member {
	t.Helper()
	name := uniqueClusterName()
	configs := make([]Config, n)
	for i := range configs {
		configs[i] = etcdConfig(t, name, membership)
	}
	members := startMembers(t, configs)
	waitForFullView(t, members, 20*time.Second)
	return members
}

// waitFor polls cond until it holds, failing the test after within with
// the last state cond described.
func waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still not %s: %s", within, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// locatedAt says whether every one of users is located by m at exactly
// the members holders (nil: nowhere).
func locatedAt(m *Member, users []string, holders ...string) (bool, string) {
	want := slices.Sorted(slices.Values(holders))
	for _, user := range users {
		got := m.Directory().Locate(user, nil)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return false, fmt.Sprintf("member %s locates %q at %v, want %v", m.ID(), user, got, want)
		}
	}
	return true, ""
}

// etcdClient is a client of the test's own, to look at the keys.
func etcdClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// userKeysOf lists the users m has keys for in etcd.
func userKeysOf(t *testing.T, client *clientv3.Client, m *Member) []string {
	t.Helper()
	usersDir := m.directory.(*etcdDirectory).users.prefix
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := client.Get(ctx, usersDir, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, kv := range resp.Kvs {
		if user, member, ok := parseUserKey(usersDir, string(kv.Key)); ok && member == m.ID() {
			users = append(users, user)
		}
	}
	slices.Sort(users)
	return users
}

// crash ends m's membership and directory the way a killed process does:
// nothing is revoked, the lease runs out.
func crash(m *Member) {
	m.directory.Close()
	p := m.cluster.Config.ClusterProvider.(*etcdProvider)
	p.stop()
	p.stopped.Wait()
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// Three members register users, usernames with '/' among them; each
// locates the others' users at their holder and never at itself, and
// Users lists them all. An unregistered user vanishes everywhere; a
// member that stops leaves no keys behind and its users vanish.
func TestEtcdDirectoryLocatesUsersOfOtherMembers(t *testing.T) {
	endpoint := testetcd.Endpoint(t)
	members := startEtcdMembers(t, 3, directoryMembership(endpoint))
	a, b, c := members[0], members[1], members[2]
	aUsers := []string{"alice", "a/with/slashes", "a/"}
	bUsers := []string{"bob", "/b"}
	for _, u := range aUsers {
		a.Directory().Register(u)
	}
	for _, u := range bUsers {
		b.Directory().Register(u)
	}
	shared := "on-a-and-c"
	a.Directory().Register(shared)
	c.Directory().Register(shared)

	for _, m := range []*Member{b, c} {
		waitFor(t, 10*time.Second, "a's users located", func() (bool, string) { return locatedAt(m, aUsers, a.ID()) })
	}
	for _, m := range []*Member{a, c} {
		waitFor(t, 10*time.Second, "b's users located", func() (bool, string) { return locatedAt(m, bUsers, b.ID()) })
	}
	waitFor(t, 10*time.Second, "the shared user located", func() (bool, string) {
		if ok, state := locatedAt(a, []string{shared}, c.ID()); !ok {
			return false, state
		}
		if ok, state := locatedAt(c, []string{shared}, a.ID()); !ok {
			return false, state
		}
		return locatedAt(b, []string{shared}, a.ID(), c.ID())
	})
	users, known := c.Directory().Users()
	want := slices.Sorted(slices.Values(append(append([]string{shared}, aUsers...), bUsers...)))
	if !known || !slices.Equal(users, want) {
		t.Fatalf("Users() = %v, %v; want %v, true", users, known, want)
	}

	a.Directory().Unregister("alice")
	waitFor(t, 10*time.Second, "alice gone", func() (bool, string) { return locatedAt(b, []string{"alice"}) })

	client := etcdClient(t, endpoint)
	if got := userKeysOf(t, client, b); !slices.Equal(got, []string{"/b", "bob"}) {
		t.Fatalf("b's keys in etcd are for %v, want [/b bob]", got)
	}
	b.Stop(15 * time.Second)
	if got := userKeysOf(t, client, b); len(got) != 0 {
		t.Fatalf("a stopped member left keys for %v", got)
	}
	waitFor(t, 10*time.Second, "b's users gone", func() (bool, string) { return locatedAt(a, bUsers) })
}

// A member that dies without leaving takes its users with it: they
// vanish from the others' directories once its lease runs out.
func TestEtcdDirectoryForgetsTheUsersOfADeadMember(t *testing.T) {
	membership := directoryMembership(testetcd.Endpoint(t))
	members := startEtcdMembers(t, 2, membership)
	dying, survivor := members[0], members[1]
	users := names("doomed-", 20)
	for _, u := range users {
		dying.Directory().Register(u)
	}
	waitFor(t, 10*time.Second, "the users located", func() (bool, string) { return locatedAt(survivor, users, dying.ID()) })

	crash(dying)
	died := time.Now()
	waitFor(t, membership.LeaseTTL+10*time.Second, "the dead member's users gone", func() (bool, string) {
		return locatedAt(survivor, users)
	})
	t.Logf("the users vanished %v after the member died (lease TTL %v)", time.Since(died).Round(time.Millisecond), membership.LeaseTTL)
}

// When etcd is lost for longer than the lease TTL and comes back, each
// member writes its users again under its new lease: the others locate
// them, the keys are in etcd, and what changed during the outage is
// written too.
func TestEtcdDirectoryWritesUsersAgainAfterEtcdRestarts(t *testing.T) {
	etcd := testetcd.StartPrivate(t)
	membership := directoryMembership(etcd.Endpoint())
	members := startEtcdMembers(t, 2, membership)
	a, b := members[0], members[1]
	aUsers, bUsers := names("a-", 10), names("b-", 10)
	for i := range aUsers {
		a.Directory().Register(aUsers[i])
		b.Directory().Register(bUsers[i])
	}
	waitFor(t, 10*time.Second, "a's users located", func() (bool, string) { return locatedAt(b, aUsers, a.ID()) })

	etcd.Stop()
	a.Directory().Register("during-outage")
	a.Directory().Unregister(aUsers[0])
	// Longer than the lease TTL plus the client's keep-alive deadline:
	// the leases count as lost.
	time.Sleep(3 * membership.LeaseTTL)
	etcd.Start()
	// etcd extends the leases it held when it restarts; keys left only
	// under an old lease would vanish once that extension runs out.
	time.Sleep(2 * membership.LeaseTTL)

	aNow := append([]string{"during-outage"}, aUsers[1:]...)
	waitFor(t, 20*time.Second, "a's users located again", func() (bool, string) { return locatedAt(b, aNow, a.ID()) })
	waitFor(t, 20*time.Second, "b's users located again", func() (bool, string) { return locatedAt(a, bUsers, b.ID()) })
	if ok, state := locatedAt(b, aUsers[:1]); !ok {
		t.Fatalf("a user unregistered during the outage: %s", state)
	}
	client := etcdClient(t, etcd.Endpoint())
	if got, want := userKeysOf(t, client, a), slices.Sorted(slices.Values(aNow)); !slices.Equal(got, want) {
		t.Fatalf("a's keys in etcd are for %v, want %v", got, want)
	}
}

// A burst of 5,000 registrations is written in batches (far fewer etcd
// revisions than users) and all of it reaches another member; users
// registered and unregistered at once leave nothing behind.
func TestEtcdDirectoryWritesABurstInBatches(t *testing.T) {
	etcd := testetcd.StartPrivate(t) // of its own: the revisions count this test's writes only
	members := startEtcdMembers(t, 2, directoryMembership(etcd.Endpoint()))
	a, b := members[0], members[1]
	client := etcdClient(t, etcd.Endpoint())
	before := revision(t, client)

	users := names("burst-", 5000)
	fleeting := names("fleeting-", 1000)
	for i, u := range users {
		a.Directory().Register(u)
		if i < len(fleeting) {
			a.Directory().Register(fleeting[i])
			a.Directory().Unregister(fleeting[i])
		}
	}
	waitFor(t, 60*time.Second, "the burst located", func() (bool, string) { return locatedAt(b, users, a.ID()) })
	if ok, state := locatedAt(b, fleeting); !ok {
		t.Fatal(state)
	}
	writes := revision(t, client) - before
	t.Logf("%d registrations took %d etcd revisions", len(users), writes)
	if writes > int64(len(users))/10 {
		t.Fatalf("%d registrations took %d etcd revisions: not batched", len(users), writes)
	}
	if got := userKeysOf(t, client, a); len(got) != len(users) {
		t.Fatalf("%d keys in etcd, want %d", len(got), len(users))
	}
}

func revision(t *testing.T, client *clientv3.Client) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := client.Get(ctx, "/", clientv3.WithKeysOnly(), clientv3.WithLimit(1))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

// uniqueClusterName keeps runs apart that share one etcd.
func uniqueClusterName() string {
	return "c" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
}

// The time from Register on one member until another member locates the
// user, one user at a time: what a login costs before deliveries from
// elsewhere find it.
func BenchmarkRegisterToVisible(b *testing.B) {
	a, other := benchmarkMembers(b)
	var latencies []time.Duration
	for i := 0; b.Loop(); i++ {
		user := fmt.Sprintf("visible-%d", i)
		start := time.Now()
		a.Directory().Register(user)
		for len(other.Directory().Locate(user, nil)) == 0 {
			time.Sleep(10 * time.Microsecond)
		}
		latencies = append(latencies, time.Since(start))
	}
	reportPercentiles(b, latencies)
}

// Registrations per second when they come in a burst (a reconnect storm
// after a member died): from the first Register until another member
// locates all of them.
func BenchmarkRegisterBurst(b *testing.B) {
	a, other := benchmarkMembers(b)
	users := names("burst-", 5000)
	b.ResetTimer()
	for round := 0; round < b.N; round++ {
		prefix := fmt.Sprintf("r%d-", round)
		for _, u := range users {
			a.Directory().Register(prefix + u)
		}
		last := prefix + users[len(users)-1]
		for len(other.Directory().Locate(last, nil)) == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	b.ReportMetric(float64(b.N*len(users))/b.Elapsed().Seconds(), "users/s")
}

// For comparison with BenchmarkRegisterBurst: one put per user, as a
// writer without batching would do it.
func BenchmarkPutPerUser(b *testing.B) {
	a, _ := benchmarkMembers(b)
	p := a.cluster.Config.ClusterProvider.(*etcdProvider)
	usersDir := a.directory.(*etcdDirectory).users.prefix
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		key := userKey(usersDir, fmt.Sprintf("single-%d", i), a.ID())
		if _, err := p.client.Put(ctx, key, "", clientv3.WithLease(p.currentLease())); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
}

// benchmarkMembers are two members on the shared etcd, started outside
// the timer, with a lease that outlasts a slow benchmark's pauses.
func benchmarkMembers(b *testing.B) (*Member, *Member) {
	b.Helper()
	membership := directoryMembership(testetcd.Endpoint(b))
	membership.LeaseTTL = 10 * time.Second
	members := startEtcdMembers(b, 2, membership)
	return members[0], members[1]
}

func reportPercentiles(b *testing.B, latencies []time.Duration) {
	slices.Sort(latencies)
	at := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds())
	}
	b.ReportMetric(at(0.5), "p50-µs")
	b.ReportMetric(at(0.9), "p90-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}
