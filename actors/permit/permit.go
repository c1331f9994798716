// Package permit decides which message types a user or a peer server may
// send, from the configuration's permissions block and the groups file. A
// connection resolves its sender's rules once, at login, and again only
// when the groups change, so that checking a message costs a pointer
// comparison and a map lookup.
package permit

import (
	"slices"
	"sync/atomic"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
)

// Policy is a compiled permissions block. A nil *Policy allows everyone
// everything. It is safe for concurrent use.
type Policy struct {
	users   map[string]*rules
	groups  map[string]*rules
	members map[string][]string // the members the configuration gives each group
	peers   map[string]*rules
	// fallback is the default rule, for users no rule names; nil allows
	// everything.
	fallback *rules
	// current is the resolution of every named user with the groups
	// last set; Checkers compare it with the one they resolved with.
	current atomic.Pointer[resolution]
}

// resolution is the rules of every user a user or group rule names, for
// one membership of the groups.
type resolution struct {
	byUser   map[string]*rules
	fallback *rules
}

// of returns user's rules.
func (r *resolution) of(user string) *rules {
	if u, ok := r.byUser[user]; ok {
		return u
	}
	return r.fallback
}

// New compiles cfg. It returns nil, a policy that checks nothing, when
// there is no permissions block or it has no rule.
func New(cfg *config.Permissions) *Policy {
	if cfg == nil || cfg.Default == nil && len(cfg.Users) == 0 && len(cfg.Groups) == 0 && len(cfg.Peers) == 0 {
		return nil
	}
	p := &Policy{users: make(map[string]*rules), groups: make(map[string]*rules),
		members: make(map[string][]string), peers: make(map[string]*rules)}
	if cfg.Default != nil {
		p.fallback = compile(cfg.Default.Allow, cfg.Default.Deny)
	}
	for name, r := range cfg.Users {
		p.users[name] = compile(r.Allow, r.Deny)
	}
	for name, g := range cfg.Groups {
		p.groups[name] = compile(g.Allow, g.Deny)
		p.members[name] = g.Users
	}
	for name, r := range cfg.Peers {
		p.peers[name] = compile(r.Allow, r.Deny)
	}
	p.SetGroups(nil)
	return p
}

// SetGroups sets the members the groups file gives each group (group name
// to usernames), replacing those of the last call. Connections apply the
// new rules from their next message on.
func (p *Policy) SetGroups(fromFile map[string][]string) {
	if p == nil {
		return
	}
	named := make(map[string][]*rules)
	for user, r := range p.users {
		named[user] = append(named[user], r)
	}
	join := func(members map[string][]string) {
		for group, users := range members {
			r, ok := p.groups[group]
			if !ok {
				continue // a group no rule names restricts nothing
			}
			for _, u := range users {
				if !slices.Contains(named[u], r) {
					named[u] = append(named[u], r)
				}
			}
		}
	}
	join(p.members)
	join(fromFile)
	res := &resolution{byUser: make(map[string]*rules, len(named)), fallback: p.fallback}
	for user, list := range named {
		res.byUser[user] = union(list)
	}
	p.current.Store(res)
}

// User returns the checker of a user's messages, for one connection.
func (p *Policy) User(name string) *Checker {
	if p == nil {
		return nil
	}
	res := p.current.Load()
	return &Checker{policy: p, user: name, resolved: res, rules: res.of(name)}
}

// Peer returns the checker of what a peer server sends, for one
// connection: nil, which allows everything, when no rule names the peer.
func (p *Policy) Peer(name string) *Checker {
	if p == nil || p.peers[name] == nil {
		return nil
	}
	return &Checker{rules: p.peers[name]}
}

// Checker says which types one sender may send. A nil *Checker allows
// everything. It is not safe for concurrent use: each connection's reader
// has its own.
type Checker struct {
	policy   *Policy // nil for a peer, whose rule never changes
	user     string
	resolved *resolution // what rules were taken from
	rules    *rules
}

// Allows reports whether the sender may send a message of type typ. The
// built-in types, dummy and builtin, are always allowed.
func (c *Checker) Allows(typ string) bool {
	if c == nil {
		return true
	}
	if c.policy != nil {
		if res := c.policy.current.Load(); res != c.resolved {
			c.resolved, c.rules = res, res.of(c.user)
		}
	}
	return c.rules.allows(typ) || typ == wire.TypeDummy || typ == wire.TypeBuiltin
}
