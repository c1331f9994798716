package actors

import (
	"reflect"
	"testing"
	"time"
)

// TestTopSendersRates counts three users' messages between two snapshots
// and checks the rates, their order, the bound on the list, and that a
// user's count goes with their last connection.
func TestTopSendersRates(t *testing.T) {
	r := newRegistry()
	r.countSends()
	counts := map[string]*sendCount{}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		r.add(u, connOf(u), 10, rateLimit{})
		counts[u] = r.sendCount(u)
	}
	t0 := time.Unix(1000, 0)
	ts := &topSenders{registry: r, n: 2}
	ts.snapshot(t0)
	for u, n := range map[string]int{"alice": 10, "bob": 40, "carol": 20} {
		for range n {
			counts[u].add()
		}
	}
	want := []topSender{{"bob", 20}, {"carol", 10}}
	if got := ts.top(t0.Add(2 * time.Second)); !reflect.DeepEqual(got, want) {
		t.Fatalf("top 2 after 2 s: got %v, want %v", got, want)
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

	r.remove("bob", connOf("bob").pid)
	if c := r.sendCounts(); len(c) != 3 || c["bob"] != 0 {
		t.Fatalf("bob's count outlived his last connection: %v", c)
	}
}

// TestSendCountsOff: without countSends nobody is counted, at no cost.
func TestSendCountsOff(t *testing.T) {
	r := newRegistry()
	r.add("alice", connOf("a1"), 10, rateLimit{})
	c := r.sendCount("alice")
	c.add()
	if c != nil || len(r.sendCounts()) != 0 {
		t.Fatalf("counted without countSends: %v", r.sendCounts())
	}
}
