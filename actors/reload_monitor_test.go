package actors

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/tlsconf"
)

// TestReloadMonitorCountsTopSendersTLS: a monitor that a reload adds shows
// the messages counted before it and rates the senders; the endpoint
// cannot turn to HTTPS on its socket, but can at a new address, where it
// answers with its certificate.
func TestReloadMonitorCountsTopSendersTLS(t *testing.T) {
	r := startReloadable(t, "", reloadBase())
	w, c := r.dial("W", wire.CodecCBOR), r.dial("T", wire.CodecJSON)
	for i := range 3 {
		stillServes(t, c, w, fmt.Sprintf("before-%d", i))
	}
	if got := r.reloaded("", reloadBase()+monitorBlock("  top_senders = 5")); got != "monitor 127.0.0.1:0" {
		t.Fatalf("summary %q", got)
	}
	if n := r.scrapeMetrics().value("bester_messages_received_total", "type=relay"); n < 3 {
		t.Fatalf("relay messages received %v, want the 3 sent before the monitor came", n)
	}
	stillServes(t, c, w, "after")
	var status struct {
		TopSenders []topSender `json:"top_senders"`
	}
	if r.get("/status", &status); len(status.TopSenders) != 1 || status.TopSenders[0].User != "T" {
		t.Fatalf("top senders %+v, want T alone", status.TopSenders)
	}

	pki := newPKI(t, "monitor CA")
	tlsBlock := fmt.Sprintf("  tls {\n    cert = %q\n    key = %q\n  }", pki.Path("server.crt"), pki.Path("server.key"))
	r.rejected("", reloadBase()+monitorBlock(tlsBlock), "switching between http and https")
	if code := r.get("/healthz", nil); code != http.StatusOK {
		t.Fatalf("/healthz after the rejected reload: %d", code)
	}
	moved := freeAddr(t)
	if got := r.reloaded("", reloadBase()+"\nmonitor {\n  address = \""+moved+"\"\n"+tlsBlock+"\n}\n"); got != "monitor "+moved {
		t.Fatalf("summary %q", got)
	}
	cfg, err := tlsconf.Client{CA: pki.Path("ca.crt")}.Config(moved)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: waitLong}
	resp, err := hc.Get("https://" + moved + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS at the new address: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTPS at the new address: %s", resp.Status)
	}
	stillServes(t, c, w, "end")
}

// TestReloadHandlerChangedKeepsItsCounts: a reload that changes a handler
// replaces its link, but not the counts of its type, its answers or its
// process's restarts: they run on from the server's start.
func TestReloadHandlerChangedKeepsItsCounts(t *testing.T) {
	r := startReloadable(t, "", reloadBase()+monitorBlock(""))
	w, c := r.dial("W", wire.CodecCBOR), r.dial("T", wire.CodecJSON)
	for i := range 3 {
		stillServes(t, c, w, fmt.Sprintf("before-%d", i))
	}
	if err := syscall.Kill(r.handlerState("relay").PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.eventuallyValue(t, 1, "bester_handler_restarts_total", "handler=relay")
	changed := handlerBlock("relay", "stream", "cbor", "  max_in_flight = 7")
	if got := r.reloaded("", changed+monitorBlock("")); got != "handlers ~relay" {
		t.Fatalf("summary %q", got)
	}
	stillServes(t, c, w, "after")
	s := r.scrapeMetrics()
	s.wantValue(t, 4, "bester_messages_received_total", "type=relay")
	s.wantValue(t, 4, "bester_reports_total", "type=relay", "code=good")
	s.wantValue(t, 4, "bester_handler_answer_seconds", "handler=relay")
	s.wantValue(t, 1, "bester_handler_restarts_total", "handler=relay")
}

// TestReloadHandlerAddedMonitorUnchanged: a monitor block without
// ready_handlers waits for every handler; a handler a reload adds joins
// what /readyz waits for without the summary calling the monitor changed.
func TestReloadHandlerAddedMonitorUnchanged(t *testing.T) {
	r := startReloadable(t, "", reloadBase()+monitorBlock(""))
	broken := "\nhandler \"broken\" {\n  socket  = \"broken.sock\"\n  command = [\"/bin/false\"]\n}\n"
	if got := r.reloaded("", reloadBase()+broken+monitorBlock("")); got != "handlers +broken" {
		t.Fatalf("summary %q, want the handler alone", got)
	}
	var ready readiness
	if code := r.get("/readyz", &ready); code != http.StatusServiceUnavailable ||
		len(ready.Handlers) != 1 || ready.Handlers[0].Name != "broken" {
		t.Fatalf("/readyz %d %+v; want 503 waiting for broken, which never comes up", code, ready)
	}
	// Naming fewer than every handler is a change of the monitor.
	if got := r.reloaded("", reloadBase()+broken+monitorBlock("  ready_handlers = [\"relay\"]")); got != "monitor ~" {
		t.Fatalf("summary %q", got)
	}
	if code := r.get("/readyz", &ready); code != http.StatusOK {
		t.Fatalf("/readyz %d %+v; want 200 waiting for relay alone", code, ready)
	}
}
