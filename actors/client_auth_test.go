package actors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/bester-project/bester/actors/auth"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// htpasswdAuth writes an htpasswd file with the given users and passwords
// (name, password, name, password...) and returns the auth block that uses
// it and the file's path. The hashes are at the lowest bcrypt cost: every
// comparison would otherwise take a large part of a second under the race
// detector.
func htpasswdAuth(t *testing.T, users ...string) (block, path string) {
	t.Helper()
	return htpasswdAuthCost(t, bcrypt.MinCost, users...)
}

// htpasswdAuthCost is htpasswdAuth with hashes at the given bcrypt cost.
func htpasswdAuthCost(t *testing.T, cost int, users ...string) (block, path string) {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(users); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(users[i+1]), cost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s\n", users[i], h)
	}
	path = filepath.Join(t.TempDir(), "users.htpasswd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("\nauth {\n  mode = \"htpasswd\"\n  file = %q\n}\n", path), path
}

// wantUnauthorized checks that the connection gets a bad unauthorized
// auth_special report and is then closed.
func (r *rawConn) wantUnauthorized() {
	r.t.Helper()
	wantBad(r.t, r.expectReport(wire.IDAuth), wire.CodeUnauthorized)
	r.expectClosed()
}

func TestClientAuthHtpasswd(t *testing.T) {
	block, path := htpasswdAuth(t, "T", "correct horse", "G", "battery staple")
	// One user the way an administrator adds one (at the default cost).
	if err := auth.SetPassword(path, "S", "tr0ub4dor"); err != nil {
		t.Fatal(err)
	}
	// More failures than the login guard allows from one address follow.
	ts := startServerWith(t, serverOptions{server: "max_login_failures = 100\nlogin_failure_delay = \"0s\""}, block)
	ts.dialOpts(client.Options{Address: ts.Addr("tcp").String(), Username: "S", Password: "tr0ub4dor"})

	c := ts.dialOpts(client.Options{Address: ts.Addr("tcp").String(), Codec: wire.CodecJSON, Username: "T", Password: "correct horse"})
	if err := c.Send(wire.TypeDummy, "in", nil); err != nil {
		t.Fatal(err)
	}
	if in := recv(t, c); in.Kind != client.KindDummy {
		t.Fatalf("want the dummy reply, got %s", in.Raw)
	}

	for _, c := range []struct{ name, user, password string }{
		{"wrong password", "T", "battery staple"},
		{"unknown user", "X", "correct horse"},
		{"empty password", "G", ""},
		{"empty username", "", "correct horse"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
				r := ts.dialRaw(t, codec)
				r.send(authMsg(c.user, c.password))
				r.wantUnauthorized()
			}
			// The Go client reports the server's code.
			_, err := client.Dial(context.Background(), client.Options{Address: ts.Addr("tcp").String(), Username: c.user, Password: c.password})
			var we *wire.Error
			if !errors.As(err, &we) || we.Code != wire.CodeUnauthorized {
				t.Fatalf("dial: %v", err)
			}
		})
	}
	// The right password still works for the other user.
	ts.dialOpts(client.Options{Address: ts.Addr("tcp").String(), Username: "G", Password: "battery staple"})
	if !ts.registry.has("T") || !ts.registry.has("G") || ts.registry.count() != 3 {
		t.Fatalf("connected: %v", ts.registry.names())
	}
}

