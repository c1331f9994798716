package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/actors/config"
)

// peerBook is the peer links that handler links may send to, with what
// a sendServers to them may take. It is never changed once made: a reload
// makes a new book and swaps it in with one atomic pointer, which handler
// links load in sendServers without a lock (copy on write).
type peerBook struct {
	// entries are the peer links in configuration order.
	entries []peerEntry
	byName  map[string]*actor.PID
	// allowUnnamed lets sendServers name a peer by host:port.
	allowUnnamed bool
	// fanoutTimeout bounds a sendServers: past it, peers that have not
	// answered count as failed. Peer links answer within their own
	// timeout; this is the backstop that keeps a sender from waiting
	// forever.
	fanoutTimeout time.Duration
}

// peerEntry is one peer link and the configuration it was started with.
type peerEntry struct {
	cfg config.Peer
	pid *actor.PID
}

// fanoutGrace is how much longer than the slowest peer's timeout a
// sendServers may wait before its handler link gives up on a peer link.
const fanoutGrace = time.Second

func newPeerBook(entries []peerEntry, allowUnnamed bool) *peerBook {
	b := &peerBook{entries: entries, byName: make(map[string]*actor.PID, len(entries)), allowUnnamed: allowUnnamed}
	var slowest time.Duration
	if allowUnnamed {
		slowest = config.DefaultPeerTimeout // what an exchange with an unnamed peer may take
	}
	for _, e := range entries {
		b.byName[e.cfg.Name] = e.pid
		slowest = max(slowest, e.cfg.Timeout)
	}
	b.fanoutTimeout = slowest + fanoutGrace
	return b
}
