package actors

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/bester-project/bester/wire"
)

// scrape is one reading of a server's /metrics, parsed.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics reads and parses ts's /metrics.
func (ts *testServer) scrapeMetrics() scrape {
	ts.t.Helper()
	resp, err := http.Get("http://" + ts.MonitorAddr().String() + "/metrics")
	if err != nil {
		ts.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		ts.t.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		ts.t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is the value of the series of family name whose labels are
// labels ("name=value" each): a counter's or a gauge's value, a
// histogram's count. A missing series is -1.
func (s scrape) value(name string, labels ...string) float64 {
	f, ok := s[name]
	if !ok {
		return -1
	}
	for _, m := range f.Metric {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// labelValues lists the values family name's series have for label.
func (s scrape) labelValues(name, label string) []string {
	var out []string
	if f, ok := s[name]; ok {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == label {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	return out
}

func hasLabels(m *dto.Metric, want []string) bool {
	have := make(map[string]string, len(m.Label))
	for _, l := range m.Label {
		have[l.GetName()] = l.GetValue()
	}
	for _, nv := range want {
		name, value, _ := strings.Cut(nv, "=")
		if have[name] != value {
			return false
		}
	}
	return len(have) == len(want)
}

// wantValue fails unless the series has the value v.
func (s scrape) wantValue(t *testing.T, v float64, name string, labels ...string) {
	t.Helper()
	if got := s.value(name, labels...); got != v {
		t.Errorf("%s%v = %v, want %v", name, labels, got, v)
	}
}

// eventuallyValue scrapes until the series has the value v.
func (ts *testServer) eventuallyValue(t *testing.T, v float64, name string, labels ...string) scrape {
	t.Helper()
	var s scrape
	eventually(t, fmt.Sprintf("%s%v = %v", name, labels, v), func() bool {
		s = ts.scrapeMetrics()
		return s.value(name, labels...) == v
	})
	return s
}

// TestMetricsCountMessages sends good messages, a handler failure, an
// unknown and a forbidden type through a real server and handler, and
// checks that /metrics counts each under its type and code; then kills
// the handler and sees it down and its restart counted.
func TestMetricsCountMessages(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "json", "  restart {\n    max_restarts = 0\n  }")+
		handlerBlock("secret", "stream", "json")+monitorBlock("")+`
permissions {
  default { deny = ["secret"] }
}
`)
	c := ts.dial("alice", wire.CodecJSON)
	echoWorks(t, c, "h", "m-1")
	echoWorks(t, c, "h", "m-2")
	wantBad(t, sendForReport(t, c, "h", "m-3", act("fail")), wire.CodeHandlerError)
	wantBad(t, sendForReport(t, c, "nosuch", "m-4", nil), wire.CodeUnknownType)
	wantBad(t, sendForReport(t, c, "secret", "m-5", nil), wire.CodeForbidden)

	// The deliveries are counted once written, which may come after the
	// client has read them.
	s := ts.eventuallyValue(t, 2, "bester_deliveries_total")
	s.wantValue(t, 3, "bester_messages_received_total", "type=h")
	s.wantValue(t, 1, "bester_messages_received_total", "type=other")
	s.wantValue(t, 0, "bester_messages_received_total", "type=secret") // refused before dispatch
	s.wantValue(t, 2, "bester_reports_total", "type=h", "code=good")
	s.wantValue(t, 1, "bester_reports_total", "type=h", "code=handler_error")
	s.wantValue(t, 1, "bester_reports_total", "type=other", "code=unknown_type")
	s.wantValue(t, 1, "bester_reports_total", "type=secret", "code=forbidden")
	s.wantValue(t, 1, "bester_connections_open", "listener=tcp")
	s.wantValue(t, 0, "bester_connections_open", "listener=unix")
	s.wantValue(t, 1, "bester_connections_accepted_total", "listener=tcp")
	s.wantValue(t, 1, "bester_logins_total", "result=good")
	s.wantValue(t, 0, "bester_logins_total", "result=bad")
	s.wantValue(t, 1, "bester_handler_up", "handler=h")
	s.wantValue(t, 3, "bester_handler_answer_seconds", "handler=h")
	s.wantValue(t, 0, "bester_handler_restarts_total", "handler=h")
	s.wantValue(t, 0, "bester_slow_consumer_disconnects_total")
	s.wantValue(t, 0, "bester_connections_refused_total", "reason=max_connections")
	if s.value("bester_received_bytes_total") <= 0 || s.value("bester_sent_bytes_total") <= 0 {
		t.Errorf("bytes not counted: received %v, sent %v",
			s.value("bester_received_bytes_total"), s.value("bester_sent_bytes_total"))
	}
	if s.value("go_goroutines") <= 0 || s.value("process_open_fds") <= 0 {
		t.Errorf("the Go and process collectors are missing")
	}
	// The link publishes its gauges at its next sweep after an answer.
	ts.eventuallyValue(t, 0, "bester_handler_in_flight_messages", "handler=h").
		wantValue(t, 0, "bester_handler_queue_messages", "handler=h")

	if err := syscall.Kill(ts.handlerState("h").PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s = ts.eventuallyValue(t, 1, "bester_handler_restarts_total", "handler=h")
	s.wantValue(t, 0, "bester_handler_up", "handler=h")
	s.wantValue(t, 1, "bester_handler_up", "handler=secret")

	ts.Reload() // tries the failed handler again
	ts.eventuallyValue(t, 1, "bester_handler_up", "handler=h")
}

// TestMetricsTypeLabelBounded sends 100 types no handler has: they all
// count as type "other", so the label keeps the configured handlers'
// names and that one.
func TestMetricsTypeLabelBounded(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor")+monitorBlock(""))
	c := ts.dial("alice", wire.CodecCBOR)
	for i := range 100 {
		wantBad(t, sendForReport(t, c, fmt.Sprintf("made-up-%d", i), fmt.Sprint(i), nil), wire.CodeUnknownType)
	}
	s := ts.scrapeMetrics()
	s.wantValue(t, 100, "bester_messages_received_total", "type=other")
	s.wantValue(t, 100, "bester_reports_total", "type=other", "code=unknown_type")
	for _, name := range []string{"bester_messages_received_total", "bester_reports_total"} {
		for _, v := range s.labelValues(name, "type") {
			if v != "h" && v != otherType {
				t.Errorf("%s has type %q", name, v)
			}
		}
	}
}

// TestMetricsRefusalsAndLogins counts a bad password, a login past
// max_connections_per_user and a connection past
// max_connections_per_address, each under its reason or result.
func TestMetricsRefusalsAndLogins(t *testing.T) {
	auth, _ := htpasswdAuth(t, "U", "pw")
	ts := startServerWith(t, serverOptions{server: "max_connections_per_address = 3\nmax_connections_per_user = 1"},
		auth+monitorBlock(""))
	ts.dialRaw(t, wire.CodecJSON).login("U")
	bad := ts.dialRaw(t, wire.CodecJSON)
	bad.send(authMsg("U", "wrong"))
	wantBad(t, bad.expectReport(wire.IDAuth), wire.CodeUnauthorized)
	bad.expectClosed()
	twice := ts.dialRaw(t, wire.CodecJSON)
	twice.send(authMsg("U", "pw"))
	wantBad(t, twice.expectReport(wire.IDAuth), wire.CodeOverloaded)
	twice.expectClosed()

	// The closed connections leave the count as their actors stop.
	ts.eventuallyValue(t, 1, "bester_connections_open", "listener=tcp")
	ts.dialRaw(t, wire.CodecJSON)
	ts.dialRaw(t, wire.CodecJSON)
	refused := ts.dialRaw(t, wire.CodecJSON)
	wantBad(t, refused.expectReport(wire.IDAuth), wire.CodeOverloaded)
	refused.expectClosed()

	s := ts.scrapeMetrics()
	s.wantValue(t, 1, "bester_logins_total", "result=good")
	s.wantValue(t, 2, "bester_logins_total", "result=bad")
	s.wantValue(t, 1, "bester_connections_refused_total", "reason=max_per_user")
	s.wantValue(t, 1, "bester_connections_refused_total", "reason=max_per_address")
	s.wantValue(t, 0, "bester_connections_refused_total", "reason=max_connections")
	s.wantValue(t, 5, "bester_connections_accepted_total", "listener=tcp")
	s.wantValue(t, 3, "bester_connections_open", "listener=tcp")
}

// TestMetricsPeer relays from J to a user on K: J's metrics show the peer
// up, the round trip, and K's login as a peer; once K stops, the peer is
// down.
func TestMetricsPeer(t *testing.T) {
	aj, ak := freeAddr(t), freeAddr(t)
	j := startServerWith(t, serverOptions{name: "J", tcp: aj}, fedHandlers()+peerBlock("K", ak, fedSecret, fastPeer)+monitorBlock(""))
	k := startServerWith(t, serverOptions{name: "K", tcp: ak}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer))
	j.waitPeerUp(t, "K")
	k.waitPeerUp(t, "J")
	tj, gk := j.dial("T", wire.CodecJSON), k.dial("G", wire.CodecCBOR)
	relayAcross(t, tj, gk, "T", "J", "G@K", "j-to-k")

	s := j.eventuallyValue(t, 1, "bester_peer_round_trip_seconds", "peer=K")
	s.wantValue(t, 1, "bester_peer_up", "peer=K")
	s.wantValue(t, 0, "bester_peer_queue_messages", "peer=K")
	s.wantValue(t, 1, "bester_messages_received_total", "type=relay")
	s.wantValue(t, 1, "bester_reports_total", "type=relay", "code=good")
	s.wantValue(t, 2, "bester_logins_total", "result=good") // T, and K's peer link

	k.Stop(context.Background())
	j.eventuallyValue(t, 0, "bester_peer_up", "peer=K")
}

// TestMetricsLinkSeriesComeAndGo checks that a handler's series exist
// from its link's start to its stop, and that a link that stops after a
// newer one of the same name started (a reload) leaves the newer one's;
// a peer link that replaces another keeps its round trips.
func TestMetricsLinkSeriesComeAndGo(t *testing.T) {
	m := newMetrics(newConnLimits(10, 10), newBudget(1<<20))
	g := m.gatherer()
	handlers := func() []string {
		t.Helper()
		fams, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range fams {
			if f.GetName() == "bester_handler_up" {
				for _, s := range f.Metric {
					names = append(names, s.Label[0].GetValue())
				}
			}
		}
		return names
	}
	old := m.addHandler("h")
	if got := handlers(); len(got) != 1 || got[0] != "h" || m.typeOf("h") != &old.typeStats {
		t.Fatalf("after start: handlers %v", got)
	}
	newer := m.addHandler("h")
	m.removeHandler("h", old)
	if got := handlers(); len(got) != 1 || m.typeOf("h") != &newer.typeStats {
		t.Fatalf("the newer link's series went with the old link: %v", got)
	}
	m.removeHandler("h", newer)
	if got := handlers(); len(got) != 0 || m.typeOf("h") != &m.other {
		t.Fatalf("after stop: handlers %v", got)
	}
	oldPeer := m.addPeer("K")
	if newerPeer := m.addPeer("K"); newerPeer.rtt != oldPeer.rtt {
		t.Fatal("a peer link that replaces another starts its round trips again")
	}
}

// TestMetricsTLSRefusals counts clear text sent to a TLS listener and a
// TLS client on a plain one as wrong_protocol, and a handshake the client
// gives up on as tls_handshake.
func TestMetricsTLSRefusals(t *testing.T) {
	pki := newPKI(t, "test CA")
	ts := startServer(t, pki.listener()+monitorBlock(""))
	plain := ts.dialRawTo(t, "tcp4", ts.Addr("tls").String(), wire.CodecJSON)
	plain.send(authMsg("T", "pw"))
	wantBad(t, plain.expectReport(wire.IDAuth), wire.CodeUnauthorized)
	if conn, err := tls.Dial("tcp4", ts.Addr("tcp").String(), pki.tlsConfig(ts, "")); err == nil {
		conn.Close()
		t.Fatal("a TLS handshake with a plain listener succeeded")
	}
	wrongName := pki.tlsConfig(ts, "")
	wrongName.ServerName = "wrong.example"
	if err := tlsLogin(ts, wrongName); err == nil {
		t.Fatal("a client that does not trust the server's name logged in")
	}
	s := ts.eventuallyValue(t, 1, "bester_connections_refused_total", "reason=tls_handshake")
	s.wantValue(t, 2, "bester_connections_refused_total", "reason=wrong_protocol")
	s.wantValue(t, 0, "bester_logins_total", "result=bad")
}

// TestMetricsReportCodesBounded counts a report with a code a peer made
// up as code "other", so that the label keeps the contract's codes.
func TestMetricsReportCodesBounded(t *testing.T) {
	m := newMetrics(newConnLimits(10, 10), newBudget(1<<20))
	m.countReport(badReport("m-1", &wire.Error{Code: "made_up", Detail: "by a peer"}, nil))
	m.countReport(badReport("m-2", wire.Errorf(wire.CodeLoop, "looped"), nil))
	m.countReport(goodReport("m-3"))
	fams, err := m.gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	s := scrape{}
	for _, f := range fams {
		s[f.GetName()] = f
	}
	for _, code := range []string{"other", "loop", "good"} {
		s.wantValue(t, 1, "bester_reports_total", "type=other", "code="+code)
	}
	if codes := s.labelValues("bester_reports_total", "code"); len(codes) != 3 {
		t.Errorf("codes %v, want other, loop and good", codes)
	}
}
