package actors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// setShutdownTimeout replaces the shutdown_timeout of newServer's config
// (5s). Call it before Stop, from the goroutine that calls Stop or starts
// the goroutine that does.
func (ts *testServer) setShutdownTimeout(d time.Duration) {
	ts.cfg().Server.ShutdownTimeout = d
}

// stopAsync runs ts.Stop(ctx) in a goroutine and returns a channel closed
// when it has returned.
func (ts *testServer) stopAsync(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts.Stop(ctx)
	}()
	return done
}

func waitStopped(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(waitLong):
		t.Fatal("Stop did not return")
	}
}

// checkCleanedUp checks what a stopped server leaves behind: none of its
// sockets, none of the handler processes it started, no listener.
func checkCleanedUp(t *testing.T, ts *testServer, tcp net.Addr, handlers map[string]int) {
	t.Helper()
	files := []string{"informer.sock", "client.sock"}
	for name := range handlers {
		files = append(files, name+".sock")
	}
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(ts.dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Stop (%v)", f, err)
		}
	}
	for name, pid := range handlers {
		if pid == 0 {
			t.Fatalf("handler %s had no process", name)
		}
		if !processGone(pid) {
			t.Errorf("handler %s (pid %d) still runs after Stop", name, pid)
		}
	}
	if c, err := net.DialTimeout("tcp", tcp.String(), time.Second); err == nil {
		c.Close()
		t.Errorf("tcp listener %s still accepts after Stop", tcp)
	}
}

func TestShutdownLetsRequestsFinish(t *testing.T) {
	ts := startServer(t, timedHandler("h", "stream", "cbor", "5s")+handlerBlock("o", "oneshot", "json"))
	c := ts.dial("T", wire.CodecJSON)
	pids := map[string]int{"h": ts.handlerState("h").PID, "o": ts.handlerState("o").PID}
	tcp := ts.Addr("tcp")
	if err := c.Send("h", "slow", act("late", "ms", 800, "tag", "slow")); err != nil {
		t.Fatal(err)
	}
	ts.waitInFlight(t, "h", 1)
	done := ts.stopAsync(context.Background())

	var got struct {
		Tag string `json:"tag"`
	}
	expectDelivery(t, c, &got)
	if got.Tag != "slow" {
		t.Fatalf("delivery of %q", got.Tag)
	}
	wantGood(t, expectReport(t, c, "slow"))
	recvEnd(t, c)
	waitStopped(t, done)
	checkCleanedUp(t, ts, tcp, pids)
}

// A message that is never answered ends the drain at shutdown_timeout (or
// when the context ends), even with an idle recipient connected.
func TestShutdownTimeout(t *testing.T) {
	// stopBound is far beyond what the stop takes (300 ms of drain, then a
	// handler that exits on SIGTERM) and far below what it would take if
	// the drain waited for the idle recipient or the unanswered message.
	const stopBound = 5 * time.Second
	cases := []struct {
		name string
		stop func(ts *testServer) <-chan struct{}
	}{
		{"shutdown_timeout", func(ts *testServer) <-chan struct{} {
			ts.setShutdownTimeout(300 * time.Millisecond)
			return ts.stopAsync(context.Background())
		}},
		{"context", func(ts *testServer) <-chan struct{} {
			ts.setShutdownTimeout(time.Hour) // only the context can end the wait
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			done := ts.stopAsync(ctx)
			go func() { <-done; cancel() }()
			return done
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newServer(t, timedHandler("h", "stream", "cbor", "1m")+`
handler "absent" {
  socket  = "absent.sock"
  timeout = "1m"
}`)
			eventually(t, "h up", func() bool { return ts.handlerState("h").State == stateUp })
			c := ts.dial("T", wire.CodecCBOR)
			idle := ts.dial("G", wire.CodecCBOR)
			pids := map[string]int{"h": ts.handlerState("h").PID}
			tcp := ts.Addr("tcp")
			if err := c.Send("h", "held", act("never")); err != nil {
				t.Fatal(err)
			}
			if err := c.Send("absent", "queued", act("echo")); err != nil {
				t.Fatal(err)
			}
			ts.waitInFlight(t, "h", 1)
			ts.waitQueued(t, "absent", 1)
			began := time.Now()
			done := tc.stop(ts)
			collectReports(t, c, wire.CodeShuttingDown, "held", "queued")
			recvEnd(t, c)
			recvEnd(t, idle)
			waitStopped(t, done)
			if took := time.Since(began); took > stopBound {
				t.Fatalf("Stop took %s", took)
			}
			checkCleanedUp(t, ts, tcp, pids)
		})
	}
}

// receiveAll reads everything c receives until the server closes the
// connection (or waitLong passes, when it closes c itself) and sends it on
// the channel it returns. each, when not nil, sees every message as it
// comes.
func receiveAll(c *client.Client, each func(*client.Incoming)) <-chan []*client.Incoming {
	out := make(chan []*client.Incoming, 1)
	go func() {
		stop := time.AfterFunc(waitLong, func() { c.Close() })
		defer stop.Stop()
		var got []*client.Incoming
		for {
			in, err := c.Receive()
			if err != nil {
				out <- got
				return
			}
			got = append(got, in)
			if each != nil {
				each(in)
			}
		}
	}()
	return out
}

