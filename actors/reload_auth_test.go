package actors

import (
	"net/http"
	"os"
	"testing"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// A reload changes how new connections log in (the auth block, the users
// in its file) and what everyone may send (the permissions block, which
// connections already open follow from their next message on). Users
// logged in stay logged in.
func TestReloadAuthAndPermissions(t *testing.T) {
	r := startReloadable(t, "", reloadBase()) // open authentication
	w, c := r.dial("W", wire.CodecCBOR), r.dial("T", wire.CodecJSON)
	login := func(user, password string) (*client.Client, error) {
		return client.Dial(t.Context(), client.Options{Address: r.Addr("tcp").String(), Codec: wire.CodecJSON,
			Username: user, Password: password, Timeout: waitLong})
	}

	block, path := htpasswdAuth(t, "U", "pw-u")
	if got := r.reloaded("", reloadBase()+block); got != "auth htpasswd "+path {
		t.Fatalf("summary %q", got)
	}
	if _, err := login("V", "pw-v"); err == nil {
		t.Fatal("a user the users file lacks logged in")
	}
	u, err := login("U", "pw-u")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	stillServes(t, u, w, "U by password")
	stillServes(t, c, w, "T, logged in while authentication was open")

	rewriteUsers(t, path, "U", "pw-u", "V", "pw-v")
	if got := r.reloaded("", reloadBase()+block); got != "users reloaded" {
		t.Fatalf("summary %q", got)
	}
	v, err := login("V", "pw-v")
	if err != nil {
		t.Fatal(err)
	}
	v.Close()

	perms := "permissions {\n  user \"T\" {\n    deny = [\"relay\"]\n  }\n}\n"
	if got := r.reloaded("", reloadBase()+block+perms); got != "permissions" {
		t.Fatalf("summary %q", got)
	}
	wantForbidden(t, try(t, c, w, "relay", "forbidden"), "relay")
	stillServes(t, u, w, "U, whom no rule names")
	if got := r.reloaded("", reloadBase()+block); got != "permissions" {
		t.Fatalf("summary %q", got)
	}
	stillServes(t, c, w, "T, the block gone")
}

// wantNoMonitor fails when a monitor endpoint answers at addr.
func wantNoMonitor(t *testing.T, addr string) {
	t.Helper()
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("an endpoint still answers at %s", addr)
	}
}

// A reload opens, changes, moves and closes the monitor endpoint.
func TestReloadMonitor(t *testing.T) {
	r := startReloadable(t, "", reloadBase())
	w, c := r.dial("W", wire.CodecCBOR), r.dial("T", wire.CodecJSON)
	if got := r.reloaded("", reloadBase()+monitorBlock("")); got != "monitor 127.0.0.1:0" {
		t.Fatalf("summary %q", got)
	}
	if code := r.get("/healthz", nil); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	if code := r.get("/debug/pprof/", nil); code != http.StatusNotFound {
		t.Fatalf("the profiler without pprof: %d", code)
	}
	addr := r.MonitorAddr().String()
	if got := r.reloaded("", reloadBase()+monitorBlock("  pprof = true")); got != "monitor ~" {
		t.Fatalf("summary %q", got)
	}
	if r.MonitorAddr().String() != addr {
		t.Fatal("the endpoint moved though its address did not change")
	}
	if code := r.get("/debug/pprof/", nil); code != http.StatusOK {
		t.Fatalf("the profiler with pprof: %d", code)
	}
	moved := freeAddr(t)
	if got := r.reloaded("", reloadBase()+"\nmonitor {\n  address = \""+moved+"\"\n}\n"); got != "monitor "+moved {
		t.Fatalf("summary %q", got)
	}
	if r.MonitorAddr().String() != moved || r.get("/healthz", nil) != http.StatusOK {
		t.Fatalf("the endpoint is at %s, want %s", r.MonitorAddr(), moved)
	}
	wantNoMonitor(t, addr)
	if got := r.reloaded("", reloadBase()); got != "monitor -" {
		t.Fatalf("summary %q", got)
	}
	if r.MonitorAddr() != nil {
		t.Fatal("the endpoint is still open")
	}
	wantNoMonitor(t, moved)
	stillServes(t, c, w, "after")
}

// A connection opened before a reload but logging in after it is checked
// against what the reload put in place: a user the new users file lacks,
// or a peer the new file removed, is refused, however long ago the
// connection was opened.
func TestReloadLoginAfterReload(t *testing.T) {
	block, path := htpasswdAuth(t, "U", "pw-u", "V", "pw-v")
	peer := peerBlock("K", freeAddr(t), fedSecret, fastPeer)
	r := startReloadable(t, "", reloadBase()+block+peer)
	user, server := r.dialRaw(t, wire.CodecJSON), r.dialRaw(t, wire.CodecJSON) // not logged in yet
	eventually(t, "both connections accepted", func() bool { return r.connLimits.onListener("tcp") == 2 })

	rewriteUsers(t, path, "U", "pw-u")
	if got := r.reloaded("", reloadBase()+block); got != "peers -K; users reloaded" {
		t.Fatalf("summary %q", got)
	}
	if rep := user.loginReport("V", "pw-v"); rep.Header.Error != wire.CodeUnauthorized {
		t.Fatalf("V, removed from the users file, logged in on a connection opened before: %+v", rep.Header)
	}
	server.send(wire.AuthMessage{Header: wire.AuthHeader{Scope: wire.ScopeServer,
		Authentication: wire.Credentials{Username: "K", Password: fedSecret}}})
	server.wantUnauthorized()
}

// rewriteUsers writes the users file at path anew with users (name,
// password, ...), as htpasswdAuth makes one.
func rewriteUsers(t *testing.T, path string, users ...string) {
	t.Helper()
	_, made := htpasswdAuth(t, users...)
	b, err := os.ReadFile(made)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
