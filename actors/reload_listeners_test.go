package actors

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// tcpListener is a listener block on a loopback TCP address.
func tcpListener(name, address string) string {
	return fmt.Sprintf("listener %q {\n  network = \"tcp4\"\n  address = %q\n}\n", name, address)
}

// Listeners are added, changed, moved and removed by a reload. A removed
// or moved listener's socket closes; the connections it accepted stay
// until they end; connections on listeners nothing changed stay.
func TestReloadListeners(t *testing.T) {
	r := startReloadable(t, "", reloadBase())
	w, c := r.dial("W", wire.CodecCBOR), r.dial("T", wire.CodecJSON)

	first, second := freeAddr(t), freeAddr(t)
	if got := r.reloaded("", reloadBase()+tcpListener("extra", first)); got != "listeners +extra" {
		t.Fatalf("summary %q", got)
	}
	u := r.dialOpts(client.Options{Address: first, Codec: wire.CodecJSON, Username: "U"})
	stillServes(t, u, w, "by extra")

	// Settings other than the address keep the socket, and apply to the
	// connections it accepts from then on.
	jsonOnly := strings.Replace(tcpListener("extra", first), "}", "  codec = \"json\"\n}", 1)
	if got := r.reloaded("", reloadBase()+jsonOnly); got != "listeners ~extra" {
		t.Fatalf("summary %q", got)
	}
	if got := listenerCodec(r.testServer, "extra"); got != "json" {
		t.Fatalf("extra's codec is %s", got)
	}
	stillServes(t, u, w, "by extra, changed")
	stillServes(t, r.dialOpts(client.Options{Address: first, Codec: wire.CodecJSON, Username: "Y"}), w, "by extra, json")

	moved := reloadBase() + tcpListener("extra", second) + `
listener "local" {
  network = "unix"
  address = "other.sock"
}`
	if got := r.reloaded("", moved); got != "listeners +local ~extra" {
		t.Fatalf("summary %q", got)
	}
	if r.Addr("extra").String() != second {
		t.Fatalf("extra listens on %s, want %s", r.Addr("extra"), second)
	}
	stillServes(t, r.dialOpts(client.Options{Address: second, Codec: wire.CodecJSON, Username: "V"}), w, "moved")
	stillServes(t, r.dialOpts(client.Options{Network: "unix", Address: r.dir + "/other.sock", Codec: wire.CodecJSON, Username: "X"}), w, "new unix")
	wantRefused(t, first)

	if got := r.reloaded("", reloadBase()); got != "listeners -extra -local" {
		t.Fatalf("summary %q", got)
	}
	wantRefused(t, second)
	stillServes(t, u, w, "accepted by a listener since closed")
	stillServes(t, c, w, "on a listener nothing changed")
}

// listenerCodec is the codec the named listener's new connections get,
// as the server's status says.
func listenerCodec(ts *testServer, name string) string {
	for _, l := range ts.serverInfo()["listeners"].([]map[string]any) {
		if l["name"] == name {
			return l["codec"].(string)
		}
	}
	ts.t.Fatalf("no listener %q", name)
	return ""
}

// wantRefused fails unless nothing listens on address any more.
func wantRefused(t *testing.T, address string) {
	t.Helper()
	if conn, err := net.Dial("tcp4", address); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections", address)
	}
}

// A listener that gains or loses its tls block keeps its socket: the
// connections it accepts from then on speak what the new block says, and
// those open already go on as they began.
func TestReloadListenerTLSInPlace(t *testing.T) {
	pki := newPKI(t, "reload CA")
	r := startReloadable(t, "", reloadBase()+pki.listener())
	w := r.dial("W", wire.CodecCBOR)
	addr := r.Addr("tls").String()
	overTLS := r.dialTLSClient(pki.tlsConfig(r.testServer, ""), "T", wire.CodecJSON)

	plain := reloadBase() + tcpListener("tls", "127.0.0.1:0")
	if got := r.reloaded("", plain); got != "listeners ~tls" {
		t.Fatalf("summary %q", got)
	}
	if r.Addr("tls").String() != addr {
		t.Fatalf("the listener moved from %s to %s", addr, r.Addr("tls"))
	}
	stillServes(t, r.dialOpts(client.Options{Address: addr, Codec: wire.CodecJSON, Username: "U"}), w, "plain now")
	stillServes(t, overTLS, w, "over TLS, open before")

	if got := r.reloaded("", reloadBase()+pki.listener()); got != "listeners ~tls" {
		t.Fatalf("summary %q", got)
	}
	stillServes(t, r.dialTLSClient(pki.tlsConfig(r.testServer, ""), "V", wire.CodecJSON), w, "TLS again")
}

// A UNIX listener a reload removed leaves its path to whoever takes it
// next: stopping the server does not remove their socket.
func TestReloadRemovedSocketNotRemovedAtStop(t *testing.T) {
	r := startReloadable(t, "", reloadBase()+`
listener "local" {
  network = "unix"
  address = "other.sock"
}`)
	path := r.dir + "/other.sock"
	if got := r.reloaded("", reloadBase()); got != "listeners -local" {
		t.Fatalf("summary %q", got)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("another's socket at the path the listener left: %v", err)
	}
	defer ln.Close()
	r.Stop(context.Background())
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stopping the server removed another's socket: %v", err)
	}
}
