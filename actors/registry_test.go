package actors

import (
	"fmt"
	"slices"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

func connOf(id string) recipient { return recipient{pid: actor.NewPID("nonhost", id)} }

// pidsOf returns the ids of the connections the registry has for user.
func pidsOf(r *registry, user string) []string {
	var ids []string
	for _, rc := range r.lookup(user, nil) {
		ids = append(ids, rc.pid.Id)
	}
	return ids
}

func TestRegistryAddsUpToMaxPerUser(t *testing.T) {
	r := newRegistry()
	for i, id := range []string{"a1", "a2"} {
		if _, ok := r.add("alice", connOf(id), 2, rateLimit{}); !ok {
			t.Fatalf("connection %d of 2 refused", i+1)
		}
	}
	if _, ok := r.add("alice", connOf("a3"), 2, rateLimit{}); ok {
		t.Error("a third connection was accepted with a limit of 2")
	}
	if _, ok := r.add("bob", connOf("b1"), 2, rateLimit{}); !ok {
		t.Error("another user was refused because alice is at her limit")
	}
	if got := pidsOf(r, "alice"); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("alice's connections %v, want [a1 a2]", got)
	}
	if r.count() != 3 {
		t.Errorf("count %d, want 3", r.count())
	}
}

func TestRegistryRemove(t *testing.T) {
	for _, tc := range []struct {
		name      string
		remove    []string // ids of alice's connections
		wantAlice []string
		wantCount int
	}{
		{"removing one connection keeps the others in order", []string{"a2"}, []string{"a1", "a3"}, 3},
		{"removing every connection forgets the user", []string{"a1", "a2", "a3"}, nil, 1},
		{"removing an unknown connection changes nothing", []string{"zz"}, []string{"a1", "a2", "a3"}, 4},
		{"removing a connection twice counts it once", []string{"a1", "a1"}, []string{"a2", "a3"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry()
			for _, id := range []string{"a1", "a2", "a3"} {
				r.add("alice", connOf(id), 10, rateLimit{})
			}
			r.add("bob", connOf("b1"), 10, rateLimit{})
			for _, id := range tc.remove {
				r.remove("alice", connOf(id).pid)
			}
			if got := pidsOf(r, "alice"); !slices.Equal(got, tc.wantAlice) {
				t.Errorf("alice's connections %v, want %v", got, tc.wantAlice)
			}
			if r.has("alice") != (tc.wantAlice != nil) {
				t.Errorf("has(alice) = %v with connections %v", r.has("alice"), tc.wantAlice)
			}
			if r.count() != tc.wantCount {
				t.Errorf("count %d, want %d", r.count(), tc.wantCount)
			}
		})
	}
}

// A lookup's result is the caller's: a later remove does not change it.
func TestRegistryLookupIsASnapshot(t *testing.T) {
	r := newRegistry()
	r.add("alice", connOf("a1"), 10, rateLimit{})
	r.add("alice", connOf("a2"), 10, rateLimit{})
	got := r.lookup("alice", nil)
	r.remove("alice", connOf("a1").pid)
	if got[0].pid.Id != "a1" || got[1].pid.Id != "a2" {
		t.Errorf("a remove changed an earlier lookup: %v", got)
	}
}

func TestRegistryNamesAreSortedAndUnique(t *testing.T) {
	r := newRegistry()
	for i, u := range []string{"carol", "alice", "bob", "alice"} {
		r.add(u, connOf(fmt.Sprint(i)), 10, rateLimit{})
	}
	if got := r.names(); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
		t.Errorf("names %v, want [alice bob carol]", got)
	}
}

// All of a user's connections share one set of limiters, and a user who
// reconnects before their buckets refill gets the same, half-empty ones.
func TestRegistrySharesRateLimitsAcrossConnectionsAndReconnects(t *testing.T) {
	r := newRegistry()
	limit := rateLimit{perSecond: 1, burst: 5}
	first, _ := r.add("alice", connOf("a1"), 10, limit)
	second, _ := r.add("alice", connOf("a2"), 10, limit)
	if first == nil || first != second {
		t.Fatalf("two connections of one user got limiters %p and %p, want one shared set", first, second)
	}
	first.allowMessage() // the bucket is no longer full
	r.remove("alice", connOf("a1").pid)
	r.remove("alice", connOf("a2").pid)
	again, _ := r.add("alice", connOf("a3"), 10, limit)
	if again != first {
		t.Error("a user who reconnected before the bucket refilled got fresh limiters")
	}
	if other, _ := r.add("bob", connOf("b1"), 10, limit); other == first {
		t.Error("two users share limiters")
	}
}

// The limiters of a user gone with full buckets are forgotten, so the map
// holds only users recently active.
func TestRegistryForgetsRefilledLimitsOfUsersGone(t *testing.T) {
	r := newRegistry()
	limit := rateLimit{perSecond: 1, burst: 5}
	r.add("alice", connOf("a1"), 10, limit)
	r.remove("alice", connOf("a1").pid)
	if _, kept := r.limits["alice"]; kept {
		t.Error("the full limiters of a user who left were kept")
	}
	if l, _ := r.add("bob", connOf("b1"), 10, rateLimit{}); l != nil || len(r.limits) != 0 {
		t.Errorf("without limits a user got limiters %v (%d kept)", l, len(r.limits))
	}
}
