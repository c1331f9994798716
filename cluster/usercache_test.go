package cluster

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const testUsersDir = "/p/c/users/"

// A username may contain '/': the member id is what follows the last one.
func TestUserKeyRoundTripsUsernamesWithSlashes(t *testing.T) {
	for _, user := range []string{"alice", "a/b", "/lead", "trail/", "", "a//b"} {
		key := userKey(testUsersDir, user, "m1")
		gotUser, gotMember, ok := parseUserKey(testUsersDir, key)
		if !ok || gotUser != user || gotMember != "m1" {
			t.Errorf("%q: parsed %q as (%q, %q, %v)", user, key, gotUser, gotMember, ok)
		}
	}
	for _, key := range []string{"/p/c/members/m1", testUsersDir + "nomember", testUsersDir + "u/"} {
		if user, member, ok := parseUserKey(testUsersDir, key); ok {
			t.Errorf("%q parsed as (%q, %q); want refused", key, user, member)
		}
	}
}

// The cache follows puts and deletes, a user held by two members is
// located at the other one only, and a user whose last holder is gone is
// no longer listed.
func TestUserCacheFollowsEvents(t *testing.T) {
	c := newUserCache(testUsersDir)
	c.reset(&clientv3.GetResponse{Kvs: []*mvccpb.KeyValue{
		{Key: []byte(userKey(testUsersDir, "a/b", "m1"))},
		{Key: []byte(userKey(testUsersDir, "a/b", "m2"))},
	}})
	c.apply([]*clientv3.Event{
		{Type: clientv3.EventTypePut, Kv: &mvccpb.KeyValue{Key: []byte(userKey(testUsersDir, "bob", "m2"))}},
		{Type: clientv3.EventTypePut, Kv: &mvccpb.KeyValue{Key: []byte(userKey(testUsersDir, "bob", "m2"))}},
	})
	if got := c.locate("a/b", "m1", nil); !slices.Equal(got, []string{"m2"}) {
		t.Fatalf("a/b from m1: %v, want [m2]", got)
	}
	if got := c.locate("bob", "m1", nil); !slices.Equal(got, []string{"m2"}) {
		t.Fatalf("bob put twice: %v, want [m2]", got)
	}
	c.apply([]*clientv3.Event{
		{Type: clientv3.EventTypeDelete, Kv: &mvccpb.KeyValue{Key: []byte(userKey(testUsersDir, "bob", "m2"))}},
		{Type: clientv3.EventTypeDelete, Kv: &mvccpb.KeyValue{Key: []byte(userKey(testUsersDir, "a/b", "m1"))}},
	})
	if got := c.locate("bob", "m1", nil); len(got) != 0 {
		t.Fatalf("bob after delete: %v", got)
	}
	if got := slices.Sorted(slices.Values(c.users())); !slices.Equal(got, []string{"a/b"}) {
		t.Fatalf("users: %v, want [a/b]", got)
	}
}

// Locate's cost on a directory of 100,000 users spread over three
// members: the delivery path pays it once per user not held locally.
func BenchmarkLocate(b *testing.B) {
	const users = 100_000
	c := newUserCache(testUsersDir)
	c.reset(usersFolder(users))
	names := make([]string, users)
	for i := range names {
		names[i] = fmt.Sprintf("user-%d", i)
	}
	b.Run("serial", func(b *testing.B) {
		buf := make([]string, 0, 4)
		for i := 0; b.Loop(); i++ {
			buf = c.locate(names[i%users], "m0", buf[:0])
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]string, 0, 4)
			for i := 0; pb.Next(); i++ {
				buf = c.locate(names[i%users], "m0", buf[:0])
			}
		})
	})
}

// The memory a member's copy of a 100,000-user directory keeps, and the
// time a whole read of the folder takes to load.
func BenchmarkUserCacheMemory(b *testing.B) {
	const users = 100_000
	for b.Loop() {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		folder := usersFolder(users)
		c := newUserCache(testUsersDir)
		b.StartTimer()
		c.reset(folder)
		b.StopTimer()
		folder = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/users, "B/user")
		runtime.KeepAlive(c)
		b.StartTimer()
	}
}

// usersFolder is a read of a users folder of n users over three members.
func usersFolder(n int) *clientv3.GetResponse {
	kvs := make([]*mvccpb.KeyValue, n)
	for i := range kvs {
		kvs[i] = &mvccpb.KeyValue{Key: []byte(userKey(testUsersDir, fmt.Sprintf("user-%d", i), fmt.Sprintf("member-id-%012d", i%3)))}
	}
	return &clientv3.GetResponse{Kvs: kvs}
}