func TestClientAuthFirstMessage(t *testing.T) {
	ts := startServer(t, "")
	creds := map[string]any{"username": "T", "password": "pw"}
	ping := map[string]any{"type": "dummy", "id": "p"}
	for _, c := range []struct {
		name string
		msg  map[string]any
	}{
		{"no header", map[string]any{"payload": ping}},
		{"empty header", map[string]any{"header": map[string]any{}, "payload": ping}},
		{"no scope", map[string]any{"header": map[string]any{"authentication": creds}, "payload": ping}},
		{"client scope without authentication", map[string]any{"header": map[string]any{"scope": "client"}, "payload": ping}},
		{"unknown scope", map[string]any{"header": map[string]any{"scope": "admin", "authentication": creds}}},
		{"server scope", map[string]any{"header": map[string]any{"scope": "server", "authentication": creds}, "payload": ping}},
		{"server scope without authentication", map[string]any{"header": map[string]any{"scope": "server"}, "payload": ping}},
		{"header is a string", map[string]any{"header": "client", "payload": ping}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
				r := ts.dialRaw(t, codec)
				r.send(c.msg)
				r.wantUnauthorized() // and the dummy was not answered
			}
		})
	}
	t.Run("not a map", func(t *testing.T) {
		r := ts.dialRaw(t, wire.CodecJSON)
		r.writeBody([]byte(`["header"]`))
		r.wantUnauthorized()
	})
	if n := ts.registry.count(); n != 0 {
		t.Fatalf("%d connections registered after failed logins", n)
	}
	ts.stillWorks(t)
}

func TestClientAuthOpenMode(t *testing.T) {
	ts := startServer(t, "")
	for _, user := range []string{"T", "alice", "ünïcödé", "with space", "x@example.org"} {
		c := ts.dialOpts(client.Options{Address: ts.Addr("tcp").String(), Username: user, Password: ""})
		if !ts.registry.has(user) {
			t.Fatalf("%q is not registered", user)
		}
		c.Close()
	}
	for _, user := range []string{"", " ", "\t\n"} {
		for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
			r := ts.dialRaw(t, codec)
			r.send(authMsg(user, "pw"))
			r.wantUnauthorized()
		}
	}
	// A missing username is an empty one.
	r := ts.dialRaw(t, wire.CodecJSON)
	r.send(map[string]any{"header": map[string]any{"scope": "client", "authentication": map[string]any{"password": "pw"}}})
	r.wantUnauthorized()
}

func TestClientAuthFirstMessageWithPayload(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "json"))
	g := ts.dial("G", wire.CodecCBOR)
	for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
		t.Run(codec.String(), func(t *testing.T) {
			r := ts.dialRaw(t, codec)
			first := authMsg("T", "pw")
			first["payload"] = map[string]any{"type": "h", "id": "m-1",
				"data": map[string]any{"act": "relay", "to": "G", "body": "hallo " + codec.String()}}
			r.send(first)
			wantGood(t, r.expectReport(wire.IDAuth))
			wantGood(t, r.expectReport("m-1"))
			var got string
			in := expectDelivery(t, g, &got)
			if got != "hallo "+codec.String() || in.From != (wire.Address{Server: "J", User: "T"}) {
				t.Fatalf("delivery %q from %+v", got, in.From)
			}
			// A first message whose payload has no type is only a login.
			r2 := ts.dialRaw(t, codec)
			first = authMsg("T", "pw")
			first["payload"] = map[string]any{"id": "m-2"}
			r2.send(first)
			wantGood(t, r2.expectReport(wire.IDAuth))
			r2.dummy("next") // the next answer is the dummy's: m-2 got none
			// A built-in works as a first message too.
			r3 := ts.dialRaw(t, codec)
			first = authMsg("T", "pw")
			first["payload"] = map[string]any{"type": "dummy", "id": "m-3"}
			r3.send(first)
			wantGood(t, r3.expectReport(wire.IDAuth))
			if p, _ := r3.next()["payload"].(map[string]any); p["id"] != "m-3" {
				t.Fatalf("want the dummy reply m-3, got %v", p)
			}
		})
	}
}

