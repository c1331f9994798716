package actors

import (
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/config"
)

// Reload re-reads the whole configuration file (SIGHUP) and applies what
// changed. A file with any error, a TLS or users or groups file that does
// not load, a port that cannot be opened, or a change that only a restart
// can make (restartOnly) rejects the new configuration whole: the log says
// why, with file:line for the file's errors, and the running one stays
// untouched. Otherwise the log gets one summary line of what changed.
// Connections that nothing affects stay up; docs/configuration.md says
// what happens to the others. Reloads run one at a time, never during
// Stop.
func (s *Server) Reload() {
	s.reloading.Lock()
	defer s.reloading.Unlock()
	if s.stopping.Load() {
		return
	}
	cur := s.cfg()
	next, err := config.Load(cur.Path)
	if err != nil {
		s.log.Error("reload rejected, the running configuration stays", "error", err)
		return
	}
	if s.pinnedLevel != "" {
		next.Log.Level = s.pinnedLevel
	}
	if changed := restartOnly(cur, next); len(changed) > 0 {
		s.log.Error("reload rejected, the running configuration stays: changing "+strings.Join(changed, ", ")+
			" needs a restart", "config", cur.Path)
		return
	}
	p := &reloadPlan{next: next}
	if err := s.prepare(cur, p); err != nil {
		p.discard()
		s.log.Error("reload rejected, the running configuration stays", "error", err)
		return
	}
	s.apply(cur, p)
	if len(p.changes) == 0 {
		s.log.Info("reload: nothing changed")
	} else {
		s.log.Info("reload: " + strings.Join(p.changes, "; "))
	}
	s.retry()
}

// PinLogLevel keeps the log at level whatever the configuration file says,
// at reloads too: besterd's -log-level.
func (s *Server) PinLogLevel(level string) {
	s.reloading.Lock()
	defer s.reloading.Unlock()
	s.pinnedLevel = level
}

// reloadPlan is a new configuration checked and made ready to apply:
// everything that can fail (files read, sockets opened) is done, and
// nothing the running server uses is touched yet.
type reloadPlan struct {
	next    *config.Config
	changes []string // the summary's parts, in order
	auth    authPlan
	lists   listenerPlan
	monitor monitorPlan
}

// note adds a part to the summary.
func (p *reloadPlan) note(part string) { p.changes = append(p.changes, part) }

// discard undoes what prepare did: a rejected plan leaves nothing open.
func (p *reloadPlan) discard() {
	p.lists.discard()
	p.monitor.discard()
}

// prepare does what can fail, first: a failure rejects the reload whole.
func (s *Server) prepare(cur *config.Config, p *reloadPlan) error {
	if err := s.prepareAuth(cur, p); err != nil {
		return err
	}
	if err := s.prepareListeners(p); err != nil {
		return err
	}
	return s.prepareMonitor(cur, p)
}

// apply switches the server to the plan, in an order that loses nothing:
// the log level first, so that what follows logs as the new file says;
// then who may log in and send what, and the limits; the handlers' codecs
// and the new connections' settings before any new listener accepts; the
// listeners; the monitor; and last the configuration readers see.
func (s *Server) apply(cur *config.Config, p *reloadPlan) {
	next := p.next
	level := hclog.LevelFromString(next.Log.Level)
	newLevel := s.log.GetLevel() != level
	if newLevel {
		s.log.SetLevel(level)
	}
	s.applyAuth(p)
	s.applyLimits(cur, p)
	s.handlerCodecs.set(next.Handlers)
	s.sys.Root.Send(s.acceptor, &useSettings{s.connSettingsFor(next)})
	s.applyListeners(p)
	s.applyMonitor(p)
	if newLevel {
		p.note("log level " + next.Log.Level)
	}
	s.current.Store(next)
}

// retry makes handlers that restarted too often try again, and peers that
// are backing off connect now, as every SIGHUP does.
func (s *Server) retry() {
	for _, pid := range s.links {
		s.sys.Root.Send(pid, &retryLink{})
	}
	for _, pid := range s.peers {
		s.sys.Root.Send(pid, &retryPeer{})
	}
}
