package actors

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/auth"
	"github.com/bester-project/bester/actors/config"
)

// authenticator is what the auth block says logins are checked with.
func authenticator(a config.Auth) (auth.Authenticator, error) {
	if a.Mode == config.AuthOpen {
		return auth.Open(), nil
	}
	h, err := auth.LoadHtpasswd(a.File)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	return h, nil
}

// warnOpen warns when a allows any username.
func warnOpen(log hclog.Logger, a config.Auth) {
	if a.Mode == config.AuthOpen {
		log.Warn("authentication is open: any username is accepted; for local development only")
	}
}

// authPlan is a reload's users, groups and permissions, read and checked.
type authPlan struct {
	auth        auth.Authenticator
	groups      auth.Groups
	permissions bool // the permissions block changed
	groupsNew   bool // the groups file's members changed
}

// prepareAuth reads the users and groups files again: a file that does
// not load rejects the reload.
func (s *Server) prepareAuth(cur *config.Config, p *reloadPlan) error {
	a, next, users := &p.auth, p.next, s.credentials.Load().auth
	var err error
	if cur.Auth.Mode != next.Auth.Mode || cur.Auth.File != next.Auth.File {
		if a.auth, err = authenticator(next.Auth); err != nil {
			return err
		}
		p.note(strings.TrimSpace("auth " + string(next.Auth.Mode) + " " + next.Auth.File))
	} else if old, ok := users.(*auth.Htpasswd); ok {
		h, err := auth.LoadHtpasswd(next.Auth.File)
		if err != nil {
			return fmt.Errorf("load users: %w", err)
		}
		a.auth = users
		if !old.SameUsers(h) {
			a.auth = h
			p.note("users reloaded")
		}
	} else {
		a.auth = users
	}
	if a.groups, err = readGroups(next.Auth); err != nil {
		return err
	}
	a.groupsNew = !maps.EqualFunc(a.groups, s.groups, slices.Equal)
	if a.groupsNew {
		p.note("groups reloaded")
	}
	a.permissions = !reflect.DeepEqual(cur.Permissions, next.Permissions)
	if a.permissions {
		p.note("permissions")
	}
	return nil
}

// applyAuth makes the plan's users and the new file's peers' secrets
// what every login from now on is checked against, on connections opened
// before too, and its groups and permissions everyone's from their next
// message on. Connections logged in stay logged in.
func (s *Server) applyAuth(p *reloadPlan) {
	if s.credentials.Load().auth != p.auth.auth {
		warnOpen(s.log, p.next.Auth)
	}
	s.credentials.Store(credentialsOf(p.auth.auth, p.next.Peers))
	if p.auth.permissions {
		s.permissions.Set(p.next.Permissions)
	}
	if p.auth.groupsNew {
		s.groups = p.auth.groups
		s.permissions.SetGroups(s.groups)
	}
}
