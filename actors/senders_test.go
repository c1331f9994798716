package actors

import (
	"reflect"
	"testing"
	"time"
)

// TestTopSendersRates counts users' messages between a snapshot and a
// later time and checks the rates, their order, the bound on the list,
// and that a user's count runs on across a logout.
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
	// second at least; a count runs on across a logout.
	r.remove("bob", connOf("bob").pid)
	login("bob", t0.Add(time.Second)) // again: 46 in all
	send("bob", 6)
	login("erin", t0.Add(1500*time.Millisecond)) // half a second before: counted over one
	send("erin", 30)
	login("fred", t0.Add(1900*time.Millisecond))
	send("fred", 7)
	want = []topSender{{"erin", 30}, {"bob", 23}, {"carol", 10}}
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
}

// TestTopSendersShortConnections: a user who sends over short
// connections, each closed before the next snapshot (a script that
// connects once a message), is rated on what they sent in the window;
// their count is forgotten once the window has passed since they left.
func TestTopSendersShortConnections(t *testing.T) {
	r := newRegistry()
	t0 := time.Now()
	ts := &topSenders{registry: r, n: 3}
	ts.snapshot(t0)
	for range 4 {
		r.add("bot", connOf("bot"), 10, rateLimit{})
		c := r.sendCount("bot", t0)
		c.add()
		c.add()
		r.remove("bot", connOf("bot").pid)
	}
	want := []topSender{{"bot", 4}}
	if got := ts.top(t0.Add(2 * time.Second)); !reflect.DeepEqual(got, want) {
		t.Fatalf("8 messages over 2 s on short connections: got %v, want %v", got, want)
	}

	later := t0.Add(sendersWindow + 2*sendersTick)
	r.add("alice", connOf("alice"), 10, rateLimit{})
	r.sendCount("alice", later)
	if c := r.sendCounts(); len(c) != 1 {
		t.Fatalf("bot's count outlived the window after the last connection: %v", c)
	}
}
