package actors

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// fastRestart makes a handler come back quickly after it dies, so that the
// tests waiting for a restart do not wait for the default backoff.
const fastRestart = `
  restart {
    backoff_min = "10ms"
    backoff_max = "100ms"
  }`

// timedHandler is handlerBlock with its own timeout.
func timedHandler(name, mode, codec, timeout string, extra ...string) string {
	return fmt.Sprintf(`
handler %q {
  socket  = "%s.sock"
  command = ["$TESTHANDLER"]
  mode    = %q
  codec   = %q
  timeout = %q
%s
}
`, name, name, mode, codec, timeout, strings.Join(extra, "\n"))
}

// act is the data that makes the test handler behave as name; kv adds
// fields (name, value, name, value...).
func act(name string, kv ...any) map[string]any {
	m := map[string]any{"act": name}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// waitInFlight waits until the server has sent n requests to the handler
// that are not answered yet.
func (ts *testServer) waitInFlight(t *testing.T, handler string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d requests in flight on %s", n, handler), func() bool {
		return ts.handlerState(handler).InFlight == n
	})
}

// waitQueued waits until n requests wait in the handler's queue.
func (ts *testServer) waitQueued(t *testing.T, handler string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d requests queued on %s", n, handler), func() bool {
		return ts.handlerState(handler).Queued == n
	})
}

// echoWorks checks that a stream handler running the test handler answers
// again: an echo comes back to c with its tag, then a good report.
func echoWorks(t *testing.T, c *client.Client, handler, id string) {
	t.Helper()
	if err := c.Send(handler, id, act("echo", "tag", id)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tag string `cbor:"tag" json:"tag"`
	}
	expectDelivery(t, c, &got)
	if got.Tag != id {
		t.Fatalf("echo of %q came back as %q", id, got.Tag)
	}
	wantGood(t, expectReport(t, c, id))
}

// relayWorks is echoWorks for oneshot handlers, which do not learn who sent
// a request: the data names c's user as the recipient.
func relayWorks(t *testing.T, c *client.Client, user, handler, id string) {
	t.Helper()
	if err := c.Send(handler, id, act("relay", "to", user, "body", id)); err != nil {
		t.Fatal(err)
	}
	var got string
	expectDelivery(t, c, &got)
	if got != id {
		t.Fatalf("relay of %q came back as %q", id, got)
	}
	wantGood(t, expectReport(t, c, id))
}

// collectReports reads the reports of ids, in any order, and fails on
// anything else, on a second report for an id and on a report that is not
// bad with code (or not good, when code is empty).
func collectReports(t *testing.T, c *client.Client, code wire.ErrorCode, ids ...string) {
	t.Helper()
	seen := map[string]bool{}
	for range ids {
		in := recv(t, c)
		if in.Report == nil {
			t.Fatalf("want reports of %v, got %s %s", ids, in.Kind, in.Raw)
		}
		id := in.Report.Payload.ID
		if !slices.Contains(ids, id) {
			t.Fatalf("unexpected report of %q", id)
		}
		if seen[id] {
			t.Fatalf("second report of %q", id)
		}
		seen[id] = true
		if code == "" {
			wantGood(t, in.Report)
		} else {
			wantBad(t, in.Report, code)
		}
	}
}

// processGone reports whether the process with the given id has ended: it
// is gone, or a zombie that an init which does not reap (as in some
// containers) leaves behind.
func processGone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}
	// The state follows the command name, which is in parentheses.
	end := bytes.LastIndexByte(stat, ')')
	return end >= 0 && end+2 < len(stat) && stat[end+2] == 'Z'
}

