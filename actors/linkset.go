package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/actors/config"
)

// linkEntry is one handler link and what it was started with.
type linkEntry struct {
	cfg config.Handler // as configured
	// socket is where its process listens: cfg.Socket, or the path beside
	// it while the process of the link it replaced still held that one
	// (see socketFor).
	socket string
	pid    *actor.PID
}

// linkSet is the server's handler links: those that serve their type,
// in configuration order, and those a reload took the type from, which
// finish their messages and then stop. Reload changes it; HandlerStates
// (the informer, the monitor) and Stop read it from other goroutines.
type linkSet struct {
	mu       sync.Mutex
	serving  []*linkEntry
	retiring map[*actor.PID]*linkEntry
}

// current returns the links that serve a type, in configuration order.
// The slice is never changed in place: replace stores a new one.
func (s *linkSet) current() []*linkEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving
}

// replace makes serving the links that serve a type and adds retired to
// the retiring ones.
func (s *linkSet) replace(serving, retired []*linkEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serving = serving
	if s.retiring == nil {
		s.retiring = make(map[*actor.PID]*linkEntry)
	}
	for _, e := range retired {
		s.retiring[e.pid] = e
	}
}

// retired forgets a retiring link once it has stopped.
func (s *linkSet) retired(pid *actor.PID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.retiring, pid)
}

// all returns every link, retiring ones included, by a name for the log.
func (s *linkSet) all() map[string]*actor.PID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*actor.PID, len(s.serving)+len(s.retiring))
	for _, e := range s.serving {
		out[e.cfg.Name] = e.pid
	}
	for pid, e := range s.retiring {
		out[e.cfg.Name+" (retiring "+pid.Id+")"] = pid
	}
	return out
}

// socketsInUse returns the sockets that the processes of links, retiring
// ones included, listen on.
func (s *linkSet) socketsInUse() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	inUse := make(map[string]bool)
	for _, e := range s.serving {
		if len(e.cfg.Command) > 0 {
			inUse[e.socket] = true
		}
	}
	for _, e := range s.retiring {
		if len(e.cfg.Command) > 0 {
			inUse[e.socket] = true
		}
	}
	return inUse
}
