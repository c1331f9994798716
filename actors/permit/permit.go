// Package permit decides which message types a user or a peer server may
// send, from the configuration's permissions block and the groups file. A
// connection resolves its sender's rules once, at login, and again only
// when the groups or the block change (a reload), so that checking a
// message costs a pointer comparison and a map lookup.
package permit

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
)

// Policy is a compiled permissions block and the groups file's members.
// Both may be replaced while connections check messages (a reload): every
// Checker follows from its next check on. It is safe for concurrent use.
type Policy struct {
	mu       sync.Mutex // serialises Set and SetGroups
	block    *block     // what the block says; under mu
	fromFile map[string][]string
	// current is the resolution of every named user with the block and
	// groups last set; Checkers compare it with the one they resolved with.
	current atomic.Pointer[resolution]
}

// block is a compiled permissions block.
type block struct {
	users   map[string]*rules
	groups  map[string]*rules
	members map[string][]string // the members the configuration gives each group
	peers   map[string]*rules
	// fallback is the default rule, for users no rule names; nil allows
	// everything.
	fallback *rules
}

// resolution is the rules of every user a user or group rule names, for
// one block and one membership of the groups.
type resolution struct {
	byUser   map[string]*rules
	fallback *rules
	peers    map[string]*rules // nil rules (no entry) allow everything
}

// of returns user's rules.
func (r *resolution) of(user string) *rules {
	if u, ok := r.byUser[user]; ok {
		return u
	}
	return r.fallback
}

// New compiles cfg; a nil cfg, no permissions block, allows everyone
// everything.
func New(cfg *config.Permissions) *Policy {
	p := &Policy{}
	p.Set(cfg)
	return p
}

// Set replaces the permissions block with cfg (nil: none).
func (p *Policy) Set(cfg *config.Permissions) {
	b := &block{users: make(map[string]*rules), groups: make(map[string]*rules),
		members: make(map[string][]string), peers: make(map[string]*rules)}
	if cfg != nil {
		if cfg.Default != nil {
			b.fallback = compile(cfg.Default.Allow, cfg.Default.Deny)
		}
		for name, r := range cfg.Users {
			b.users[name] = compile(r.Allow, r.Deny)
		}
		for name, g := range cfg.Groups {
			b.groups[name] = compile(g.Allow, g.Deny)
			b.members[name] = g.Users
		}
		for name, r := range cfg.Peers {
			b.peers[name] = compile(r.Allow, r.Deny)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.block = b
	p.resolve()
}

// SetGroups sets the members the groups file gives each group (group name
// to usernames), replacing those of the last call. Connections apply the
// new rules from their next message on.
func (p *Policy) SetGroups(fromFile map[string][]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fromFile = fromFile
	p.resolve()
}

// resolve computes the rules of every named user from the block and the
// groups, and makes them current; p.mu is held.
func (p *Policy) resolve() {
	b := p.block
	named := make(map[string][]*rules)
	for user, r := range b.users {
		named[user] = append(named[user], r)
	}
	join := func(members map[string][]string) {
		for group, users := range members {
			r, ok := b.groups[group]
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
	join(b.members)
	join(p.fromFile)
	res := &resolution{byUser: make(map[string]*rules, len(named)), fallback: b.fallback, peers: b.peers}
	for user, list := range named {
		res.byUser[user] = union(list)
	}
	p.current.Store(res)
}

// User returns the checker of a user's messages, for one connection.
func (p *Policy) User(name string) *Checker {
	res := p.current.Load()
	return &Checker{policy: p, name: name, resolved: res, rules: res.of(name)}
}

// Peer returns the checker of what a peer server sends, for one
// connection. A peer no rule names may send everything.
func (p *Policy) Peer(name string) *Checker {
	res := p.current.Load()
	return &Checker{policy: p, name: name, peer: true, resolved: res, rules: res.peers[name]}
}

// Checker says which types one sender may send. A nil *Checker allows
// everything. It is not safe for concurrent use: each connection's reader
// has its own.
type Checker struct {
	policy   *Policy
	name     string // the user's or the peer's
	peer     bool
	resolved *resolution // what rules were taken from
	rules    *rules      // nil allows everything
}

// Allows reports whether the sender may send a message of type typ. The
// built-in types, dummy and builtin, are always allowed. A check costs one
// atomic load besides the rules' own, which follows a reload.
func (c *Checker) Allows(typ string) bool {
	if c == nil {
		return true
	}
	if res := c.policy.current.Load(); res != c.resolved {
		c.resolved = res
		if c.peer {
			c.rules = res.peers[c.name]
		} else {
			c.rules = res.of(c.name)
		}
	}
	return c.rules.allows(typ) || typ == wire.TypeDummy || typ == wire.TypeBuiltin
}