func TestHandlerAnswersGarbage(t *testing.T) {
	ts := startServer(t,
		handlerBlock("s", "stream", "cbor", "connections = 1")+
			handlerBlock("j", "stream", "json", "connections = 1")+
			handlerBlock("o", "oneshot", "cbor", "connections = 1"))
	c := ts.dial("T", wire.CodecJSON)
	for _, h := range []string{"s", "j", "o"} {
		for _, junk := range []string{"", "invalid"} { // a list in the codec; bytes of no codec
			id := h + "-garbage-" + junk
			wantBad(t, sendForReport(t, c, h, id, act("garbage", "junk", junk)), wire.CodeHandlerError)
			// With one connection, the next message needs a new one.
			if h == "o" {
				relayWorks(t, c, "T", h, id+"-after")
			} else {
				echoWorks(t, c, h, id+"-after")
			}
		}
	}
}

// An answer whose frame is whole and whose id can be read, but which does
// not decode (here: text that is not UTF-8), fails only its own request:
// another one in flight on the same connection is carried out.
func TestHandlerAnswerWithBadTextFailsOnlyItsRequest(t *testing.T) {
	for _, codec := range []string{"cbor", "json"} {
		t.Run(codec, func(t *testing.T) {
			ts := startServer(t, handlerBlock("h", "stream", codec, "connections = 1"))
			c := ts.dial("T", wire.CodecJSON)
			if err := c.Send("h", "slow", act("late", "ms", 300)); err != nil {
				t.Fatal(err)
			}
			ts.waitInFlight(t, "h", 1)
			r := sendForReport(t, c, "h", "bad", act("garbage", "junk", "text"))
			wantBad(t, r, wire.CodeHandlerError)
			if !strings.Contains(r.Header.Detail, "does not decode") {
				t.Errorf("want the reason in the detail, got %q", r.Header.Detail)
			}
			expectDelivery(t, c, nil) // the slow one's echo, on the same connection
			wantGood(t, expectReport(t, c, "slow"))
		})
	}
}

func TestHandlerAnswersLate(t *testing.T) {
	// One connection, so that the late answer comes back on the same one
	// as the next answer, and before it. Each answer is at least 500 ms
	// away from the timeout that decides its fate.
	ts := startServer(t, timedHandler("h", "stream", "cbor", "1500ms", "connections = 1"))
	c := ts.dial("T", wire.CodecJSON)
	wantBad(t, sendForReport(t, c, "h", "slow", act("late", "ms", 2200, "tag", "slow")), wire.CodeHandlerTimeout)
	// The slow answer arrives while this one is under way: the next thing
	// the client gets must be this one's echo and report, not the slow one.
	if err := c.Send("h", "next", act("late", "ms", 1000, "tag", "next")); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tag string `json:"tag"`
	}
	expectDelivery(t, c, &got)
	if got.Tag != "next" {
		t.Fatalf("got the echo of %q after its timeout", got.Tag)
	}
	wantGood(t, expectReport(t, c, "next"))
	echoWorks(t, c, "h", "after")
}

