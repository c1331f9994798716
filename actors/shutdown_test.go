package actors

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
)

// setShutdownTimeout replaces the shutdown_timeout of newServer's config
// (5s). Call it before Stop, from the goroutine that calls Stop or starts
// the goroutine that does.
func (ts *testServer) setShutdownTimeout(d time.Duration) {
	ts.cfg.Server.ShutdownTimeout = d
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

func TestShutdownTimeout(t *testing.T) {
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
			done := tc.stop(ts)
			collectReports(t, c, wire.CodeShuttingDown, "held", "queued")
			recvEnd(t, c)
			waitStopped(t, done)
			checkCleanedUp(t, ts, tcp, pids)
		})
	}
}
