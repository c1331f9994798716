package actors

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// reload rewrites the server's configuration with extra (as newServerWith
// makes it) and reloads it, as SIGHUP does.
func (ts *testServer) reload(extra string) {
	ts.t.Helper()
	writeConfig(ts.t, ts.dir, ts.opts, extra)
	ts.Reload()
}

// waitUp waits until the named handler is up and returns its state.
func (ts *testServer) waitUp(t *testing.T, handler string) *LinkState {
	t.Helper()
	var st *LinkState
	eventually(t, handler+" up", func() bool {
		st = ts.handlerState(handler)
		return st.State == stateUp
	})
	return st
}

// A handler added by a reload answers; the one that did not change keeps
// its process; the client connected throughout keeps working.
func TestReloadHandlerAdded(t *testing.T) {
	h := handlerBlock("h", "stream", "cbor")
	ts := startServer(t, h)
	pid := ts.handlerState("h").PID
	c := ts.dial("T", wire.CodecJSON)
	wantBad(t, sendForReport(t, c, "h2", "before", act("echo")), wire.CodeUnknownType)

	ts.reload(h + handlerBlock("h2", "stream", "json"))
	ts.waitUp(t, "h2")
	echoWorks(t, c, "h2", "added")
	echoWorks(t, c, "h", "unchanged")
	if got := ts.handlerState("h").PID; got != pid {
		t.Fatalf("unchanged handler h was restarted: pid %d, was %d", got, pid)
	}

	// A reload with nothing new changes nothing.
	ts.reload(h + handlerBlock("h2", "stream", "json"))
	echoWorks(t, c, "h", "again")
	if got := ts.handlerState("h").PID; got != pid {
		t.Fatalf("handler h was restarted by an empty reload: pid %d, was %d", got, pid)
	}
}

// A removed handler's type is unknown at once; the messages it had in
// flight each get one report (the answer that came, or the timeout); its
// process ends and its socket goes.
func TestReloadHandlerRemoved(t *testing.T) {
	keep := handlerBlock("keep", "stream", "cbor")
	ts := startServer(t, keep+timedHandler("h", "stream", "cbor", "3s"))
	pid := ts.handlerState("h").PID
	c := ts.dial("T", wire.CodecCBOR)
	if err := c.Send("h", "late", act("late", "ms", 1000)); err != nil {
		t.Fatal(err)
	}
	if err := c.Send("h", "never", act("never")); err != nil {
		t.Fatal(err)
	}
	ts.waitInFlight(t, "h", 2)

	ts.reload(keep)
	if err := c.Send("h", "after", act("echo")); err != nil {
		t.Fatal(err)
	}
	// The late answer comes from the retiring link (its echo and its
	// report); the request never answered times out.
	reports, deliveries := readMessages(t, c, 4)
	if len(reports) != 3 || deliveries != 1 {
		t.Fatalf("reports %v and %d deliveries, want those of after, late and never and the late echo", reports, deliveries)
	}
	wantBad(t, reports["after"], wire.CodeUnknownType)
	wantGood(t, reports["late"])
	wantBad(t, reports["never"], wire.CodeHandlerTimeout)
	eventually(t, "the removed handler's process gone", func() bool { return processGone(pid) })
	eventually(t, "the removed handler's socket removed", func() bool {
		_, err := os.Stat(filepath.Join(ts.dir, "h.sock"))
		return os.IsNotExist(err)
	})
	// No second report of anything: the next message's report is next.
	echoWorks(t, c, "keep", "still-connected")
	for _, st := range ts.HandlerStates() {
		if st.Name == "h" {
			t.Fatalf("removed handler still listed: %+v", st)
		}
	}
}