// A request times out at its deadline, not at the link's next sweep tick
// (every 200 ms here): answers 150 ms late are all too late. The requests
// go out 25 ms apart, so that on a tick alone one of them would wait
// 175 ms or more for its timeout and its answer would still count.
func TestHandlerTimeoutOnTime(t *testing.T) {
	ts := startServer(t, timedHandler("h", "stream", "cbor", "1600ms"))
	c := ts.dial("T", wire.CodecJSON)
	var ids []string
	for i := range 8 {
		id := fmt.Sprint("late-", i)
		ids = append(ids, id)
		if err := c.Send("h", id, act("late", "ms", 1750, "tag", id)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	collectReports(t, c, wire.CodeHandlerTimeout, ids...)
	echoWorks(t, c, "h", "after") // and no late echo came before it
}

func TestHandlerNeverAnswers(t *testing.T) {
	ts := startServer(t,
		timedHandler("s", "stream", "cbor", "300ms")+
			timedHandler("o", "oneshot", "json", "300ms"))
	c := ts.dial("T", wire.CodecCBOR)
	r := sendForReport(t, c, "s", "s-never", act("never"))
	wantBad(t, r, wire.CodeHandlerTimeout)
	wantBad(t, sendForReport(t, c, "o", "o-never", act("never")), wire.CodeHandlerTimeout)
	if st := ts.handlerState("s"); st.InFlight != 0 {
		t.Fatalf("%d requests still in flight after their timeout", st.InFlight)
	}
	echoWorks(t, c, "s", "s-after")
	relayWorks(t, c, "T", "o", "o-after")
}

func TestHandlerClosesMidResponse(t *testing.T) {
	ts := startServer(t,
		handlerBlock("s", "stream", "cbor", "connections = 1")+
			handlerBlock("o", "oneshot", "json", "connections = 1"))
	c := ts.dial("T", wire.CodecJSON)
	for i := range 2 {
		wantBad(t, sendForReport(t, c, "s", fmt.Sprint("s-close-", i), act("close")), wire.CodeHandlerCrashed)
		echoWorks(t, c, "s", fmt.Sprint("s-after-", i))
		wantBad(t, sendForReport(t, c, "o", fmt.Sprint("o-close-", i), act("close")), wire.CodeHandlerCrashed)
		relayWorks(t, c, "T", "o", fmt.Sprint("o-after-", i))
	}
	if st := ts.handlerState("s"); st.Restarts != 0 {
		t.Fatalf("a closed connection restarted the handler (%d restarts)", st.Restarts)
	}
}

func TestHandlerCrashesWithRequestsInFlight(t *testing.T) {
	ts := startServer(t, timedHandler("h", "stream", "cbor", "20s", fastRestart))
	c := ts.dial("T", wire.CodecJSON)
	first := ts.handlerState("h").PID
	ids := []string{"never-1", "never-2", "never-3", "late-1"}
	for _, id := range ids[:3] {
		if err := c.Send("h", id, act("never")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Send("h", "late-1", act("late", "ms", 60000)); err != nil {
		t.Fatal(err)
	}
	ts.waitInFlight(t, "h", len(ids))
	if err := c.Send("h", "crash", act("crash")); err != nil {
		t.Fatal(err)
	}
	collectReports(t, c, wire.CodeHandlerCrashed, append(ids, "crash")...)

	eventually(t, "handler restarted", func() bool {
		st := ts.handlerState("h")
		return st.State == stateUp && st.Restarts >= 1 && st.PID != first && st.PID != 0
	})
	if !processGone(first) {
		t.Fatalf("crashed handler %d still exists", first)
	}
	echoWorks(t, c, "h", "after")
	if st := ts.handlerState("h"); st.InFlight != 0 {
		t.Fatalf("%d requests in flight after the restart", st.InFlight)
	}
}

func TestHandlerKilledFromOutside(t *testing.T) {
	for _, mode := range []string{"stream", "oneshot"} {
		t.Run(mode, func(t *testing.T) {
			ts := startServer(t, timedHandler("h", mode, "cbor", "20s", fastRestart))
			c := ts.dial("T", wire.CodecCBOR)
			pid := ts.handlerState("h").PID
			ids := []string{"n1", "n2", "n3"}
			for _, id := range ids {
				if err := c.Send("h", id, act("never")); err != nil {
					t.Fatal(err)
				}
			}
			ts.waitInFlight(t, "h", len(ids))
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			collectReports(t, c, wire.CodeHandlerCrashed, ids...)
			eventually(t, "handler restarted", func() bool {
				st := ts.handlerState("h")
				return st.State == stateUp && st.Restarts == 1 && st.PID != pid
			})
			relayWorks(t, c, "T", "h", "after")
		})
	}
}

// A handler started through a wrapper goes down with it: when the wrapper
// dies, the server kills the rest of its process group. Otherwise the
// program the wrapper started would live on unsupervised, holding its
// exchange open and, with one connection, every later message behind it.
func TestWrappedHandlerEndsWithItsWrapper(t *testing.T) {
	ts := startServer(t, `
handler "h" {
  socket      = "h.sock"
  command     = ["/bin/sh", "-c", "$TESTHANDLER >/dev/null 2>&1 & echo $! >child.pid; wait"]
  mode        = "oneshot"
  codec       = "cbor"
  connections = 1
  timeout     = "10s"
`+fastRestart+`
}`)
	c := ts.dial("T", wire.CodecJSON)
	wrapper := ts.handlerState("h").PID
	// The wrapper leads the process group of the handler it started.
	t.Cleanup(func() { syscall.Kill(-wrapper, syscall.SIGKILL) })
	// The shell writes child.pid after it started the handler, which may
	// be up first.
	var child int
	eventually(t, "child.pid written", func() bool {
		pidText, err := os.ReadFile(filepath.Join(filepath.Dir(ts.cfgPath), "child.pid"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		child, err = strconv.Atoi(strings.TrimSpace(string(pidText)))
		return err == nil
	})

	if err := c.Send("h", "held", act("never")); err != nil {
		t.Fatal(err)
	}
	ts.waitInFlight(t, "h", 1)
	if err := syscall.Kill(wrapper, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wantBad(t, expectReport(t, c, "held"), wire.CodeHandlerCrashed)
	eventually(t, "the wrapped handler killed", func() bool { return processGone(child) })
	eventually(t, "handler restarted", func() bool {
		st := ts.handlerState("h")
		return st.State == stateUp && st.Restarts == 1 && st.PID != wrapper
	})
	// The old exchange ended with its program, so its slot is free.
	relayWorks(t, c, "T", "h", "after")
}

// unread returns how many bytes wait unread on conn, without reading them.
func unread(t *testing.T, conn net.Conn) int {
	t.Helper()
	raw, err := conn.(*net.UnixConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = raw.Control(func(fd uintptr) {
		buf := make([]byte, 64)
		n, _, _ = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// acceptOne accepts a connection on ln within waitLong.
func acceptOne(t *testing.T, ln *net.UnixListener) net.Conn {
	t.Helper()
	ln.SetDeadline(time.Now().Add(waitLong))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// A handler that closes its connection without reading what the server
// wrote is a lost connection (handler_crashed), not a garbled answer.
func TestHandlerClosesWithUnreadRequest(t *testing.T) {
	for _, mode := range []string{"stream", "oneshot"} {
		t.Run(mode, func(t *testing.T) {
			ts := newServer(t, `
handler "ext" {
  socket      = "ext.sock"
  mode        = "`+mode+`"
  connections = 1
  timeout     = "20s"
`+fastRestart+`
}`)
			ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(ts.dir, "ext.sock"), Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			first := acceptOne(t, ln) // stream: the connection; oneshot: the check that the socket accepts
			defer first.Close()
			eventually(t, "handler up", func() bool { return ts.handlerState("ext").State == stateUp })
			c := ts.dial("T", wire.CodecCBOR)
			if err := c.Send("ext", "m-1", act("echo")); err != nil {
				t.Fatal(err)
			}
			conn := first
			if mode == "oneshot" {
				conn = acceptOne(t, ln)
				defer conn.Close()
			}
			eventually(t, "request written", func() bool { return unread(t, conn) > 0 })
			conn.Close()
			wantBad(t, expectReport(t, c, "m-1"), wire.CodeHandlerCrashed)
		})
	}
}

func TestHandlerRestartLimit(t *testing.T) {
	limit := `
  timeout = "1s"
  restart {
    backoff_min  = "10ms"
    backoff_max  = "100ms"
    max_restarts = 2
    window       = "1m"
    retry_after  = "1h"
  }`
	// flaky exits at once its first three times, then runs the test handler.
	ts := newServer(t, `
handler "dead" {
  socket  = "dead.sock"
  command = ["/bin/sh", "-c", "exit 1"]
`+limit+`
}
handler "flaky" {
  socket  = "flaky.sock"
  command = ["/bin/sh", "-c", "n=$(cat $COUNT 2>/dev/null || echo 0); n=$((n+1)); echo $n > $COUNT; if [ $n -le 3 ]; then exit 1; fi; exec $TH"]
  env     = { COUNT = "$DIR/flaky.count", TH = "$TESTHANDLER" }
`+limit+`
}
`+handlerBlock("live", "stream", "cbor"))
	for _, h := range []string{"dead", "flaky"} {
		eventually(t, h+" failed", func() bool { return ts.handlerState(h).State == stateFailed })
		if st := ts.handlerState(h); st.Restarts != 3 {
			t.Fatalf("%s: %d restarts before failing, want 3 (max_restarts 2)", h, st.Restarts)
		}
	}
	c := ts.dial("T", wire.CodecJSON)
	wantBad(t, sendForReport(t, c, "dead", "d-1", act("echo")), wire.CodeHandlerUnavailable)
	wantBad(t, sendForReport(t, c, "flaky", "f-1", act("echo")), wire.CodeHandlerUnavailable)
	echoWorks(t, c, "live", "live-1")

	ts.Reload()
	eventually(t, "flaky retried and up", func() bool { return ts.handlerState("flaky").State == stateUp })
	echoWorks(t, c, "flaky", "f-2")
	eventually(t, "dead retried, failed again", func() bool {
		st := ts.handlerState("dead")
		return st.State == stateFailed && st.Restarts == 6
	})
	wantBad(t, sendForReport(t, c, "dead", "d-2", act("echo")), wire.CodeHandlerUnavailable)
}

// startExternalHandler runs the test handler on socket as something other
// than the server would, and stops it when the test ends.
func startExternalHandler(t *testing.T, socket, name, mode, codec string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bins.testhandler)
	cmd.Env = append(os.Environ(), wire.EnvSocket+"="+socket, wire.EnvType+"="+name,
		wire.EnvMode+"="+mode, wire.EnvCodec+"="+codec)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	return cmd
}

func TestExternalHandlerAbsent(t *testing.T) {
	ts := newServer(t, `
handler "ext" {
  socket  = "ext.sock"
  timeout = "500ms"
`+fastRestart+`
}
`+handlerBlock("live", "stream", "json"))
	eventually(t, "live up", func() bool { return ts.handlerState("live").State == stateUp })
	if st := ts.handlerState("ext"); st.State != stateConnecting {
		t.Fatalf("absent handler is %q, want %q", st.State, stateConnecting)
	}
	c := ts.dial("T", wire.CodecCBOR)
	wantBad(t, sendForReport(t, c, "ext", "e-1", act("echo")), wire.CodeHandlerUnavailable)
	echoWorks(t, c, "live", "live-1")

	startExternalHandler(t, filepath.Join(ts.dir, "ext.sock"), "ext", "stream", "cbor")
	eventually(t, "ext up", func() bool { return ts.handlerState("ext").State == stateUp })
	echoWorks(t, c, "ext", "e-2")
	if st := ts.handlerState("ext"); st.PID != 0 || st.Restarts != 0 {
		t.Fatalf("external handler state %+v", st)
	}
}

func TestHandlerOverloaded(t *testing.T) {
	t.Run("queue full", func(t *testing.T) {
		ts := newServer(t, `
handler "ext" {
  socket  = "ext.sock"
  queue   = 1
  timeout = "1s"
}`)
		c := ts.dial("T", wire.CodecJSON)
		if err := c.Send("ext", "q-1", act("echo")); err != nil {
			t.Fatal(err)
		}
		ts.waitQueued(t, "ext", 1)
		wantBad(t, sendForReport(t, c, "ext", "q-2", act("echo")), wire.CodeOverloaded)
		wantBad(t, expectReport(t, c, "q-1"), wire.CodeHandlerUnavailable)
	})
	t.Run("max_in_flight", func(t *testing.T) {
		ts := startServer(t, timedHandler("h", "stream", "cbor", "1s", "max_in_flight = 1"))
		c := ts.dial("T", wire.CodecJSON)
		if err := c.Send("h", "m-1", act("never")); err != nil {
			t.Fatal(err)
		}
		ts.waitInFlight(t, "h", 1)
		wantBad(t, sendForReport(t, c, "h", "m-2", act("echo")), wire.CodeOverloaded)
		wantBad(t, expectReport(t, c, "m-1"), wire.CodeHandlerTimeout)
		echoWorks(t, c, "h", "m-3")
	})
}

func TestHandlerFailStatus(t *testing.T) {
	ts := startServer(t, handlerBlock("s", "stream", "cbor")+handlerBlock("o", "oneshot", "json"))
	c := ts.dial("T", wire.CodecJSON)
	for _, h := range []string{"s", "o"} {
		r := sendForReport(t, c, h, h+"-1", act("fail"))
		wantBad(t, r, wire.CodeHandlerError)
		if !strings.Contains(r.Header.Detail, "fail requested") { // the handler's own words reach the sender
			t.Fatalf("detail %q does not quote the handler's data", r.Header.Detail)
		}
	}
	echoWorks(t, c, "s", "s-2")
}

func TestSendHandler(t *testing.T) {
	ts := startServer(t, handlerBlock("a", "stream", "cbor")+handlerBlock("b", "stream", "json"))
	c := ts.dial("T", wire.CodecJSON)

	if err := c.Send("a", "fwd", act("forward", "next", "b", "then", "echo", "tag", "fwd")); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Act string `json:"act"`
		Tag string `json:"tag"`
	}
	in := expectDelivery(t, c, &got)
	if got.Act != "echo" || got.Tag != "fwd" {
		t.Fatalf("forwarded data arrived as %+v", got)
	}
	if in.From != (wire.Address{Server: "J", User: "T"}) {
		t.Fatalf("forwarded delivery from %+v", in.From)
	}
	wantGood(t, expectReport(t, c, "fwd"))

	wantBad(t, sendForReport(t, c, "a", "loop", act("forward", "next", "a", "then", "forward")), wire.CodeLoop)
	wantBad(t, sendForReport(t, c, "a", "ping-pong", act("forward", "next", "b", "then", "forward")), wire.CodeLoop)
	wantBad(t, sendForReport(t, c, "a", "nowhere", act("forward", "next", "nosuch")), wire.CodeUnknownType)
	echoWorks(t, c, "a", "after")
}

func TestSendServersWithoutPeers(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor"))
	c := ts.dial("T", wire.CodecJSON)
	wantBad(t, sendForReport(t, c, "h", "s-1", act("servers", "peers", []string{"K"}, "to", "G")), wire.CodePeerUnavailable)
	echoWorks(t, c, "h", "after")
}

func TestByteStringToJSONClient(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor"))
	j := ts.dial("T", wire.CodecJSON)
	r := sendForReport(t, j, "h", "b-1", act("bytes"))
	wantBad(t, r, wire.CodeUndelivered)
	if !slices.Equal(r.Payload.Undelivered, []string{"T"}) {
		t.Fatalf("undelivered %v, want [T]", r.Payload.Undelivered)
	}
	// Nothing was delivered to the JSON client: the next thing it gets is
	// the answer to its next message.
	if err := j.Send(wire.TypeDummy, "ping", nil); err != nil {
		t.Fatal(err)
	}
	if in := recv(t, j); in.Kind != client.KindDummy || in.ID != "ping" {
		t.Fatalf("want the dummy reply, got %s %s", in.Kind, in.Raw)
	}

	g := ts.dial("G", wire.CodecCBOR)
	if err := g.Send("h", "b-2", act("bytes")); err != nil {
		t.Fatal(err)
	}
	var b []byte
	expectDelivery(t, g, &b)
	if !slices.Equal(b, []byte{0xde, 0xad, 0xbe, 0xef}) {
		t.Fatalf("CBOR client got % x", b)
	}
	wantGood(t, expectReport(t, g, "b-2"))
}
