package actors

import (
	"reflect"
	"time"

	"github.com/bester-project/bester/actors/config"
)

// reloadHandlers applies next's handlers: it starts the links of new
// handlers, replaces those of changed ones and retires those of removed
// ones; unchanged handlers keep their link and their process. It runs
// under s.reloading with a configuration that loaded without error, and
// returns what changed ("+new ~changed -gone"), "" when nothing did.
//
// A new or changed handler's link is spawned before the router sends its
// type there. The router then tells the link that served the type to
// retire (retireLink): it hands its queue back to the router, which sends
// it to the new link, or keeps it when the handler was removed, finishes the messages in flight within
// its timeout, fails the rest with handler_unavailable, stops its
// process and removes its socket. Nothing here waits for that; only for
// the router to have changed its table.
func (s *Server) reloadHandlers(next *config.Config) string {
	old := s.links.current()
	running := make(map[string]*linkEntry, len(old))
	for _, e := range old {
		running[e.cfg.Name] = e
	}
	inUse := s.links.socketsInUse()
	var (
		changes          changeSet
		serving, retired []*linkEntry
		routes           []*setRoute
	)
	for _, h := range next.Handlers {
		e, ok := running[h.Name]
		if ok && reflect.DeepEqual(e.cfg, h) {
			serving = append(serving, e)
			continue
		}
		fresh := s.spawnLink(h, freeSocket(h, inUse))
		inUse[fresh.socket] = true
		serving = append(serving, fresh)
		route := &setRoute{typ: h.Name, link: fresh.pid}
		if ok {
			changes.changed = append(changes.changed, h.Name)
			retired = append(retired, e)
			route.retire = s.retireLink(e, true, "changed by reload")
		} else {
			changes.added = append(changes.added, h.Name)
		}
		routes = append(routes, route)
	}
	nextNames := make(map[string]bool, len(next.Handlers))
	for _, h := range next.Handlers {
		nextNames[h.Name] = true
	}
	for _, e := range old {
		if !nextNames[e.cfg.Name] {
			changes.removed = append(changes.removed, e.cfg.Name)
			retired = append(retired, e)
			routes = append(routes, &setRoute{typ: e.cfg.Name, retire: s.retireLink(e, false, "removed by reload")})
		}
	}
	// The set knows the retiring links before they can finish and leave it.
	s.links.replace(serving, retired)
	for _, r := range routes {
		s.sys.Root.Send(s.router, r)
	}
	if len(routes) > 0 {
		// Readers look types up in the router's table themselves: the reload
		// is done only once the router has changed it, so that a message
		// sent after the reload finds the handlers it added. The router
		// never waits on anyone, so this wait is short.
		if _, err := s.sys.Root.RequestFuture(s.router, &routesSettled{}, routesSettleTimeout).Result(); err != nil {
			s.log.Warn("reload: the router did not confirm its new table", "error", err)
		}
	}
	return changes.String()
}

// routesSettleTimeout bounds the wait for the router's table after a
// reload; it only runs out when the router has stopped.
const routesSettleTimeout = 5 * time.Second

// retireLink is the retirement of e's link, replaced by another or not,
// which forgets it in the link set once it has stopped.
func (s *Server) retireLink(e *linkEntry, replaced bool, why string) *retireLink {
	return &retireLink{replaced: replaced, why: why, done: func() { s.links.retired(e.pid) }}
}

// freeSocket is the socket a new link's process listens on: h's own,
// unless the process of a running or retiring link still listens there.
// Handlers built on ipc remove their socket file when they exit, so a new
// process on the same path would lose its file when the one it replaces
// stops; it listens beside it instead (the path with "~" added), and a
// later change moves it back. A handler without a command is dialed
// where it is configured: whoever starts it owns its socket.
func freeSocket(h config.Handler, inUse map[string]bool) string {
	path := h.Socket
	if len(h.Command) == 0 {
		return path
	}
	for range maxSocketTries {
		if !inUse[path] {
			return path
		}
		path = besideSocket(path)
	}
	return h.Socket
}

// maxSocketTries bounds the paths freeSocket tries: more links than this
// would have to be retiring at once with the same socket.
const maxSocketTries = 8

// besideSocket is another path in the same directory: path with "~"
// added, or its last byte replaced where the longer path would be longer
// than a UNIX socket path may be.
func besideSocket(path string) string {
	if len(path) < config.MaxSocketPath {
		return path + "~"
	}
	last := "~"
	if path[len(path)-1] == '~' {
		last = "_"
	}
	return path[:len(path)-1] + last
}