// A changed handler's new process answers once the reload has switched
// the type to it, while the old one finishes what it had in flight and
// then ends. The new process listens beside the old one's socket, and a
// second change moves it back.
func TestReloadHandlerChanged(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor"))
	oldPID := ts.handlerState("h").PID
	c := ts.dial("T", wire.CodecCBOR)
	if err := c.Send("h", "late", act("late", "ms", 300)); err != nil {
		t.Fatal(err)
	}
	ts.waitInFlight(t, "h", 1)

	// The new command answers every request with an echo, even one that
	// asks to fail.
	ts.reload(`
handler "h" {
  socket  = "h.sock"
  command = ["/usr/bin/env", "TESTHANDLER_ACT=echo", "$TESTHANDLER"]
  timeout = "2s"
}
`)
	expectDelivery(t, c, nil)
	wantGood(t, expectReport(t, c, "late"))
	st := ts.waitUp(t, "h")
	if st.PID == oldPID {
		t.Fatalf("changed handler kept its process %d", oldPID)
	}
	if err := c.Send("h", "new", act("fail")); err != nil {
		t.Fatal(err)
	}
	expectDelivery(t, c, nil)
	wantGood(t, expectReport(t, c, "new"))
	eventually(t, "the old process gone", func() bool { return processGone(oldPID) })
	// Its link removes h.sock and leaves the link set a moment later; a
	// reload before that would find h.sock still in use.
	eventually(t, "the old link gone", func() bool { return len(ts.links.all()) == 1 })
	if _, err := os.Stat(filepath.Join(ts.dir, "h.sock~")); err != nil {
		t.Fatalf("the new process does not listen beside the old socket: %v", err)
	}

	// Back to the first command: it listens on h.sock again.
	ts.reload(handlerBlock("h", "stream", "cbor"))
	echoPID := st.PID
	eventually(t, "the first command back", func() bool {
		st := ts.handlerState("h")
		return st.State == stateUp && st.PID != echoPID
	})
	wantBad(t, sendForReport(t, c, "h", "fails-again", act("fail")), wire.CodeHandlerError)
	if _, err := os.Stat(filepath.Join(ts.dir, "h.sock")); err != nil {
		t.Fatalf("h.sock: %v", err)
	}
	eventually(t, "the echoing process's socket removed", func() bool {
		_, err := os.Stat(filepath.Join(ts.dir, "h.sock~"))
		return os.IsNotExist(err)
	})
}

// A reload that fixes a handler whose command keeps failing hands the
// messages waiting for it to the new link, which answers them.
func TestReloadHandlerFixedTakesQueue(t *testing.T) {
	ts := newServer(t, `
handler "h" {
  socket  = "h.sock"
  command = ["/bin/false"]
  timeout = "1m"
  restart {
    backoff_min = "1m"
    backoff_max = "1m"
  }
}
`)
	c := ts.dial("T", wire.CodecCBOR)
	for _, id := range []string{"q1", "q2"} {
		if err := c.Send("h", id, act("echo", "tag", id)); err != nil {
			t.Fatal(err)
		}
	}
	ts.waitQueued(t, "h", 2)

	ts.reload(handlerBlock("h", "stream", "cbor"))
	collectEchoes(t, c, "q1", "q2")
	echoWorks(t, c, "h", "fixed")
}

// A handler removed while a message is in flight, and added again: the
// new process answers while the old one still waits. A server that stops
// then stops the retiring link too: its message gets shutting_down, once,
// and its process ends.
func TestReloadReaddedThenStop(t *testing.T) {
	keep := handlerBlock("keep", "stream", "cbor")
	ts := startServer(t, keep+timedHandler("h", "stream", "cbor", "1m"))
	pid := ts.handlerState("h").PID
	c := ts.dial("T", wire.CodecCBOR)
	if err := c.Send("h", "never", act("never")); err != nil {
		t.Fatal(err)
	}
	ts.waitInFlight(t, "h", 1)
	ts.reload(keep)
	wantBad(t, sendForReport(t, c, "h", "after", act("echo")), wire.CodeUnknownType)
	// Added again while the old process still holds h.sock: the new one
	// listens beside it.
	ts.reload(keep + timedHandler("h", "stream", "cbor", "1m"))
	echoWorks(t, c, "h", "again")
	if _, err := os.Stat(filepath.Join(ts.dir, "h.sock~")); err != nil {
		t.Fatalf("the new process does not listen beside the old socket: %v", err)
	}

	ts.Stop(context.Background())
	wantBad(t, expectReport(t, c, "never"), wire.CodeShuttingDown)
	recvEnd(t, c)
	if !processGone(pid) {
		t.Fatalf("the retiring handler's process %d outlived the server", pid)
	}
}

