package actors

import (
	"fmt"

	"github.com/bester-project/bester/actors/auth"
	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/actors/permit"
	"github.com/bester-project/bester/wire"
)

// readGroups reads the groups file, when one is configured. It is read
// even without a permissions block, so that a broken file is found before
// it matters.
func readGroups(a config.Auth) (auth.Groups, error) {
	if a.GroupsFile == "" {
		return nil, nil
	}
	groups, err := auth.LoadGroups(a.GroupsFile)
	if err != nil {
		return nil, fmt.Errorf("load groups: %w", err)
	}
	return groups, nil
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
