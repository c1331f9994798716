package actors

import (
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/bester-project/bester/actors/config"
)

// listenerPlan is a reload's listeners: the new list, and what changes
// from the old one.
type listenerPlan struct {
	list    []*listener      // the listeners of the new file, in its order
	opened  []*listener      // sockets the plan opened: new listeners, and those that moved
	confs   []listenerChange // new settings for listeners whose socket stays
	closing []*listener      // listeners removed or moved: their sockets close
	tls     []tlsChange      // TLS files read again for listeners whose tls block stays
}

type listenerChange struct {
	l    *listener
	conf *listenerConf
}

type tlsChange struct {
	tl    *tlsListener
	files *tlsFiles
}

// prepareListeners compares the new file's listeners with the open ones,
// by name: a new one, or one whose network or address changed, gets its
// socket now; one whose other settings changed keeps its socket with new
// settings; a TLS listener whose tls block stays reads its files again.
// A socket that cannot be opened or a TLS file that does not load rejects
// the reload.
func (s *Server) prepareListeners(p *reloadPlan) error {
	lp := &p.lists
	old := make(map[string]*listener)
	for _, l := range s.openListeners() {
		old[l.name] = l
	}
	var changes changeSet
	for _, c := range p.next.Listeners {
		o := old[c.Name]
		delete(old, c.Name)
		if o != nil && sameSocket(o.conf.Load().cfg, c) {
			lp.list = append(lp.list, o)
			if err := lp.keep(s, o, c); err != nil {
				return err
			}
			if !reflect.DeepEqual(o.conf.Load().cfg, c) {
				changes.changed = append(changes.changed, c.Name)
			}
			continue
		}
		l, err := newListener(c, s)
		if err == nil {
			err = l.open(s)
		}
		if err != nil {
			return err
		}
		lp.opened = append(lp.opened, l)
		lp.list = append(lp.list, l)
		if o == nil {
			changes.added = append(changes.added, c.Name)
		} else {
			lp.closing = append(lp.closing, o)
			changes.changed = append(changes.changed, c.Name)
		}
	}
	for _, l := range s.openListeners() { // in file order
		if old[l.name] != nil {
			lp.closing = append(lp.closing, l)
			changes.removed = append(changes.removed, l.name)
		}
	}
	if all := changes.String(); all != "" {
		p.note("listeners " + all)
	}
	if len(lp.tls) > 0 {
		var names []string
		for _, t := range lp.tls {
			if t.files.changed {
				names = append(names, t.tl.name)
			}
		}
		if len(names) > 0 {
			p.note("TLS files " + strings.Join(names, ", "))
		}
	}
	return nil
}

// sameSocket says whether the listener of block a can serve block b with
// the socket it has.
func sameSocket(a, b config.Listener) bool {
	return a.Network == b.Network && a.Address == b.Address
}

// keep plans the listener o, whose socket stays, to serve block c.
func (lp *listenerPlan) keep(s *Server, o *listener, c config.Listener) error {
	cur := o.conf.Load()
	if cur.tls != nil && reflect.DeepEqual(cur.cfg.TLS, c.TLS) {
		files, err := cur.tls.read()
		if err != nil {
			return err
		}
		lp.tls = append(lp.tls, tlsChange{cur.tls, files})
		if !reflect.DeepEqual(cur.cfg, c) {
			lp.confs = append(lp.confs, listenerChange{o, &listenerConf{cfg: c, tls: cur.tls}})
		}
		return nil
	}
	if reflect.DeepEqual(cur.cfg, c) {
		return nil
	}
	fresh, err := newListener(c, s) // the settings only: it opens no socket
	if err != nil {
		return err
	}
	lp.confs = append(lp.confs, listenerChange{o, fresh.conf.Load()})
	return nil
}

// discardListeners closes the sockets a rejected plan opened.
func (s *Server) discardListeners(lp *listenerPlan) {
	for _, l := range lp.opened {
		s.closeListener(l)
	}
}

// applyListeners switches to the plan's listeners: new settings first,
// then the new sockets accept, then the old ones close. Connections a
// closed listener accepted stay open until they end.
func (s *Server) applyListeners(p *reloadPlan) {
	lp := &p.lists
	for _, t := range lp.tls {
		t.tl.use(t.files)
	}
	for _, c := range lp.confs {
		c.l.conf.Store(c.conf)
		s.warnInsecure(c.l)
	}
	for _, l := range lp.opened {
		s.serve(l)
	}
	s.listenersMu.Lock()
	s.listeners = lp.list
	s.listenersMu.Unlock()
	for _, l := range lp.closing {
		s.closeListener(l)
		s.log.Info("listener closed; its connections stay until they end", "listener", l.name)
	}
}

// closeListener closes l's socket and removes a UNIX socket's file, so
// that clients find no socket rather than one nobody accepts on; Stop
// forgets the file, which may be another's by then.
func (s *Server) closeListener(l *listener) {
	l.close()
	if c := l.conf.Load().cfg; c.Network == "unix" {
		os.Remove(c.Address)
		s.sockets = slices.DeleteFunc(s.sockets, func(p string) bool { return p == c.Address })
	}
}
