package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// okAuth and okListener make a file valid apart from the case under test.
const (
	okAuth     = "auth { mode = \"open\" }\n"
	okListener = "listener \"l\" {\n  address = \"127.0.0.1:2223\"\n}\n"
	okBase     = okAuth + okListener
)

// flat joins the lines of a message, undoing the wrapping of detail text.
func flat(msg string) string { return strings.Join(strings.Fields(msg), " ") }

// markedLine is the 1-based line holding the marker "#!" in src.
func markedLine(t *testing.T, src string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, "#!") {
			return i + 1
		}
	}
	t.Fatal("no #! marker in source")
	return 0
}

func TestErrors(t *testing.T) {
	long := "/" + strings.Repeat("x", MaxSocketPath) + ".sock"
	cases := []struct {
		name  string
		src   string // the line with the problem is marked "#!"
		field string // must appear in the message
		also  string // further text the message must hold, if any
	}{
		{"unknown field", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  colour = \"blue\" #!\n}\n", "colour", ""},
		{"wrong type", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  command = \"relay\" #!\n}\n", "command", "list of string required"},
		{"wrong number type", okBase + "server {\n  send_queue = \"many\" #!\n}\n", "send_queue", ""},
		{"duplicate handler", okBase + "handler \"h\" {\n  socket = \"a.sock\"\n}\nhandler \"h\" { #!\n  socket = \"b.sock\"\n}\n", "handler", "already named"},
		{"duplicate listener", okAuth + okListener + "listener \"l\" { #!\n  address = \"127.0.0.1:2224\"\n}\n", "listener", "already named"},
		{"reserved dummy", okBase + "handler \"dummy\" { #!\n  socket = \"d.sock\"\n}\n", "dummy", "reserved"},
		{"reserved builtin", okBase + "handler \"builtin\" { #!\n  socket = \"d.sock\"\n}\n", "builtin", "reserved"},
		{"bad duration", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  timeout = \"5 seconds\" #!\n}\n", "timeout", "not a duration"},
		{"number as duration", okBase + "server {\n  auth_timeout = 5 #!\n}\n", "auth_timeout", "missing unit"},
		{"negative duration", okBase + "server {\n  shutdown_timeout = \"-1s\" #!\n}\n", "shutdown_timeout", "greater than zero"},
		{"zero duration", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  start_timeout = \"0s\" #!\n}\n", "start_timeout", "greater than zero"},
		{"negative idle", okBase + "server {\n  idle_timeout = \"-5s\" #!\n}\n", "idle_timeout", "negative"},
		{"negative connections", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  connections = -1 #!\n}\n", "connections", "at least 1"},
		{"zero queue", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  queue = 0 #!\n}\n", "queue", "at least 1"},
		{"zero max_in_flight", okBase + "server {\n  max_in_flight = 0 #!\n}\n", "max_in_flight", "at least 1"},
		{"small max_frame", okBase + "server {\n  max_frame = 0 #!\n}\n", "max_frame", "at least"},
		{"auth frame over max_frame", okBase + "server {\n  max_frame = 4096\n  max_auth_frame = 8192 #!\n}\n", "max_auth_frame", "must not exceed"},
		{"small buffer_budget", okBase + "server {\n  buffer_budget = 1024 #!\n}\n", "buffer_budget", "at least"},
		{"negative message_rate", okBase + "server {\n  message_rate = -1 #!\n}\n", "message_rate", "at least 0"},
		{"zero frame_timeout", okBase + "server {\n  frame_timeout = \"0s\" #!\n}\n", "frame_timeout", "greater than zero"},
		{"huge max_frame", okBase + "server {\n  max_frame = 5000000000 #!\n}\n", "max_frame", "at most"},
		{"negative max_restarts", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  restart {\n    max_restarts = -1 #!\n  }\n}\n", "max_restarts", "at least 0"},
		{"backoff order", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  restart {\n    backoff_min = \"1s\"\n    backoff_max = \"500ms\" #!\n  }\n}\n", "backoff_max", "must not exceed"},
		{"listener codec", okAuth + "listener \"l\" {\n  address = \"127.0.0.1:1\"\n  codec = \"xml\" #!\n}\n", "codec", "xml"},
		{"empty codec", okAuth + "listener \"l\" {\n  address = \"127.0.0.1:1\"\n  codec = \"\" #!\n}\n", "codec", "empty"},
		{"handler codec auto", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  codec = \"auto\" #!\n}\n", "codec", "cbor"},
		{"handler mode", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  mode = \"push\" #!\n}\n", "mode", "push"},
		{"network", okAuth + "listener \"l\" {\n  network = \"udp\" #!\n  address = \"127.0.0.1:1\"\n}\n", "network", "udp"},
		{"auth mode", "auth {\n  mode = \"ldap\" #!\n}\n" + okListener, "mode", "ldap"},
		{"log level", okBase + "log {\n  level = \"warning\" #!\n}\n", "level", "warning"},
		{"missing socket", okBase + "handler \"h\" { #!\n  timeout = \"1s\"\n}\n", "socket", "required"},
		{"empty socket", okBase + "handler \"h\" {\n  socket = \"\" #!\n}\n", "socket", "empty"},
		{"long socket", okBase + "handler \"h\" {\n  socket = \"" + long + "\" #!\n}\n", "socket", "bytes long"},
		{"empty command", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  command = [] #!\n}\n", "command", "program"},
		{"reserved env", okBase + "handler \"h\" {\n  socket = \"h.sock\"\n  env = { BESTER_SOCKET = \"x\" } #!\n}\n", "env", "BESTER_SOCKET"},
		{"htpasswd without file", "auth { #!\n  mode = \"htpasswd\"\n}\n" + okListener, "file", "htpasswd"},
		{"no auth block", "#!\n" + okListener, "file", "htpasswd"},
		{"htpasswd file missing", "auth {\n  file = \"nope.htpasswd\" #!\n}\n" + okListener, "file", "nope.htpasswd"},
		{"htpasswd file is a dir", "auth {\n  file = \".\" #!\n}\n" + okListener, "file", "not a regular file"},
		{"open on all interfaces", okAuth + "listener \"l\" {\n  address = \":2223\" #!\n}\n", "address", "accepts any username and is only for local development"},
		{"open on 0.0.0.0", okAuth + "listener \"l\" {\n  network = \"tcp4\"\n  address = \"0.0.0.0:2223\" #!\n}\n", "address", "accepts any username and is only for local development"},
		{"open on ::", okAuth + "listener \"l\" {\n  network = \"tcp6\"\n  address = \"[::]:2223\" #!\n}\n", "address", "only for local development"},
		{"open on a name", okAuth + "listener \"l\" {\n  address = \"example.com:2223\" #!\n}\n", "address", "only for local development"},
		{"no listener", "#!\n" + okAuth, "listener", "At least one"},
		{"no port", okAuth + "listener \"l\" {\n  address = \"127.0.0.1\" #!\n}\n", "address", "host:port"},
		{"bad port", okAuth + "listener \"l\" {\n  address = \"127.0.0.1:http\" #!\n}\n", "address", "port"},
		{"tcp4 with v6", okAuth + "listener \"l\" {\n  network = \"tcp4\"\n  address = \"[::1]:1\" #!\n}\n", "address", "IPv4"},
		{"empty informer", okBase + "informer {\n  socket = \"\" #!\n}\n", "socket", "empty"},
		{"empty name", okBase + "server {\n  name = \"\" #!\n}\n", "name", "non-empty"},
		{"socket twice", okBase + "listener \"u\" {\n  network = \"unix\"\n  address = \"x.sock\"\n}\ninformer {\n  socket = \"x.sock\" #!\n}\n", "socket", "used twice"},
		{"handler on server socket", okBase + "informer {\n  socket = \"x.sock\"\n}\nhandler \"h\" {\n  socket = \"x.sock\" #!\n}\n", "socket", "used twice"},
		{"syntax", okBase + "handler \"h\" {\n  socket = = \"h.sock\" #!\n}\n", "", "Invalid expression"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := write(t, c.src)
			_, err := Load(path)
			wantOneError(t, path, c.src, err, c.field, c.also)
		})
	}
}

// wantOneError checks that loading src from path failed with exactly one
// error, which names the file and the line marked "#!" in src, and holds
// every one of wants.
func wantOneError(t *testing.T, path, src string, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error for:\n%s", src)
	}
	msg := flat(err.Error())
	wants = append(wants, filepath.Base(path), fmt.Sprintf("line %d", markedLine(t, src)))
	for _, want := range wants {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "Error: "); n != 1 {
		t.Errorf("want exactly one error, got %d:\n%s", n, msg)
	}
}

// TestManyErrors checks that one pass reports every problem, in file order.
func TestManyErrors(t *testing.T) {
	src := `server {
  max_frame = -1
}
log {
  level = "loud"
}
auth {
  mode = "open"
}
listener "l" {
  address = "0.0.0.0:1"
}
handler "dummy" {
  socket  = "d.sock"
  timeout = "soon"
}
handler "h" {
  socket = "h.sock"
  colour = "blue"
}
`
	_, err := Load(write(t, src))
	if err == nil {
		t.Fatal("no error")
	}
	msg := flat(err.Error())
	wants := []string{"line 2", "max_frame", "line 5", "level", "line 11", "address",
		"line 13", "reserved", "line 15", "timeout", "line 19", "colour"}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q", w)
		}
	}
	if n := strings.Count(msg, "Error: "); n != 6 {
		t.Errorf("want 6 errors, got %d:\n%s", n, msg)
	}
	if strings.Index(msg, "line 2,") > strings.Index(msg, "line 19,") {
		t.Errorf("errors not in file order:\n%s", msg)
	}
}

// The htpasswd and groups files are parsed as the server parses them at
// start: a file that would stop the server fails the check too.
func TestUsersFilesParsed(t *testing.T) {
	for _, tc := range []struct{ name, file, content, src, want string }{
		{"htpasswd syntax", "bad.htpasswd", "alice $2y$05$x\n",
			"auth {\n  file = \"bad.htpasswd\" #!\n}\n" + okListener, "line 1: no ':' between user and hash"},
		{"htpasswd hash", "bad.htpasswd", "alice:{SHA}x\n",
			"auth {\n  file = \"bad.htpasswd\" #!\n}\n" + okListener, `line 1: user "alice": not a bcrypt hash`},
		{"groups syntax", "bad.groups", "ops: alice\nops alice\n",
			"auth {\n  mode = \"open\"\n  groups_file = \"bad.groups\" #!\n}\n" + okListener, "line 2: no ':' after the group name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, tc.src)
			if err := os.WriteFile(filepath.Join(filepath.Dir(path), tc.file), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			wantOneError(t, path, tc.src, err, tc.file, tc.want)
		})
	}
}
