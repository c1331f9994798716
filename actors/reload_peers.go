package actors

import (
	"reflect"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/actors/config"
)

// reloadPeers applies next's peers: it starts the links of new peers,
// restarts those of changed ones (any attribute: address, secret, codec,
// timeouts, tls...) and stops those of removed ones; unchanged peers keep
// their link and its connection. It runs under s.reloading with a
// configuration that loaded without error, and returns what changed
// ("+new ~changed -gone"), "" when nothing did.
//
// The new peerBook, which handler links read in sendServers, is swapped
// in before the old links are told to retire: from then on a sendServers
// reaches the new link, or is told there is no such peer. A retiring link
// hands the messages still waiting for its connection to the changed
// peer's new link, and fails those in flight (and, for a removed peer,
// the waiting ones too) with peer_unavailable. The
// connections that a removed peer, or one whose secret changed, opened to
// this server are closed; the peer's link fails what it had sent on them
// as on any lost connection, and its next attempt is checked against the
// secrets the connections' settings hold by then.
func (s *Server) reloadPeers(next *config.Config) string {
	old := s.peers.Load()
	running := make(map[string]peerEntry, len(old.entries))
	for _, e := range old.entries {
		running[e.cfg.Name] = e
	}
	var (
		changes changeSet
		entries []peerEntry
		retired []peerRetirement
		// untrusted are the peers whose connections to this server
		// proved what no longer holds: removed, or given a new secret.
		untrusted = make(map[string]bool)
	)
	for _, p := range next.Peers {
		e, ok := running[p.Name]
		delete(running, p.Name)
		if ok && reflect.DeepEqual(e.cfg, p) {
			entries = append(entries, e)
			continue
		}
		fresh := peerEntry{cfg: p, pid: s.spawnPeer(p)}
		entries = append(entries, fresh)
		if !ok {
			changes.added = append(changes.added, p.Name)
			continue
		}
		changes.changed = append(changes.changed, p.Name)
		if p.Secret != e.cfg.Secret {
			untrusted[p.Name] = true
		}
		retired = append(retired, peerRetirement{e.pid, &retirePeer{why: "changed by reload", replaced: true}})
	}
	for _, e := range old.entries {
		if _, gone := running[e.cfg.Name]; gone {
			changes.removed = append(changes.removed, e.cfg.Name)
			untrusted[e.cfg.Name] = true
			retired = append(retired, peerRetirement{e.pid, &retirePeer{why: "removed by reload"}})
		}
	}
	s.peers.Store(newPeerBook(entries, next.Server.AllowUnnamedPeers))
	for _, r := range retired {
		s.sys.Root.Send(r.link, r.msg)
	}
	if len(untrusted) > 0 {
		s.sys.Root.Send(s.acceptor, &dropPeerConns{peers: untrusted})
	}
	return changes.String()
}

// peerRetirement is a peer link a reload retires, and what it is told.
type peerRetirement struct {
	link *actor.PID
	msg  *retirePeer
}
