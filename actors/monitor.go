package actors

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/monitor"
)

// monitorStopWait bounds how long requests to the monitor may finish once
// the server stops.
const monitorStopWait = time.Second

// serverMonitor answers the monitor endpoint's questions. It runs on the
// endpoint's goroutines and asks the actors through futures, as the
// informer's serverInfo does.
type serverMonitor struct {
	s        *Server
	gatherer prometheus.Gatherer
}

// Status is what the informer's serverInfo shows, and the top senders
// when the monitor block asks for them.
func (m serverMonitor) Status() any {
	info := m.s.serverInfo()
	if t := m.s.topSenders.Load(); t != nil {
		info["top_senders"] = t.top(time.Now())
	}
	return info
}

// Gatherer is the server's own registry of metrics.
func (m serverMonitor) Gatherer() prometheus.Gatherer { return m.gatherer }

// notReady names a handler /readyz waits for and the state it is in.
type notReady struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// readiness is the body of /readyz.
type readiness struct {
	Status    string     `json:"status"`
	Listeners string     `json:"listeners"`
	Handlers  []notReady `json:"handlers_not_up,omitempty"`
}

// Ready reports whether the listeners are open and every handler the
// monitor block names in ready_handlers is up.
func (m serverMonitor) Ready() (bool, any) {
	body := readiness{Status: "ready", Listeners: "open"}
	if m.s.stopping.Load() {
		body.Listeners = "closed"
	}
	// wanted is nil for every handler. The block is nil while a reload
	// removes it.
	var wanted map[string]bool
	if mb := m.s.cfg().Monitor; mb != nil && mb.ReadyHandlers != nil {
		wanted = make(map[string]bool, len(mb.ReadyHandlers))
		for _, name := range mb.ReadyHandlers {
			wanted[name] = true
		}
	}
	for _, st := range m.s.HandlerStates() {
		if (wanted == nil || wanted[st.Name]) && st.State != stateUp {
			body.Handlers = append(body.Handlers, notReady{Name: st.Name, State: st.State})
		}
	}
	ready := body.Listeners == "open" && len(body.Handlers) == 0
	if !ready {
		body.Status = "not ready"
	}
	return ready, body
}

// openMonitor opens the monitor endpoint's socket when the configuration
// has a monitor block; serveMonitor starts answering once the actors run.
func (s *Server) openMonitor() error {
	m := s.cfg().Monitor
	if m != nil && m.TLS != nil {
		tl, err := newTLSListener("monitor", m.TLS, s.log.Named("monitor"))
		if err != nil {
			return err
		}
		s.monitorTLS.Store(tl)
	}
	e, err := s.listenMonitor(m)
	s.monitor.Store(e)
	return err
}

// listenMonitor opens the socket of the monitor block m, nil when m is;
// with a tls block it speaks HTTPS with the monitor's TLS settings in
// effect at each handshake, which a reload may replace.
func (s *Server) listenMonitor(m *config.Monitor) (*monitor.Endpoint, error) {
	if m == nil {
		return nil, nil
	}
	log := s.log.Named("monitor")
	if m.TLS == nil {
		return monitor.Listen(m.Address, log, s.strangerLogs)
	}
	return monitor.ListenTLS(m.Address, &tls.Config{GetConfigForClient: s.monitorTLSFor}, log, s.strangerLogs)
}

// monitorTLSFor is the monitor's GetConfigForClient: the settings of its
// tls block in effect.
func (s *Server) monitorTLSFor(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	tl := s.monitorTLS.Load()
	if tl == nil {
		return nil, errors.New("the monitor has no TLS settings")
	}
	return tl.forClient(hello)
}

// announceMonitor logs the endpoint e of block m once it serves.
func (s *Server) announceMonitor(e *monitor.Endpoint, m *config.Monitor) {
	log := s.log.Named("monitor")
	if m.InsecurePlaintext {
		log.Warn("INSECURE: /status, which names users, crosses the network in clear (insecure_plaintext = true); add a tls block",
			"address", e.Addr().String())
	}
	log.Info("monitor listening", "address", e.Addr().String(), "tls", m.TLS != nil, "pprof", m.PProf)
}

// serveMonitor answers the monitor endpoint's requests, if it is open.
func (s *Server) serveMonitor() {
	if e := s.monitor.Load(); e != nil {
		m := s.cfg().Monitor
		s.monitorPages.set(s.monitorHandler(m))
		s.setTopSenders(m.TopSenders)
		e.Serve(&s.monitorPages)
		s.announceMonitor(e, m)
	}
}

// setTopSenders starts rating the n fastest senders for /status, or
// stops when n is 0.
func (s *Server) setTopSenders(n int) {
	var next *topSenders
	if n > 0 {
		next = startTopSenders(s.registry, n)
	}
	if old := s.topSenders.Swap(next); old != nil {
		old.close()
	}
}

// monitorHandler answers the pages of the monitor block m.
func (s *Server) monitorHandler(m *config.Monitor) http.Handler {
	return monitor.Handler(serverMonitor{s: s, gatherer: s.metrics.gatherer()}, m.PProf, s.log.Named("monitor"))
}

// stopMonitor closes the monitor endpoint, if any.
func (s *Server) stopMonitor() {
	closeMonitor(s.monitor.Load())
	s.setTopSenders(0)
}

// closeMonitor closes e, if any, letting its requests finish for a
// moment.
func closeMonitor(e *monitor.Endpoint) {
	if e == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), monitorStopWait)
	defer cancel()
	e.Close(ctx)
}

// MonitorAddr is the address the monitor endpoint listens on, nil without
// one.
func (s *Server) MonitorAddr() net.Addr {
	if e := s.monitor.Load(); e != nil {
		return e.Addr()
	}
	return nil
}

// switchedHandler serves the pages of the monitor block in effect: a
// reload that turns the profiler on or off switches them without
// closing the endpoint.
type switchedHandler struct{ current atomic.Pointer[http.Handler] }

func (h *switchedHandler) set(next http.Handler) { h.current.Store(&next) }

func (h *switchedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*h.current.Load()).ServeHTTP(w, r)
}
