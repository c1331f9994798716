package actors

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/bester-project/bester/internal/testpython"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// pythonHandler is a handler block running the Python relay example on
// the SDK in mode and codec, skipping the test where Python or (for CBOR)
// its cbor2 package is missing.
func pythonHandler(t *testing.T, mode, codec string, extra ...string) string {
	t.Helper()
	python := testpython.Interpreter(t)
	if codec == "cbor" {
		testpython.RequireCBOR(t, python)
	}
	script, err := filepath.Abs(filepath.Join("..", "examples", "python", "relay.py"))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`
handler "py" {
  socket  = "py.sock"
  command = [%q, %q]
  env     = { PYTHONPATH = %q }
  mode    = %q
  codec   = %q
%s
}`, python, script, testpython.SDKDir(), mode, codec, strings.Join(extra, "\n"))
}

// pythonRelays checks what both Python relays do: data reaches the named
// user in every codec, the handler's failure status reaches the sender,
// and present users get a message that absent ones do not.
func pythonRelays(t *testing.T, tc, g *client.Client) {
	t.Helper()
	want := body{N: -7, Big: 1 << 60, Text: "hallo wêreld", List: []string{"a", "b"}}
	wantGood(t, sendForReport(t, tc, "py", "m-1", map[string]any{"to": "G", "body": want}))
	var got body
	in := expectDelivery(t, g, &got)
	if got.N != want.N || got.Big != want.Big || got.Text != want.Text || !slices.Equal(got.List, want.List) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if in.From != (wire.Address{Server: "J", User: "T"}) || in.Type != "py" {
		t.Fatalf("delivery header: from %+v type %q", in.From, in.Type)
	}
	wantBad(t, sendForReport(t, tc, "py", "m-2", map[string]any{"body": 1}), wire.CodeHandlerError)
	r := sendForReport(t, g, "py", "m-3", map[string]any{"to": []string{"T", "X"}, "body": "hi"})
	wantBad(t, r, wire.CodeUndelivered)
	if !slices.Equal(r.Payload.Undelivered, []string{"X"}) {
		t.Fatalf("undelivered %v, want [X]", r.Payload.Undelivered)
	}
	var s string
	expectDelivery(t, tc, &s)
	if s != "hi" {
		t.Fatalf("T got %q", s)
	}
}

func TestPythonOneshotHandler(t *testing.T) {
	for _, codec := range []string{"json", "cbor"} {
		t.Run(codec, func(t *testing.T) {
			ts := startServer(t, pythonHandler(t, "oneshot", codec))
			pythonRelays(t, ts.dial("T", wire.CodecJSON), ts.dial("G", wire.CodecCBOR))
		})
	}
}

// The relay example in stream mode answers requests as they are done, not in the order
// they came, and on SIGTERM it answers what it holds and exits cleanly.
func TestPythonStreamHandler(t *testing.T) {
	for _, codec := range []string{"json", "cbor"} {
		t.Run(codec, func(t *testing.T) {
			var log logBuffer
			ts := startServerWith(t, serverOptions{log: &log},
				pythonHandler(t, "stream", codec, `  timeout = "30s"`, "  connections = 2", fastRestart))
			tc, g := ts.dial("T", wire.CodecJSON), ts.dial("G", wire.CodecCBOR)
			pythonRelays(t, tc, g)

			// Many messages at once, each answered once.
			ids := make([]string, 100)
			for i := range ids {
				ids[i] = fmt.Sprintf("p-%d", i)
				if err := tc.Send("py", ids[i], map[string]any{"to": "G", "body": i}); err != nil {
					t.Fatal(err)
				}
			}
			collectReports(t, tc, "", ids...)
			for range ids {
				expectDelivery(t, g, nil)
			}

			// A message that waits does not hold up the ones after it:
			// their reports come first, on the same connection.
			if err := tc.Send("py", "slow", map[string]any{"to": "G", "body": "slow", "delay": 10}); err != nil {
				t.Fatal(err)
			}
			ts.waitInFlight(t, "py", 1)
			quick := []string{"quick-0", "quick-1", "quick-2"}
			for _, id := range quick {
				wantGood(t, sendForReport(t, tc, "py", id, map[string]any{"to": "G", "body": id}))
			}

			// SIGTERM cuts the wait short: the slow message is still
			// answered, and the handler exits with status 0.
			pid := ts.handlerState("py").PID
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			wantGood(t, expectReport(t, tc, "slow"))
			for _, want := range append(quick, "slow") {
				var got string
				expectDelivery(t, g, &got)
				if got != want {
					t.Fatalf("G got %v, want %v", got, want)
				}
			}
			eventually(t, "handler restarted", func() bool {
				st := ts.handlerState("py")
				return st.State == stateUp && st.PID != pid
			})
			wantGood(t, sendForReport(t, tc, "py", "after", map[string]any{"to": "G", "body": "after"}))
			expectDelivery(t, g, nil)
			if !strings.Contains(log.String(), `exit="exit status 0"`) {
				t.Errorf("no clean exit in the log:\n%s", log.String())
			}
			if strings.Contains(log.String(), "Traceback") {
				t.Errorf("the handler failed:\n%s", log.String())
			}
		})
	}
}
