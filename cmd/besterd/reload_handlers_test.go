package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/bester-project/bester/wire"
)

// SIGHUP applies a handler added to the configuration file: it answers,
// the relay handler keeps its process, and a client connected before
// the signal uses both.
func TestSIGHUPAddsHandler(t *testing.T) {
	s := startServer(t)
	sender := dial(t, "tcp4", s.addr, "T", wire.CodecJSON)
	cfg := s.args[1]
	src, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	added := fmt.Sprintf("\nhandler \"relay2\" {\n  socket  = \"relay2.sock\"\n  command = [%q]\n}\n", bins.relay)
	if err := os.WriteFile(cfg, append(src, added...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "relay2 up", func() bool { _, ok := s.handlerUp("relay2"); return ok })
	if !strings.Contains(s.log.String(), "reload: handlers +relay2") {
		t.Errorf("no summary of the reload in the log")
	}
	for _, typ := range []string{"relay2", "relay"} {
		if err := sender.Send(typ, typ, map[string]any{"to": "T", "body": typ}); err != nil {
			t.Fatal(err)
		}
		in, err := receive(t, sender)
		if err != nil {
			t.Fatal(err)
		}
		if in.Kind != wire.MessageTypeReceived || in.Type != typ {
			t.Fatalf("want the delivery of %s, got %s", typ, in.Raw)
		}
		if in, err = receive(t, sender); err != nil {
			t.Fatal(err)
		}
		if in.Report == nil || in.ID != typ || in.Err() != nil {
			t.Fatalf("want a good report for %s, got %s", typ, in.Raw)
		}
	}
	if pid, _ := s.relayUp(); pid != s.relayPID {
		t.Fatalf("relay was restarted by the reload: pid %d, was %d", pid, s.relayPID)
	}
}
