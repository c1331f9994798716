package actors

import (
	"cmp"
	"slices"
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
		s.discard(p)
		s.log.Error("reload rejected, the running configuration stays", "error", err)
		return
	}
	s.apply(cur, p)
	s.log.Info("reload: " + p.summary())
	warnReadableSecrets(s.log, next)
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
	changes []string // the summary's parts
	auth    authPlan
	lists   listenerPlan
	monitor monitorPlan
}

// summaryOrder is the order of the summary's parts, by what each begins
// with.
var summaryOrder = []string{"handlers", "peers", "listeners", "TLS files", "limits", "log level",
	"auth", "users", "groups", "permissions", "monitor"}

// note adds a part to the summary; it begins with one of summaryOrder.
func (p *reloadPlan) note(part string) { p.changes = append(p.changes, part) }

// summary is what the reload changed, in summaryOrder, or that nothing
// did.
func (p *reloadPlan) summary() string {
	if len(p.changes) == 0 {
		return "nothing changed"
	}
	rank := func(part string) int {
		return slices.IndexFunc(summaryOrder, func(kind string) bool { return strings.HasPrefix(part, kind) })
	}
	slices.SortStableFunc(p.changes, func(a, b string) int { return cmp.Compare(rank(a), rank(b)) })
	return strings.Join(p.changes, "; ")
}

// discard undoes what prepare did: a rejected plan leaves nothing open.
func (s *Server) discard(p *reloadPlan) {
	s.discardListeners(&p.lists)
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
// and the new connections' settings; the peers and handlers
// (reloadPeers, reloadHandlers), before any new listener accepts; the
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
	// Peers first: a new handler may send to a new peer at once. New
	// connections check the new peers' secrets already.
	if peers := s.reloadPeers(next); peers != "" {
		p.note("peers " + peers)
	}
	if handlers := s.reloadHandlers(next); handlers != "" {
		p.note("handlers " + handlers)
	}
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
	for _, e := range s.links.current() {
		s.sys.Root.Send(e.pid, &retryLink{})
	}
	for _, e := range s.peers.Load().entries {
		s.sys.Root.Send(e.pid, &retryPeer{})
	}
}
