package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bester-project/bester/internal/statusview"
	"github.com/bester-project/bester/loadgen"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// relayLoad has T, connected to the plain listener at from, relay
// messages to G, connected to the one at to, one at a time, until the
// test ends; G reads its deliveries. It returns once the first message
// was relayed, so the handler is up.
func relayLoad(t *testing.T, from, to string) {
	t.Helper()
	dial := func(addr, user string) *client.Client {
		c, err := client.Dial(context.Background(), client.Options{Address: addr, Username: user, Timeout: testTimeout})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	g, tc := dial(to, "G"), dial(from, "T")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); tc.Close(); g.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			if _, err := g.Receive(); err != nil {
				return
			}
		}
	})
	first := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := tc.Send("relay", fmt.Sprint(i), map[string]any{"to": "G", "body": "load"}); err != nil {
				return
			}
			if in, err := tc.Receive(); err != nil {
				return
			} else if i == 0 && (in.Report == nil || in.Report.Header.Status != wire.StatusGood) {
				t.Errorf("first relay: %s", in.Raw)
			}
			if i == 0 {
				close(first)
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	select {
	case <-first:
	case <-time.After(testTimeout):
		t.Fatal("no relay report in time")
	}
}

// statusArgs are the arguments of `bester status` against s's monitor.
func (s *tlsServer) statusArgs(more ...string) []string {
	return append([]string{"bester", "status", "-monitor", s.monitor, "-ca", s.file("ca.crt"), "-interval", "300ms"}, more...)
}

// checkView checks a view of a loaded s: rates, connections, the relay
// handler up and answering, T among the top senders.
func checkView(t *testing.T, v *statusview.View) {
	t.Helper()
	if v.Server != "J" || v.Interval <= 0 || v.MessagesIn <= 0 || v.MessagesOut <= 0 || v.Reports["good"] <= 0 {
		t.Errorf("rates: %+v", v)
	}
	open := map[string]int{}
	for _, l := range v.Connections {
		open[l.Listener] = l.Open
	}
	if open["plain"] < 2 {
		t.Errorf("connections: %+v", v.Connections)
	}
	if len(v.Handlers) != 1 || v.Handlers[0].Name != "relay" || v.Handlers[0].State != "up" || v.Handlers[0].P99 == nil {
		t.Errorf("handlers: %+v", v.Handlers)
	}
	if len(v.TopSenders) == 0 || v.TopSenders[0].User != "T" || v.TopSenders[0].Rate <= 0 {
		t.Errorf("top senders: %+v", v.TopSenders)
	}
}

// TestStatus runs `bester status` against a real besterd under a little
// load, over HTTPS: -json -once, -json for two intervals, plain lines to
// a pipe, and a monitor that is not there.
func TestStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts servers")
	}
	s := startTLSServer(t)
	relayLoad(t, s.plain, s.plain)

	t.Run("json once", func(t *testing.T) {
		e, out, errs := testEnv("")
		if code := run(context.Background(), s.statusArgs("-json", "-once"), e); code != 0 {
			t.Fatalf("status %d, stderr %q", code, errs)
		}
		var v statusview.View
		if err := json.Unmarshal([]byte(out.String()), &v); err != nil {
			t.Fatalf("%v in %q", err, out)
		}
		checkView(t, &v)
		if strings.Contains(out.String(), `"cluster"`) {
			t.Errorf("a cluster part for a server that is no member: %s", out)
		}
	})

	t.Run("json intervals", func(t *testing.T) {
		e, out, errs := testEnv("")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int)
		go func() { done <- run(ctx, s.statusArgs("-json"), e) }()
		waitFor(t, "two intervals", func() bool { return strings.Count(out.String(), "\n") >= 2 })
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("status %d, stderr %q", code, errs)
		}
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var v statusview.View
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("%v in %q", err, line)
			}
			checkView(t, &v)
		}
	})

	t.Run("plain lines", func(t *testing.T) {
		e, out, errs := testEnv("")
		if code := run(context.Background(), s.statusArgs("-once"), e); code != 0 {
			t.Fatalf("status %d, stderr %q", code, errs)
		}
		text := out.String()
		if strings.Contains(text, "member") || strings.Contains(text, "batches/s") {
			t.Errorf("cluster lines for a server that is no member:\n%s", text)
		}
		for _, want := range []string{"J  ", "messages/s  in ", "reports/s   good ", "connections  plain ", "relay    up", "top senders  T "} {
			if !strings.Contains(text, want) {
				t.Errorf("no %q in:\n%s", want, text)
			}
		}
		if strings.Contains(text, "\x1b") {
			t.Errorf("escape codes in plain lines: %q", text)
		}
	})

	t.Run("plain HTTP to an HTTPS monitor", func(t *testing.T) {
		e, out, _ := testEnv("")
		if code := run(context.Background(), []string{"bester", "status", "-monitor", s.monitor, "-once"}, e); code != 1 {
			t.Fatalf("status %d, want 1", code)
		}
		if !strings.Contains(out.String(), "HTTPS") || !strings.Contains(out.String(), "-tls") {
			t.Fatalf("output %q: want it to say the monitor speaks HTTPS and -tls", out)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		addr, err := loadgen.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		e, out, _ := testEnv("")
		if code := run(context.Background(), []string{"bester", "status", "-monitor", addr, "-once"}, e); code != 1 {
			t.Fatalf("status %d, want 1", code)
		}
		if !strings.Contains(out.String(), addr+" unreachable: ") || !strings.Contains(out.String(), "connection refused") {
			t.Fatalf("output %q", out)
		}
	})
}

// TestStatusAcrossRestart: a server that stops shows as unreachable, and
// `bester status` shows it again once it is back, by itself.
func TestStatusAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts servers")
	}
	s := startTLSServer(t)
	e, out, errs := testEnv("")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, s.statusArgs("-json"), e) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("status %d, stderr %q", code, errs)
		}
	}()
	const view, unreachable = `"messages_in_per_second"`, `"unreachable"`
	waitFor(t, "a view", func() bool { return strings.Contains(out.String(), view) })
	s.stop()
	waitFor(t, "unreachable", func() bool { return strings.Contains(out.String(), unreachable) })
	s.start(t)
	waitFor(t, "a view after the restart", func() bool {
		_, after, _ := strings.Cut(out.String(), unreachable)
		return strings.Contains(after, view)
	})
}
