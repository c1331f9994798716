package actors

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
	"github.com/bester-project/bester/wire/tlsconf"
)

// monitorBlock is a monitor block on a free loopback port.
func monitorBlock(extra string) string {
	return "\nmonitor {\n  address = \"127.0.0.1:0\"\n" + extra + "\n}\n"
}

// get fetches path from ts's monitor endpoint and decodes its JSON body
// into out, when out is not nil; it returns the status code.
func (ts *testServer) get(path string, out any) int {
	ts.t.Helper()
	resp, err := http.Get("http://" + ts.MonitorAddr().String() + path)
	if err != nil {
		ts.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatalf("GET %s: %v", path, err)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			ts.t.Fatalf("GET %s: %v in %q", path, err, body)
		}
	}
	return resp.StatusCode
}

func TestMonitorHealthAndStatus(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "json")+monitorBlock(""))
	var health map[string]string
	if code := ts.get("/healthz", &health); code != http.StatusOK || health["status"] != "ok" {
		t.Fatalf("/healthz: %d %v", code, health)
	}
	c := ts.dial("alice", wire.CodecJSON)
	echoWorks(t, c, "h", "s-1")

	var status struct {
		Name      string `json:"name"`
		Clients   int    `json:"clients"`
		Users     int    `json:"users"`
		Listeners []struct {
			Name        string `json:"name"`
			Address     string `json:"address"`
			TLS         bool   `json:"tls"`
			Connections int    `json:"connections"`
		} `json:"listeners"`
		Handlers []LinkState `json:"handlers"`
		Peers    []any       `json:"peers"`
	}
	if code := ts.get("/status", &status); code != http.StatusOK {
		t.Fatalf("/status: %d", code)
	}
	if status.Name != "J" || status.Clients != 1 || status.Users != 1 || status.Peers == nil || len(status.Peers) != 0 {
		t.Fatalf("/status: %+v", status)
	}
	if len(status.Listeners) != 2 || status.Listeners[0].Name != "tcp" ||
		status.Listeners[0].Address != ts.Addr("tcp").String() || status.Listeners[0].Connections != 1 ||
		status.Listeners[1].Name != "unix" || status.Listeners[1].Connections != 0 {
		t.Fatalf("/status listeners: %+v", status.Listeners)
	}
	if len(status.Handlers) != 1 || status.Handlers[0].Name != "h" || status.Handlers[0].State != stateUp ||
		status.Handlers[0].PID == 0 {
		t.Fatalf("/status handlers: %+v", status.Handlers)
	}
}

// TestMonitorReadyFollowsHandler kills a handler that may not restart
// (max_restarts = 0): /readyz says 503 and names it until a reload starts
// it again.
func TestMonitorReadyFollowsHandler(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "json", "  restart {\n    max_restarts = 0\n  }")+monitorBlock(""))
	var ready readiness
	if code := ts.get("/readyz", &ready); code != http.StatusOK || ready.Status != "ready" || ready.Listeners != "open" {
		t.Fatalf("/readyz before: %d %+v", code, ready)
	}

	if err := syscall.Kill(ts.handlerState("h").PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The link may see its connection break (connecting) before the
	// process's exit (failed): both are not ready.
	want := readiness{Status: "not ready", Listeners: "open", Handlers: []notReady{{Name: "h", State: stateFailed}}}
	eventually(t, "/readyz 503 naming h failed", func() bool {
		ready = readiness{}
		return ts.get("/readyz", &ready) == http.StatusServiceUnavailable && reflect.DeepEqual(ready, want)
	})

	ts.Reload()
	eventually(t, "/readyz 200", func() bool { return ts.get("/readyz", nil) == http.StatusOK })
	if st := ts.handlerState("h"); st.State != stateUp {
		t.Fatalf("ready while handler is %q", st.State)
	}
}

// TestMonitorReadyHandlers checks that /readyz waits only for the handlers
// ready_handlers names: an absent external handler does not hold it.
func TestMonitorReadyHandlers(t *testing.T) {
	ts := newServer(t, `
handler "ext" {
  socket = "ext.sock"
}
`+handlerBlock("live", "stream", "json")+monitorBlock(`  ready_handlers = ["live"]`))
	eventually(t, "/readyz 200", func() bool { return ts.get("/readyz", nil) == http.StatusOK })
	if st := ts.handlerState("ext"); st.State == stateUp {
		t.Fatalf("ext is up without a process")
	}
	startExternalHandler(t, filepath.Join(ts.dir, "ext.sock"), "ext", "stream", "cbor")
	eventually(t, "ext up", func() bool { return ts.handlerState("ext").State == stateUp })
	if code := ts.get("/readyz", nil); code != http.StatusOK {
		t.Fatalf("/readyz with both up: %d", code)
	}
}

func TestMonitorProfiler(t *testing.T) {
	off := startServer(t, monitorBlock(""))
	if code := off.get("/debug/pprof/cmdline", nil); code != http.StatusNotFound {
		t.Fatalf("profiler without pprof: %d, want 404", code)
	}
	on := startServer(t, monitorBlock("  pprof = true"))
	if code := on.get("/debug/pprof/cmdline", nil); code != http.StatusOK {
		t.Fatalf("profiler with pprof: %d, want 200", code)
	}
	if code := on.get("/debug/pprof/heap?debug=1", nil); code != http.StatusOK {
		t.Fatalf("heap profile: %d, want 200", code)
	}
}

