package actors

import (
	"context"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
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
	if m.s.topSenders != nil {
		info["top_senders"] = m.s.topSenders.top(time.Now())
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
	wanted := make(map[string]bool, len(m.s.cfg.Monitor.ReadyHandlers))
	for _, name := range m.s.cfg.Monitor.ReadyHandlers {
		wanted[name] = true
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
	m := s.cfg.Monitor
	if m == nil {
		return nil
	}
	log := s.log.Named("monitor")
	e, err := s.listenMonitor(m, log)
	if err != nil {
		return err
	}
	s.monitor = e
	if m.InsecurePlaintext {
		log.Warn("INSECURE: /status, which names users, crosses the network in clear (insecure_plaintext = true); add a tls block",
			"address", e.Addr().String())
	}
	if m.TopSenders > 0 {
		s.topSenders = startTopSenders(s.registry, m.TopSenders)
	}
	log.Info("monitor listening", "address", e.Addr().String(), "tls", m.TLS != nil, "pprof", m.PProf)
	return nil
}

// listenMonitor opens the endpoint's socket, speaking TLS when the block
// has a tls block; SIGHUP reloads its files as a TLS listener's.
func (s *Server) listenMonitor(m *config.Monitor, log hclog.Logger) (*monitor.Endpoint, error) {
	if m.TLS == nil {
		return monitor.Listen(m.Address, log)
	}
	tl, err := newTLSListener("monitor", m.TLS, log)
	if err != nil {
		return nil, err
	}
	s.monitorTLS = tl
	return monitor.ListenTLS(m.Address, tl.server, log)
}

// serveMonitor answers the monitor endpoint's requests, if it is open.
func (s *Server) serveMonitor() {
	if s.monitor != nil {
		src := serverMonitor{s: s, gatherer: s.metrics.gatherer()}
		s.monitor.Serve(monitor.Handler(src, s.cfg.Monitor.PProf, s.log.Named("monitor")))
	}
}

// stopMonitor closes the monitor endpoint, if any.
func (s *Server) stopMonitor() {
	if s.monitor == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), monitorStopWait)
	defer cancel()
	s.monitor.Close(ctx)
	if s.topSenders != nil {
		s.topSenders.close()
	}
}

// MonitorAddr is the address the monitor endpoint listens on, nil without
// one.
func (s *Server) MonitorAddr() net.Addr {
	if s.monitor == nil {
		return nil
	}
	return s.monitor.Addr()
}
