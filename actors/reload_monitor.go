package actors

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/monitor"
)

// monitorPlan is a reload's monitor endpoint.
type monitorPlan struct {
	changed bool
	opened  *monitor.Endpoint // a socket at the new address; nil when it stays or goes
	tls     *tlsChange        // the files of a tls block that stays, read again
	newTLS  *tlsListener      // the settings of a new or changed tls block
	// topSenders is the new block's top_senders (0 without a block).
	topSenders int
}

// prepareMonitor opens the monitor's socket when the block is new or its
// address changed, and reads its TLS files: a port that cannot be opened
// or a file that does not load rejects the reload.
func (s *Server) prepareMonitor(cur *config.Config, p *reloadPlan) error {
	c, n := cur.Monitor, p.next.Monitor
	if err := s.prepareMonitorTLS(c, n, &p.monitor); err != nil {
		return err
	}
	if reflect.DeepEqual(c, n) {
		return nil
	}
	p.monitor.changed = true
	if n != nil {
		p.monitor.topSenders = n.TopSenders
	}
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

// prepareMonitorTLS reads the files of a tls block that stays, or loads
// a new one. An endpoint cannot turn from HTTP to HTTPS or back on its
// socket: that needs a new address.
func (s *Server) prepareMonitorTLS(c, n *config.Monitor, mp *monitorPlan) error {
	if c != nil && n != nil && c.Address == n.Address && (c.TLS == nil) != (n.TLS == nil) {
		return errors.New("monitor: switching between http and https at the same address needs a restart or another address")
	}
	if n == nil || n.TLS == nil {
		return nil
	}
	if cur := s.monitorTLS.Load(); cur != nil && c != nil && reflect.DeepEqual(c.TLS, n.TLS) {
		files, err := cur.read()
		if err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
		mp.tls = &tlsChange{cur, files}
		return nil
	}
	tl, err := newTLSListener("monitor", n.TLS, s.log.Named("monitor"))
	if err != nil {
		return err
	}
	mp.newTLS = tl
	return nil
}

// discard closes the socket a rejected plan opened.
func (mp *monitorPlan) discard() { closeMonitor(mp.opened) }

// applyMonitor switches to the new TLS settings, serves the new block's
// pages, at the new address when it moved (closing the old endpoint after
// its requests, for a moment), and closes the endpoint when the block is
// gone.
func (s *Server) applyMonitor(p *reloadPlan) {
	mp := &p.monitor
	if mp.tls != nil {
		mp.tls.tl.use(mp.tls.files)
	}
	if mp.newTLS != nil {
		s.monitorTLS.Store(mp.newTLS)
	}
	if !mp.changed {
		return
	}
	n := p.next.Monitor
	if n != nil {
		s.monitorPages.set(s.monitorHandler(n))
	}
	if s.topSenders.Load().size() != mp.topSenders {
		s.setTopSenders(mp.topSenders)
	}
	if e := mp.opened; e != nil || n == nil {
		old := s.monitor.Swap(e)
		if e != nil {
			e.Serve(&s.monitorPages)
			s.announceMonitor(e, n)
		}
		closeMonitor(old)
	}
}
