package actors

import (
	"reflect"
	"testing"
	"time"
)

// TestTopSendersRates counts users' messages between a snapshot and a
// later time and checks the rates, their order, the bound on the list,
// and that a user's count goes with their last connection.
func TestTopSendersRates(t *testing.T) {
	r := newRegistry()
	t0 := time.Unix(1000, 0)
	counts := map[string]*sendCount{}
	login := func(user string, at time.Time) {
		r.add(user, connOf(user), 10, rateLimit{})
		counts[user] = r.sendCount(user, at)
	}
	send := func(user string, n int) {
		for range n {
			counts[user].add()
		}
	}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		login(u, t0.Add(-time.Minute))
	}
	ts := &topSenders{registry: r, n: 3}
	ts.snapshot(t0)
	send("alice", 10)
	send("bob", 40)
	send("carol", 20)
	want := []topSender{{"bob", 20}, {"carol", 10}, {"alice", 5}}
	if got := ts.top(t0.Add(2 * time.Second)); !reflect.DeepEqual(got, want) {
		t.Fatalf("top 3 after 2 s: got %v, want %v", got, want)
	}

	// Counts made since the snapshot count from their login, over a
	// second at least.
	r.remove("bob", connOf("bob").pid)
	login("bob", t0.Add(time.Second)) // again, counted afresh
	send("bob", 6)
	login("erin", t0.Add(1500*time.Millisecond)) // half a second before: counted over one
	send("erin", 30)
	login("fred", t0.Add(1900*time.Millisecond))
	send("fred", 7)
	want = []topSender{{"erin", 30}, {"carol", 10}, {"fred", 7}}
	if got := ts.top(t0.Add(2 * time.Second)); !reflect.DeepEqual(got, want) {
		t.Fatalf("with new logins: got %v, want %v", got, want)
	}

	// Snapshots older than the window go, but for the start of the rates.
	for i := 1; i <= 7; i++ {
		ts.snapshot(t0.Add(time.Duration(i) * time.Second))
	}
	if len(ts.snaps) != 6 || !ts.snaps[0].at.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("after 7 s: %d snapshots from %v", len(ts.snaps), ts.snaps[0].at)
	}
	if got := ts.top(t0.Add(8 * time.Second)); len(got) != 0 {
		t.Fatalf("nobody sent in the window, yet: %v", got)
	}

	r.remove("erin", connOf("erin").pid)
	if c := r.sendCounts(); len(c) != 5 || c["erin"].n != 0 {
		t.Fatalf("erin's count outlived her last connection: %v", c)
	}
}