func TestMonitorStopsWithServer(t *testing.T) {
	ts := startServer(t, monitorBlock(""))
	addr := ts.MonitorAddr().String()
	ts.get("/healthz", nil)
	ts.Stop(t.Context())
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("monitor still answers after Stop: %s", resp.Status)
	}
}

// TestMonitorTopSenders has three users send at different rates: /status
// names the faster first, and no more than top_senders of them.
func TestMonitorTopSenders(t *testing.T) {
	ts := startServer(t, monitorBlock("top_senders = 2"))
	// Rounds in turn, so that any few seconds hold the same proportions.
	perRound := map[string]int{"alice": 6, "bob": 3, "carol": 1}
	conns := map[string]*client.Client{}
	for user := range perRound {
		conns[user] = ts.dial(user, wire.CodecJSON)
	}
	for round := range 10 {
		for user, n := range perRound {
			c := conns[user]
			for i := range n {
				if err := c.Send(wire.TypeDummy, fmt.Sprint(round, "-", i), nil); err != nil {
					t.Fatal(err)
				}
			}
			for range n {
				if in := recv(t, c); in.Kind != client.KindDummy {
					t.Fatalf("want a dummy reply, got %s", in.Raw)
				}
			}
		}
	}
	var status struct {
		TopSenders []topSender `json:"top_senders"`
	}
	ts.get("/status", &status)
	if got := status.TopSenders; len(got) != 2 || got[0].User != "alice" || got[1].User != "bob" ||
		got[0].Rate <= got[1].Rate || got[1].Rate <= 0 {
		t.Fatalf("top_senders: %+v", got)
	}

	off := startServer(t, monitorBlock("top_senders = 0"))
	var raw map[string]any
	off.get("/status", &raw)
	if _, ok := raw["top_senders"]; ok {
		t.Fatalf("top_senders = 0, yet /status lists them: %v", raw["top_senders"])
	}
}

// TestMonitorTLS serves the monitor over HTTPS to clients with a
// certificate of the client CA only: such a client gets its answers,
// one without a certificate and one speaking plain HTTP do not.
func TestMonitorTLS(t *testing.T) {
	pki := newPKI(t, "monitor CA")
	pki.user("probe")
	ts := startServer(t, monitorBlock(fmt.Sprintf(
		"  tls {\n    cert = %q\n    key = %q\n    client_ca = %q\n    client_auth = \"require\"\n  }",
		pki.Path("server.crt"), pki.Path("server.key"), pki.Path("ca.crt"))))
	addr := ts.MonitorAddr().String()
	get := func(scheme string, files tlsconf.Client) (*http.Response, error) {
		cfg, err := files.Config(addr)
		if err != nil {
			t.Fatal(err)
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: waitLong}
		return c.Get(scheme + "://" + addr + "/healthz")
	}

	resp, err := get("https", tlsconf.Client{CA: pki.Path("ca.crt"), Cert: pki.Path("probe.crt"), Key: pki.Path("probe.key")})
	if err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with a client certificate: %s", resp.Status)
	}
	if resp, err := get("https", tlsconf.Client{CA: pki.Path("ca.crt")}); err == nil {
		resp.Body.Close()
		t.Fatalf("without a client certificate: %s", resp.Status)
	}
	if resp, err := get("http", tlsconf.Client{}); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP answered 200 by a TLS monitor")
		}
	}
}

// TestMonitorTLSReload: a reload (SIGHUP) gives the monitor's new
// connections the certificate that replaced its files.
func TestMonitorTLSReload(t *testing.T) {
	pki := newPKI(t, "first CA")
	second, err := tlsconf.NewCA("second CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, monitorBlock(fmt.Sprintf("  tls {\n    cert = %q\n    key = %q\n  }",
		pki.Path("server.crt"), pki.Path("server.key"))))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pki.CA.PEM)
	roots.AppendCertsFromPEM(second.PEM)
	serial := func() *big.Int {
		conn, err := tls.Dial("tcp", ts.MonitorAddr().String(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("TLS handshake with the monitor: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber
	}
	first := serial()
	want := pki.replaceServer(second)
	ts.Reload()
	if got := serial(); got.Cmp(want) != 0 || got.Cmp(first) == 0 {
		t.Fatalf("after the reload the monitor shows serial %v; want the new %v (the first was %v)", got, want, first)
	}
}

// TestMonitorRefusalsLogged: what the monitor's HTTPS server refuses (a
// plain HTTP request, a handshake cut short) goes to the server's log,
// throttled as the listeners' refusals are, however many there are.
func TestMonitorRefusalsLogged(t *testing.T) {
	pki := newPKI(t, "monitor CA")
	log := &logBuffer{}
	ts := startServerWith(t, serverOptions{log: log}, monitorBlock(fmt.Sprintf("  tls {\n    cert = %q\n    key = %q\n  }",
		pki.Path("server.crt"), pki.Path("server.key"))))
	const tries = 3 * strangerLogBurst
	for range tries {
		resp, err := http.Get("http://" + ts.MonitorAddr().String() + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
	}
	const line = "monitor: TLS handshake failed"
	eventually(t, "the refusals in the log", func() bool { return strings.Contains(log.String(), line) })
	if n := strings.Count(log.String(), line); n > strangerLogBurst {
		t.Fatalf("%d of %d refusals logged, want at most %d:\n%s", n, tries, strangerLogBurst, log)
	}
}