// TestClientAuthSelfDelivery sends messages whose handler answers the
// sender itself at once, in the first message and right behind it: the
// sender must already count as connected.
func TestClientAuthSelfDelivery(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "json", `env = { TESTHANDLER_ACT = "echo" }`, "connections = 4"))
	for w := range 4 {
		t.Run(fmt.Sprint("worker ", w), func(t *testing.T) {
			t.Parallel()
			for i := range 40 {
				r := ts.dialRawTo(t, "tcp", ts.Addr("tcp").String(), wire.CodecJSON)
				user := fmt.Sprintf("U%d-%d", w, i)
				first := authMsg(user, "pw")
				first["payload"] = map[string]any{"type": "h", "id": "first", "data": 1}
				b1, _ := wire.CodecJSON.Marshal(first)
				b2, _ := wire.CodecJSON.Marshal(msg("h", "second", 2))
				r.write(wire.AppendFrame(wire.AppendFrame(nil, b1), b2)) // without waiting for the login
				wantGood(t, r.expectReport(wire.IDAuth))
				// Then, in either order, each message's delivery before its report.
				delivered, reported := 0, map[string]bool{}
				for len(reported) < 2 {
					m := r.next()
					h, _ := m["header"].(map[string]any)
					p, _ := m["payload"].(map[string]any)
					switch id, _ := p["id"].(string); {
					case h["messageType"] == wire.MessageTypeReceived:
						delivered++
					case h["messageType"] != wire.MessageTypeStatusReport || h["status"] != wire.StatusGood || reported[id]:
						t.Fatalf("%s: want good reports of first and second, got %v", user, m)
					default:
						reported[id] = true
						if delivered < len(reported) {
							t.Fatalf("%s: report of %s before its delivery", user, id)
						}
					}
				}
				if !reported["first"] || !reported["second"] {
					t.Fatalf("%s: reports %v", user, reported)
				}
				r.conn.Close()
			}
		})
	}
}

func TestClientAuthTimeout(t *testing.T) {
	ts := startServerWith(t, serverOptions{server: `auth_timeout = "300ms"`}, "")
	t.Run("nothing sent", func(t *testing.T) {
		r := ts.dialRaw(t, wire.CodecJSON)
		r.wantUnauthorized()
	})
	t.Run("half a frame sent", func(t *testing.T) {
		r := ts.dialRaw(t, wire.CodecJSON)
		r.write(append(frameHeader(50), `{"header"`...))
		r.wantUnauthorized()
	})
	ts.stillWorks(t)
}

func TestClientPasswordNotInLog(t *testing.T) {
	const secret = "Zebra-Quartz-7391-pw"
	log := new(logBuffer)
	block, _ := htpasswdAuth(t, "T", secret)
	ts := startServerWith(t, serverOptions{log: log}, block)

	ts.dialOpts(client.Options{Address: ts.Addr("tcp").String(), Username: "T", Password: secret}).Close()
	for _, c := range []struct{ user, password string }{
		{"T", "wrong-" + secret},
		{"nobody", secret},
		{"T", strings.Repeat(secret, 10)}, // longer than bcrypt takes
	} {
		r := ts.dialRaw(t, wire.CodecJSON)
		r.send(authMsg(c.user, c.password))
		r.wantUnauthorized()
	}
	// A first message that does not decode, holding the password.
	r := ts.dialRaw(t, wire.CodecJSON)
	r.writeBody([]byte(`{"header":{"scope":"client","authentication":{"username":"T","password":"` + secret + `"}},"payload":{"type":1}}`))
	r.wantUnauthorized()
	r = ts.dialRaw(t, wire.CodecJSON)
	r.writeBody([]byte(`{"header":{"scope":"client","authentication":{"username":"T","password":"` + secret + `"}}`))
	r.wantUnauthorized()

	eventually(t, "the failures are logged", func() bool {
		return strings.Count(log.String(), "authentication failed") >= 3
	})
	out := log.String()
	if !strings.Contains(out, "client authenticated") {
		t.Fatal("the good login is not in the log")
	}
	if strings.Contains(out, "Zebra-Quartz") {
		t.Fatalf("the password is in the log:\n%s", out)
	}
}
