package actors

import (
	"context"
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

// Status is what the informer's serverInfo shows.
func (m serverMonitor) Status() any { return m.s.serverInfo() }

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
	wanted := make(map[string]bool)
	if mb := m.s.cfg().Monitor; mb != nil { // nil while a reload removes the block
		for _, name := range mb.ReadyHandlers {
			wanted[name] = true
		}
	}
	for _, st := range m.s.HandlerStates() {
		if wanted[st.Name] && st.State != stateUp {
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
	e, err := s.listenMonitor(s.cfg().Monitor)
	s.monitor.Store(e)
	return err
}

// listenMonitor opens the socket of the monitor block m; nil when m is.
func (s *Server) listenMonitor(m *config.Monitor) (*monitor.Endpoint, error) {
	if m == nil {
		return nil, nil
	}
	e, err := monitor.Listen(m.Address, s.log.Named("monitor"))
	if err != nil {
		return nil, err
	}
	s.log.Info("monitor listening", "address", e.Addr().String(), "pprof", m.PProf)
	return e, nil
}

// serveMonitor answers the monitor endpoint's requests, if it is open.
func (s *Server) serveMonitor() {
	if e := s.monitor.Load(); e != nil {
		s.monitorPages.set(s.monitorHandler(s.cfg().Monitor))
		e.Serve(&s.monitorPages)
	}
}

// monitorHandler answers the pages of the monitor block m.
func (s *Server) monitorHandler(m *config.Monitor) http.Handler {
	return monitor.Handler(serverMonitor{s: s, gatherer: s.metrics.gatherer()}, m.PProf, s.log.Named("monitor"))
}

// stopMonitor closes the monitor endpoint, if any.
func (s *Server) stopMonitor() {
	closeMonitor(s.monitor.Load())
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
