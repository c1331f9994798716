package actors

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
)

// A new configuration with anything wrong in it is rejected whole, with
// a log line that says why (file:line for the file's own errors), and
// the running configuration stays: the client connected throughout is
// still served, and new clients connect as before.
func TestReloadRejectsWholeAndKeepsRunning(t *testing.T) {
	relay := reloadBase()
	r := startReloadable(t, "", relay)
	w, c := r.dial("W", wire.CodecCBOR), r.dial("T", wire.CodecJSON)
	stillServes(t, c, w, "before")
	running := r.cfg()

	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	badUsers := filepath.Join(r.dir, "users.htpasswd")
	if err := os.WriteFile(badUsers, []byte("T:not-a-bcrypt-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, server, extra string
		want                []string
	}{
		{"an error in the file", "  max_in_flight = -1", relay + `listener "new" {
  address = "127.0.0.1:0"
}`, []string{"bester.hcl line 6", "max_in_flight"}},
		{"a port that cannot be opened", "", relay + `listener "taken" {
  address = "` + taken.Addr().String() + `"
}`, []string{`listener \"taken\"`, "address already in use"}},
		{"a users file that does not load", "", relay + `auth {
  mode = "htpasswd"
  file = "` + badUsers + `"
}`, []string{"bester.hcl line", "not a bcrypt hash"}},
		{"a change that needs a restart", "  gc_percent = 50\n  send_queue = 9", relay, []string{"changing gc_percent needs a restart"}},
	}
	for _, tc := range cases {
		t.Log(tc.name)
		r.rejected(tc.server, tc.extra, tc.want...)
		if r.cfg() != running {
			t.Fatal("the configuration in effect changed")
		}
		if r.Addr("new") != nil || r.Addr("taken") != nil {
			t.Fatal("a listener of the rejected file is open")
		}
		stillServes(t, c, w, "after "+tc.name)
		stillServes(t, r.dial("U", wire.CodecJSON), w, "new "+tc.name)
	}
}

// Reloading the file as it is changes nothing, and says so.
func TestReloadNothingChanged(t *testing.T) {
	relay := reloadBase()
	r := startReloadable(t, "", relay)
	w, c := r.dial("W", wire.CodecCBOR), r.dial("T", wire.CodecJSON)
	if got := r.reloaded("", relay); got != "nothing changed" {
		t.Fatalf("summary %q", got)
	}
	stillServes(t, c, w, "after")
}

// The log block's level applies at once: the log shows what the new
// level lets through, and no more.
func TestReloadLogLevel(t *testing.T) {
	relay := reloadBase()
	r := startReloadable(t, "", relay) // at debug level
	w, c := r.dial("W", wire.CodecCBOR), r.dial("T", wire.CodecJSON)
	r.dial("U1", wire.CodecJSON)
	eventually(t, "U1's login logged at debug level", func() bool { return strings.Contains(r.log.String(), "user=U1") })

	if got := r.reloaded("", relay+"log {\n  level = \"info\"\n}\n"); got != "log level info" {
		t.Fatalf("summary %q", got)
	}
	r.dial("U2", wire.CodecJSON)
	stillServes(t, c, w, "at-info")
	if got := r.reloaded("", relay); got != "log level debug" {
		t.Fatalf("summary %q", got)
	}
	r.dial("U3", wire.CodecJSON)
	eventually(t, "U3's login logged at debug level", func() bool { return strings.Contains(r.log.String(), "user=U3") })
	if strings.Contains(r.log.String(), "user=U2") {
		t.Fatal("U2's login was logged at debug level while the level was info")
	}
}

// Every setting of the server block is in serverSettings, once, so that a
// reload either applies it or says it needs a restart.
func TestServerSettingsListed(t *testing.T) {
	if n := reflect.TypeFor[config.Server]().NumField(); n != len(serverSettings) {
		t.Fatalf("config.Server has %d fields, serverSettings lists %d", n, len(serverSettings))
	}
	seen := map[string]bool{}
	for _, s := range serverSettings {
		if seen[s.name] {
			t.Fatalf("%s is listed twice", s.name)
		}
		seen[s.name] = true
	}
}
