package loadgen

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// twoServers starts two separate Bester servers, A and B, that share no
// users: a message reaches its recipient only when both are on the same
// one, so which messages are delivered shows where the placement put
// each user.
func twoServers(t *testing.T) (a, b *Spawned) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and starts two servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a cold build is slow
	defer cancel()
	besterd, handler, binDir, err := Build(ctx, "..")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(binDir) })
	for _, s := range []**Spawned{&a, &b} {
		*s, err = SpawnBester(ctx, SpawnOptions{Besterd: besterd, Handler: handler})
		if err != nil {
			t.Fatal(err)
		}
		sp := *s
		t.Cleanup(func() {
			if err := sp.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
	return a, b
}

func TestPlacementOverRealServers(t *testing.T) {
	a, b := twoServers(t)
	da := &Bester{Network: "tcp4", Address: a.Addr}
	db := &Bester{Network: "tcp4", Address: b.Addr}
	t.Run("relay cross", func(t *testing.T) {
		// Senders on A, recipients on B: every message is reported
		// undelivered by A, and each server holds its half of the users.
		cfg := Config{Workload: "relay", Members: []Driver{da, db}, Placement: PlacementCross,
			Senders: 3, Recipients: 1, Window: 4, Size: 64, Duration: 300 * time.Millisecond}
		var once sync.Once
		var onA, onB int
		var countErr error
		cfg.ProgressInterval = 10 * time.Millisecond
		cfg.Progress = func(p Progress) {
			if p.Phase == "measuring" {
				once.Do(func() {
					onA, countErr = a.Clients()
					if countErr == nil {
						onB, countErr = b.Clients()
					}
				})
			}
		}
		res := mustRun(t, cfg)
		if countErr != nil {
			t.Fatal(countErr)
		}
		if onA != 3 || onB != 3 {
			t.Errorf("A counted %d clients and B %d, want 3 and 3", onA, onB)
		}
		wantPlacement(t, res, []int{3, 3}, 1)
		if acc := res.Accounting; acc.Sent == 0 || acc.Good != 0 || acc.Bad != acc.Sent || acc.Delivered != 0 ||
			res.Errors["undelivered"] != acc.Sent {
			t.Errorf("accounting %+v, errors %v: want every message undelivered", acc, res.Errors)
		}
	})
	t.Run("relay mixed", func(t *testing.T) {
		// Users s0 r0 s1 r1 ... on members 0 1 2 0 1 2 ..., members 0
		// and 2 being A: of the six pairs, only s1→r1 and s4→r4 (both
		// on A) get through.
		cfg := Config{Workload: "relay", Members: []Driver{da, db, da}, Placement: PlacementMixed,
			Senders: 6, Recipients: 1, Window: 4, Size: 64, Messages: 600}
		res := mustRun(t, cfg)
		wantPlacement(t, res, []int{4, 4, 4}, 1)
		if acc := res.Accounting; acc.Sent != 600 || acc.Good != 200 || acc.Bad != 400 || acc.Delivered != 200 {
			t.Errorf("accounting %+v: want 200 of 600 delivered", acc)
		}
	})
	t.Run("fanout mixed", func(t *testing.T) {
		// s0 on member 0 (A), its six recipients on members 1 2 0 1 2 0:
		// four on A, so each message reaches four and reports two
		// undelivered.
		cfg := Config{Workload: "fanout", Members: []Driver{da, db, da}, Placement: PlacementMixed,
			Senders: 1, Recipients: 6, SharedRecipients: true, Window: 4, Size: 64, Messages: 30}
		res := mustRun(t, cfg)
		wantPlacement(t, res, []int{3, 2, 2}, 4.0/6)
		if acc := res.Accounting; acc.Sent != 30 || acc.Bad != 30 || acc.Expected != 120 || acc.Delivered != 120 {
			t.Errorf("accounting %+v: want 4 of 6 recipients reached by each of 30 messages", acc)
		}
	})
	for _, p := range Placements {
		t.Run("pingpong "+string(p), func(t *testing.T) {
			// Both members are A: the sender and its recipient connect
			// through different members' drivers and every message is
			// delivered.
			cfg := Config{Workload: "pingpong", Members: []Driver{da, da}, Placement: p,
				Senders: 1, Recipients: 1, Window: 1, Size: 64, Messages: 50}
			res := mustRun(t, cfg)
			wantPlacement(t, res, []int{1, 1}, 1)
			if acc := res.Accounting; acc.Sent != 50 || acc.Good != 50 || acc.Delivered != 50 {
				t.Errorf("accounting %+v: want 50 delivered", acc)
			}
		})
	}
}

func TestWaitMembersOverRealServers(t *testing.T) {
	a, b := twoServers(t)
	da := &Bester{Network: "tcp4", Address: a.Addr}
	db := &Bester{Network: "tcp4", Address: b.Addr}
	// Three members that are all A deliver to each other at once.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := WaitMembers(ctx, []Driver{da, da, da}, ""); err != nil {
		t.Fatal(err)
	}
	// A and B share no users: they never do, and the wait ends with
	// its context.
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := WaitMembers(ctx, []Driver{da, db}, ""); err == nil {
		t.Fatal("two servers that share no users passed for members of one cluster")
	}
}

func mustRun(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Accounting.Complete {
		t.Fatalf("not every id accounted for: %+v", res.Accounting)
	}
	return res
}

func wantPlacement(t *testing.T, res *Result, users []int, cross float64) {
	t.Helper()
	p := res.Placement
	if p == nil || !slices.Equal(p.Users, users) || p.CrossShare != cross {
		t.Errorf("placement %+v, want users %v and cross share %v", p, users, cross)
	}
}

func TestPlacementChecks(t *testing.T) {
	d := newFakeRelay()
	base := Config{Workload: "relay", Senders: 1, Recipients: 1, Window: 1, Size: 64, Duration: time.Second}
	cases := map[string]func(*Config){
		"placement without members": func(c *Config) { c.Driver, c.Placement = d, PlacementCross },
		"members and a driver":      func(c *Config) { c.Driver, c.Members, c.Placement = d, []Driver{d, d}, PlacementCross },
		"one member":                func(c *Config) { c.Members, c.Placement = []Driver{d}, PlacementCross },
		"no placement":              func(c *Config) { c.Members = []Driver{d, d} },
		"unknown placement":         func(c *Config) { c.Members, c.Placement = []Driver{d, d}, "spread" },
		"a nil member":              func(c *Config) { c.Members, c.Placement = []Driver{d, nil}, PlacementMixed },
	}
	for name, edit := range cases {
		cfg := base
		edit(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestSpawnMonitorServesProfiler: SpawnOptions.Monitor gives the server a
// monitor block whose profiler answers, as the comparison's profiles of
// cluster members need.
func TestSpawnMonitorServesProfiler(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a cold build is slow
	defer cancel()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s, err := SpawnBester(ctx, SpawnOptions{Monitor: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), s.Besterd) {
		t.Fatalf("status %s, body %q; want besterd's command line", resp.Status, body)
	}
}