// wantGoodReports fails unless got is exactly one good report for each
// of ids, in any order, and nothing else.
func wantGoodReports(t *testing.T, who string, got []*client.Incoming, ids []string) {
	t.Helper()
	seen := make(map[string]bool, len(ids))
	for _, in := range got {
		if in.Report == nil {
			t.Fatalf("%s: want only reports, got %s %s", who, in.Kind, in.Raw)
		}
		id := in.Report.Payload.ID
		if seen[id] {
			t.Fatalf("%s: second report of %q", who, id)
		}
		seen[id] = true
		wantGood(t, in.Report)
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("%s: no report of %q (%d of %d reports)", who, id, len(seen), len(ids))
		}
	}
	if len(seen) != len(ids) {
		t.Fatalf("%s: %d reports for %d messages", who, len(seen), len(ids))
	}
}

// wantDeliveries fails unless got is exactly one delivery of each of
// bodies, in any order, and nothing else.
func wantDeliveries(t *testing.T, who string, got []*client.Incoming, bodies []string) {
	t.Helper()
	seen := make(map[string]bool, len(bodies))
	for _, in := range got {
		var body string
		if in.Kind != wire.MessageTypeReceived || in.Decode(&body) != nil {
			t.Fatalf("%s: want only deliveries of text, got %s %s", who, in.Kind, in.Raw)
		}
		if seen[body] {
			t.Fatalf("%s: %q delivered twice", who, body)
		}
		seen[body] = true
	}
	if len(seen) != len(bodies) {
		t.Fatalf("%s: %d of %d deliveries", who, len(seen), len(bodies))
	}
	for _, b := range bodies {
		if !seen[b] {
			t.Fatalf("%s: %q was not delivered", who, b)
		}
	}
}

// Messages in flight at the stop are delivered to recipients that have
// nothing of their own in flight: those stay connected until every
// connection's messages are done.
func TestShutdownDeliversToIdleRecipients(t *testing.T) {
	const pairs, perSender = 10, 100
	// The test handler answers 256 requests per connection at a time, so
	// the 1,000 take two or more rounds of a second: the timeouts leave
	// room for a loaded machine.
	ts := startServer(t, timedHandler("h", "stream", "cbor", "10s"))
	ts.setShutdownTimeout(10 * time.Second)
	var senders, recipients []*client.Client
	for i := range pairs {
		senders = append(senders, ts.dial(fmt.Sprintf("S%d", i), wire.CodecCBOR))
		recipients = append(recipients, ts.dial(fmt.Sprintf("R%d", i), wire.CodecCBOR))
	}
	var sent, received []<-chan []*client.Incoming
	ids := make([]string, perSender)
	for j := range ids {
		ids[j] = fmt.Sprintf("m-%d", j)
	}
	for i, s := range senders {
		sent, received = append(sent, receiveAll(s, nil)), append(received, receiveAll(recipients[i], nil))
		for _, id := range ids {
			if err := s.Queue("h", id, act("late", "ms", 1000, "to", fmt.Sprintf("R%d", i), "body", id)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	ts.waitInFlight(t, "h", pairs*perSender)
	waitStopped(t, ts.stopAsync(context.Background()))
	for i := range pairs {
		wantGoodReports(t, fmt.Sprintf("S%d", i), <-sent[i], ids)
		wantDeliveries(t, fmt.Sprintf("R%d", i), <-received[i], ids)
	}
}

// A client that sends a new message whenever one is reported is not read
// from once the server drains, so the drain ends without waiting for
// shutdown_timeout, and whatever was read is reported.
func TestShutdownStopsReading(t *testing.T) {
	ts := startServerWith(t, serverOptions{server: "max_in_flight = 1"}, handlerBlock("h", "stream", "cbor"))
	ts.setShutdownTimeout(time.Hour) // only a drain that stops reading ends in time
	c := ts.dial("T", wire.CodecCBOR)
	next := 0
	send := func() error {
		next++
		return c.Send("h", fmt.Sprintf("m-%d", next), act("late", "ms", 100))
	}
	for range 2 { // the second waits in the reader for the first's report
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	ts.waitInFlight(t, "h", 1)
	all := receiveAll(c, func(in *client.Incoming) { // a new message for every report
		if in.Report != nil {
			send()
		}
	})
	waitStopped(t, ts.stopAsync(context.Background()))
	var got []*client.Incoming // the reports; the echoes of the messages are not checked
	for _, in := range <-all {
		if in.Report != nil {
			got = append(got, in)
		}
	}
	read := make([]string, len(got))
	for i := range got {
		read[i] = fmt.Sprintf("m-%d", i+1)
	}
	if len(read) < 2 {
		t.Fatalf("%d reports: the messages read before the stop were not all reported", len(read))
	}
	wantGoodReports(t, "T", got, read)
}

// Stop ends TLS handshakes at once, both those that wait for their
// clients and one that waits for a handshake slot, however long
// auth_timeout and shutdown_timeout are, and leaves no goroutine behind.
func TestShutdownDuringTLSHandshakes(t *testing.T) {
	before := goleak.IgnoreCurrent()
	pki := newPKI(t, "test CA")
	ts := startServerWith(t, serverOptions{server: `auth_timeout = "10m"`}, pki.listener())
	ts.setShutdownTimeout(time.Hour)
	tcp := ts.Addr("tcp")

	stallHandshakesSettled(t, ts, 3)
	ts.holdHandshakeSlots() // never given back: the last handshake waits for a slot until Stop
	stallHandshakes(t, ts, 1)
	eventually(t, "a handshake waits for a slot", func() bool { return goroutinesIn(slotWait) == 1 })

	waitStopped(t, ts.stopAsync(context.Background()))
	checkCleanedUp(t, ts, tcp, nil)
	eventually(t, "every goroutine of the server has ended", func() bool { return goleak.Find(before) == nil })
}
