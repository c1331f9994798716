package actors

import (
	"reflect"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/monitor"
)

// monitorPlan is a reload's monitor endpoint.
type monitorPlan struct {
	changed bool
	opened  *monitor.Endpoint // a socket at the new address; nil when it stays or goes
}

// prepareMonitor opens the monitor's socket when the block is new or its
// address changed: a port that cannot be opened rejects the reload.
func (s *Server) prepareMonitor(cur *config.Config, p *reloadPlan) error {
	c, n := cur.Monitor, p.next.Monitor
	if reflect.DeepEqual(c, n) {
		return nil
	}
	p.monitor.changed = true
	switch {
	case n == nil:
		p.note("monitor -")
		return nil
	case c == nil || c.Address != n.Address:
		e, err := s.listenMonitor(n)
		if err != nil {
			return err
		}
		p.monitor.opened = e
		p.note("monitor " + n.Address)
	default:
		p.note("monitor ~")
	}
	return nil
}

// discard closes the socket a rejected plan opened.
func (mp *monitorPlan) discard() { closeMonitor(mp.opened) }

// applyMonitor serves the new block's pages, at the new address when it
// moved (closing the old endpoint after its requests, for a moment), and
// closes the endpoint when the block is gone.
func (s *Server) applyMonitor(p *reloadPlan) {
	if !p.monitor.changed {
		return
	}
	if n := p.next.Monitor; n != nil {
		s.monitorPages.set(s.monitorHandler(n))
	}
	if e := p.monitor.opened; e != nil || p.next.Monitor == nil {
		old := s.monitor.Swap(e)
		if e != nil {
			e.Serve(&s.monitorPages)
		}
		closeMonitor(old)
	}
}
