//go:build !race

// protoactor's cluster layer has data races of its own, so the tests that
// start cluster members build only without -race; .ci/run runs them in a
// pass of their own.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bester-project/bester/internal/statusview"
	"github.com/bester-project/bester/loadgen"
)

// memberTemplate is a member of a static cluster on loopback: the relay
// handler, a plain listener, a plain monitor endpoint and a cluster block.
const memberTemplate = plainServerTemplate + `
handler "relay" {
  socket  = "relay.sock"
  command = [%q]
}

monitor {
  address = %q
}

cluster {
  name = "status"
  bind = %q
  static {
    health_port = %s
    members     = ["%s"]
    refresh     = "300ms"
  }
}
`

// testMember is a besterd started from memberTemplate.
type testMember struct {
	plain, monitor string
	proc           *besterdProcess
}

// startMembers starts n members of one static cluster; they stop when the
// test ends.
func startMembers(t *testing.T, n int) []*testMember {
	t.Helper()
	besterd, relay := buildServer(t)
	health := make([]string, n)
	for i := range health {
		health[i] = freeLoopbackAddr(t)
	}
	members := make([]*testMember, n)
	for i := range members {
		dir, err := os.MkdirTemp("", "bm") // short: UNIX socket paths are limited to 107 bytes
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		m := &testMember{plain: freeLoopbackAddr(t), monitor: freeLoopbackAddr(t)}
		_, port, _ := net.SplitHostPort(health[i])
		config := filepath.Join(dir, "bester.hcl")
		text := fmt.Sprintf(memberTemplate, dir, m.plain, relay, m.monitor, freeLoopbackAddr(t), port, strings.Join(health, `", "`))
		if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		m.proc = runBesterd(t, besterd, config)
		members[i] = m
	}
	return members
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	addr, err := loadgen.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// view runs `bester status -json -once` against m's monitor; nil while
// it cannot read it.
func (m *testMember) view(t *testing.T) *statusview.View {
	t.Helper()
	e, out, _ := testEnv("")
	if code := run(context.Background(), []string{"bester", "status", "-monitor", m.monitor, "-json", "-once", "-interval", "300ms"}, e); code != 0 {
		return nil
	}
	var v statusview.View
	if err := json.Unmarshal([]byte(out.String()), &v); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	return &v
}

// waitView polls m's view until ok holds for it, and returns that view.
func (m *testMember) waitView(t *testing.T, what string, ok func(*statusview.View) bool) *statusview.View {
	t.Helper()
	var v *statusview.View
	waitFor(t, what, func() bool {
		select {
		case <-m.proc.exited:
			t.Fatalf("besterd at %s exited", m.plain)
		default:
		}
		v = m.view(t)
		return v != nil && ok(v)
	})
	return v
}

// memberCount is how many members v lists.
func memberCount(n int) func(*statusview.View) bool {
	return func(v *statusview.View) bool { return v.Cluster != nil && len(v.Cluster.Members) == n }
}

// TestClusterStatus runs `bester status` against a member of a static
// cluster of two real besterd processes, with T on one member relaying to
// G on the other: the view names the member, lists both with their
// states, counts the batches sent and the other member's
// acknowledgements; the plain lines show the same; a member that stops
// leaves the list.
func TestClusterStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts servers")
	}
	members := startMembers(t, 2)
	a, b := members[0], members[1]
	a.waitView(t, "a's list of two", memberCount(2))
	b.waitView(t, "b's list of two", memberCount(2))
	relayLoad(t, a.plain, b.plain)

	v := a.waitView(t, "batches acknowledged by b", func(v *statusview.View) bool {
		return memberCount(2)(v) && v.Cluster.BatchesSent > 0
	})
	c := v.Cluster
	var self, other *statusview.MemberView
	for i, m := range c.Members {
		if m.ID == c.Member {
			self = &c.Members[i]
		} else {
			other = &c.Members[i]
		}
	}
	if self == nil || other == nil || self.State != "self" || self.Address != c.Address || other.State != "up" || other.Address == c.Address {
		t.Fatalf("members %+v of member %s at %s", c.Members, c.Member, c.Address)
	}
	if other.Acked <= 0 || other.P99 == nil {
		t.Errorf("the other member acknowledged nothing: %+v", other)
	}

	t.Run("plain lines", func(t *testing.T) {
		e, out, errs := testEnv("")
		if code := run(context.Background(), []string{"bester", "status", "-monitor", a.monitor, "-once", "-interval", "300ms"}, e); code != 0 {
			t.Fatalf("status %d, stderr %q", code, errs)
		}
		text := out.String()
		for _, want := range []string{
			"J  member " + c.Member[:8] + " " + c.Address + "  ",
			"batches/s  sent ",
			"\nmember ",
			"\n" + c.Member[:8] + " ",
			"\n" + other.ID[:8] + " ",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("no %q in:\n%s", want, text)
			}
		}
	})

	b.proc.stop()
	a.waitView(t, "b gone from a's list", memberCount(1))
}