// collectEchoes reads, in any order, the echo and the good report of each
// of ids (sent with act echo and their id as tag), and fails on anything
// else and on a second report of an id.
func collectEchoes(t *testing.T, c *client.Client, ids ...string) {
	t.Helper()
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	echoed, reported := map[string]bool{}, map[string]bool{}
	for range 2 * len(ids) {
		in := recv(t, c)
		switch {
		case in.Report != nil:
			id := in.Report.Payload.ID
			wantGood(t, in.Report)
			if !want[id] || reported[id] {
				t.Fatalf("unexpected or second report of %q", id)
			}
			reported[id] = true
		case in.Kind == wire.MessageTypeReceived:
			var got struct {
				Tag string `cbor:"tag" json:"tag"`
			}
			if err := in.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if !want[got.Tag] || echoed[got.Tag] {
				t.Fatalf("unexpected or second echo of %q", got.Tag)
			}
			echoed[got.Tag] = true
		default:
			t.Fatalf("unexpected %s", in.Raw)
		}
	}
}

// Messages keep flowing while a handler is changed twice: each one is
// answered once, by the old process or the new one.
func TestReloadHandlerChangedUnderLoad(t *testing.T) {
	first := timedHandler("h", "stream", "cbor", "20s")
	second := timedHandler("h", "stream", "json", "20s")
	ts := startServer(t, first)
	c := ts.dial("T", wire.CodecCBOR)
	var ids []string
	send := func(n int, name string, kv ...any) {
		for range n {
			id := fmt.Sprint("m-", len(ids))
			if err := c.Send("h", id, act(name, append([]any{"tag", id}, kv...)...)); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	// The first process holds these for a moment: they are in flight at
	// the reload. The second one is still starting at the next reload:
	// its queue goes to the third.
	send(50, "late", "ms", 1000)
	eventually(t, "messages in flight", func() bool { return ts.handlerState("h").InFlight > 0 })
	ts.reload(second)
	send(50, "echo")
	ts.reload(first)
	send(50, "echo")
	collectEchoes(t, c, ids...)
	ts.waitUp(t, "h")
	echoWorks(t, c, "h", "after")
}

// A configuration file with an error changes no handler.
func TestReloadBadConfigChangesNothing(t *testing.T) {
	h := handlerBlock("h", "stream", "cbor")
	ts := startServer(t, h)
	pid := ts.handlerState("h").PID
	c := ts.dial("T", wire.CodecCBOR)
	ts.reload(handlerBlock("h2", "stream", "cbor") + "handler {\n")
	echoWorks(t, c, "h", "kept")
	if st := ts.handlerState("h"); st.PID != pid {
		t.Fatalf("handler h restarted: %+v", st)
	}
	if states := ts.HandlerStates(); len(states) != 1 {
		t.Fatalf("handlers %+v", states)
	}
}

// readMessages reads n messages from c, in any order, and returns the
// reports by id and how many deliveries came; a second report of an id
// fails the test.
func readMessages(t *testing.T, c *client.Client, n int) (map[string]*wire.StatusReport, int) {
	t.Helper()
	reports, deliveries := map[string]*wire.StatusReport{}, 0
	for range n {
		in := recv(t, c)
		switch {
		case in.Report != nil:
			id := in.Report.Payload.ID
			if reports[id] != nil {
				t.Fatalf("second report of %q", id)
			}
			reports[id] = in.Report
		case in.Kind == wire.MessageTypeReceived:
			deliveries++
		default:
			t.Fatalf("unexpected %s", in.Raw)
		}
	}
	return reports, deliveries
}

// freeSocket keeps a handler's own socket unless a process still listens
// there, and never makes a path longer than a UNIX socket's.
func TestFreeSocket(t *testing.T) {
	long := "/" + strings.Repeat("x", config.MaxSocketPath-1)
	cases := []struct {
		name    string
		command []string
		socket  string
		inUse   []string
		want    string
	}{
		{"free", []string{"h"}, "/run/h.sock", nil, "/run/h.sock"},
		{"taken", []string{"h"}, "/run/h.sock", []string{"/run/h.sock"}, "/run/h.sock~"},
		{"both taken", []string{"h"}, "/run/h.sock", []string{"/run/h.sock", "/run/h.sock~"}, "/run/h.sock~~"},
		{"no command", nil, "/run/h.sock", []string{"/run/h.sock"}, "/run/h.sock"},
		{"longest", []string{"h"}, long, []string{long}, long[:len(long)-1] + "~"},
		{"longest, taken twice", []string{"h"}, long, []string{long, long[:len(long)-1] + "~"}, long[:len(long)-1] + "_"},
	}
	for _, c := range cases {
		inUse := map[string]bool{}
		for _, p := range c.inUse {
			inUse[p] = true
		}
		got := freeSocket(config.Handler{Command: c.command, Socket: c.socket}, inUse)
		if got != c.want || len(got) > config.MaxSocketPath {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
