package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// SIGHUP re-reads the whole configuration file: a listener added opens,
// the level -log-level set stays whatever the file says, and one line
// sums up what changed. A broken file is rejected with its line and the
// server goes on as it was. A client connected throughout still relays.
func TestReloadOnSIGHUP(t *testing.T) {
	s := startServer(t) // -log-level debug
	g := dial(t, "unix", s.unix, "G", wire.CodecJSON)
	cfgPath := filepath.Join(s.dir, "bester.hcl")
	base, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	extra := freeAddr(t)
	s.reload(t, cfgPath, string(base)+fmt.Sprintf("listener \"extra\" {\n  address = %q\n}\nlog {\n  level = \"warn\"\n}\n", extra),
		"reload: listeners +extra")
	u := dial(t, "tcp4", extra, "U", wire.CodecCBOR)
	relayTo(t, u, g, "G", "after")

	s.reload(t, cfgPath, string(base)+"listener \"broken\" {\n}\n", "reload rejected, the running configuration stays")
	if !strings.Contains(s.log.String(), "bester.hcl line") {
		t.Fatalf("the rejection does not say where the file is wrong:\n%s", s.log)
	}
	relayTo(t, u, g, "G", "after the broken file")
	relayTo(t, dial(t, "tcp4", extra, "T", wire.CodecJSON), g, "G", "from a new client")
}

// reload writes content to the configuration file, sends the server
// SIGHUP and waits for want in its log.
func (s *server) reload(t *testing.T, cfgPath, content, want string) {
	t.Helper()
	if err := os.WriteFile(cfgPath, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, want, func() bool { return strings.Contains(s.log.String(), want) })
}

// relayTo sends id from c to user, whose connection is to, by the relay
// handler, and checks its report and its delivery.
func relayTo(t *testing.T, c, to *client.Client, user, id string) {
	t.Helper()
	if err := c.Send("relay", id, map[string]any{"to": user, "body": id}); err != nil {
		t.Fatal(err)
	}
	if r, err := receive(t, c); err != nil || r.Report == nil || r.ID != id || r.Err() != nil {
		t.Fatalf("want a good report for %q: %v %v", id, r, err)
	}
	var got string
	if in, err := receive(t, to); err != nil || in.Decode(&got) != nil || got != id {
		t.Fatalf("%s got %v %v, want %q", user, in, err, id)
	}
}
