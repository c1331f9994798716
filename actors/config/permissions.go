package config

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl/v2"

	"github.com/bester-project/bester/wire"
)

// Permissions say which message types users and peer servers may send
// (the `permissions` block). Package permit compiles and applies them.
type Permissions struct {
	// Default is the rule of users that no user or group rule names; nil
	// when there is none, and they may send every type (`default`).
	Default *TypeRule
	// Users are the rules of single users, by username (`user "NAME"`).
	Users map[string]TypeRule
	// Groups are the rules of groups, by group name (`group "NAME"`).
	Groups map[string]Group
	// Peers say what each peer server may send to this one, by peer name
	// (`peer "NAME"`). They apply to nothing else, and no other rule
	// applies to peers.
	Peers map[string]TypeRule
}

// TypeRule lists the message types a rule allows and denies, as patterns:
// `*` matches any run of characters, everything else is literal.
type TypeRule struct {
	// Allow, when not nil, lists the types allowed; empty, it allows none
	// (`allow`).
	Allow []string
	// Deny lists the types refused, whatever any rule allows (`deny`).
	Deny []string
}

// Group is a group's rule and the members the configuration names (a
// `group "NAME"` block inside `permissions`).
type Group struct {
	TypeRule
	// Users are members named here; auth.groups_file may add more
	// (`users`).
	Users []string
}

// permissions checks the `permissions` block. peers are the configured
// peers: a peer rule may name no other.
func (c *checker) permissions(r *rawPermissions, peers []Peer) *Permissions {
	if r == nil {
		return nil
	}
	p := &Permissions{Users: map[string]TypeRule{}, Groups: map[string]Group{}, Peers: map[string]TypeRule{}}
	if d := r.Default; d != nil {
		rule := c.typeRule(d.Allow, d.AllowRange, d.Deny, d.DenyRange)
		p.Default = &rule
	}
	for i := range r.Groups {
		g := &r.Groups[i]
		if c.groupName(g) && fresh(c, p.Groups, g, "group") {
			p.Groups[g.Name] = Group{TypeRule: c.rule(g), Users: c.members(g)}
		}
	}
	for i := range r.Users {
		u := &r.Users[i]
		if c.userName(u) && c.noMembers(u, "user") && fresh(c, p.Users, u, "user") {
			p.Users[u.Name] = c.rule(u)
		}
	}
	for i := range r.Peers {
		pr := &r.Peers[i]
		if c.peerName(pr, peers) && c.noMembers(pr, "peer") && fresh(c, p.Peers, pr, "peer") {
			p.Peers[pr.Name] = c.rule(pr)
		}
	}
	return p
}

// rule checks the patterns of a group, user or peer rule.
func (c *checker) rule(r *rawRule) TypeRule {
	return c.typeRule(r.Allow, r.AllowRange, r.Deny, r.DenyRange)
}

// typeRule checks a rule's allow and deny lists; an absent allow list
// stays nil, unlike an empty one.
func (c *checker) typeRule(allow *[]string, allowRange hcl.Range, deny *[]string, denyRange hcl.Range) TypeRule {
	var t TypeRule
	if allow != nil {
		t.Allow = c.patterns(*allow, allowRange, "allow")
	}
	if deny != nil && len(*deny) > 0 {
		t.Deny = c.patterns(*deny, denyRange, "deny")
	}
	return t
}

// patterns checks the type patterns of field and returns a copy, never
// nil.
func (c *checker) patterns(list []string, r hcl.Range, field string) []string {
	for _, p := range list {
		switch {
		case p == "":
			c.errorf(r, fmt.Sprintf("Invalid %q", field), `A type pattern must not be empty; "*" matches every type.`)
		case len(p) > wire.MaxNameLength:
			c.errorf(r, fmt.Sprintf("Invalid %q", field),
				"The pattern %q is %d bytes long; a message type has at most %d.", p, len(p), wire.MaxNameLength)
		}
	}
	return append(make([]string, 0, len(list)), list...)
}

// fresh reports whether r's name is free among the rules of its kind
// taken so far.
func fresh[V any](c *checker, taken map[string]V, r *rawRule, kind string) bool {
	if _, dup := taken[r.Name]; dup {
		c.errorf(r.DefRange, fmt.Sprintf("Duplicate %s rule", kind), "Another %s rule in permissions names %q.", kind, r.Name)
		return false
	}
	return true
}

// groupName checks a group's name: what a groups file can name too.
func (c *checker) groupName(r *rawRule) bool {
	if r.Name == "" || strings.ContainsFunc(r.Name, unicode.IsSpace) || strings.Contains(r.Name, ":") {
		c.errorf(r.DefRange, "Invalid group name",
			"A group's name is non-empty, with no white space or ':' (as in the groups file), not %q.", r.Name)
		return false
	}
	return true
}

// userName checks a user rule's name: one that can log in.
func (c *checker) userName(r *rawRule) bool {
	if strings.TrimSpace(r.Name) == "" || len(r.Name) > wire.MaxNameLength {
		c.errorf(r.DefRange, "Invalid user name",
			"A user rule names a username: not blank, at most %d bytes, not %q.", wire.MaxNameLength, r.Name)
		return false
	}
	return true
}

// peerName checks that a peer rule names a configured peer: no other can
// connect, so a rule for one is a mistake.
func (c *checker) peerName(r *rawRule, peers []Peer) bool {
	if !slices.ContainsFunc(peers, func(p Peer) bool { return p.Name == r.Name }) {
		c.errorf(r.DefRange, "Unknown peer",
			`The permissions name peer %q, but no peer block does. A peer rule restricts what a configured peer may send here.`, r.Name)
		return false
	}
	return true
}

// noMembers refuses `users` in a user or peer rule.
func (c *checker) noMembers(r *rawRule, kind string) bool {
	if r.Users != nil {
		c.errorf(r.UsersRange, `Unexpected "users"`, "Only a group rule has members; %q is a %s rule.", r.Name, kind)
		return false
	}
	return true
}

// members checks the users a group rule names.
func (c *checker) members(r *rawRule) []string {
	if r.Users == nil {
		return nil
	}
	for _, u := range *r.Users {
		if strings.TrimSpace(u) == "" || len(u) > wire.MaxNameLength {
			c.errorf(r.UsersRange, `Invalid "users"`, "%q is not a username: not blank, at most %d bytes.", u, wire.MaxNameLength)
		}
	}
	return slices.Clone(*r.Users)
}
