package actors

import (
	"fmt"

	"github.com/bester-project/bester/actors/auth"
	"github.com/bester-project/bester/actors/permit"
	"github.com/bester-project/bester/wire"
)

// loadGroups reads the groups file, when one is configured, and gives its
// members to the permissions. It is read even without a permissions
// block, so that a broken file is found before it matters.
func (s *Server) loadGroups() error {
	if s.cfg.Auth.GroupsFile == "" {
		return nil
	}
	groups, err := auth.LoadGroups(s.cfg.Auth.GroupsFile)
	if err != nil {
		return fmt.Errorf("load groups: %w", err)
	}
	s.permissions.SetGroups(groups)
	return nil
}

// reloadGroups reads the groups file again (SIGHUP). Connections apply
// the new groups from their next message on; a broken file keeps the
// groups the server had.
func (s *Server) reloadGroups() {
	if s.cfg.Auth.GroupsFile == "" {
		return
	}
	if err := s.loadGroups(); err != nil {
		s.log.Error("cannot reload groups; keeping the old ones", "error", err)
		return
	}
	s.log.Info("groups reloaded", "file", s.cfg.Auth.GroupsFile)
}

// checker returns what the authenticated user or peer may send.
func (r *connReader) checker() *permit.Checker {
	if r.peer != "" {
		return r.permissions.Peer(r.peer)
	}
	return r.permissions.User(r.user)
}

// forbidden logs a message whose sender may not send its type, with the
// server's throttle so that a flood of them writes a few lines, and
// returns the error its report carries.
func (r *connReader) forbidden(typ string) *wire.Error {
	if r.peer != "" {
		r.strangerLogs.Warn(r.logger(), "message forbidden", "peer", r.peer, "type", typ)
		return wire.Errorf(wire.CodeForbidden, "peer %s may not send messages of type %q here", r.peer, typ)
	}
	r.strangerLogs.Warn(r.logger(), "message forbidden", "user", r.user, "type", typ)
	return wire.Errorf(wire.CodeForbidden, "user %s may not send messages of type %q", r.user, typ)
}
