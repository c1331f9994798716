package permit

import (
	"strings"
	"testing"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
)

// example is the permissions block the policy tests share.
var example = &config.Permissions{
	Default: &config.TypeRule{Allow: []string{"relay", "echo"}},
	Users: map[string]config.TypeRule{
		"T":     {Deny: []string{"admin.*"}},
		"alice": {Deny: []string{"echo"}},
	},
	Groups: map[string]config.Group{
		"ops":   {TypeRule: config.TypeRule{Allow: []string{"*"}}, Users: []string{"alice"}},
		"audit": {TypeRule: config.TypeRule{Allow: []string{"audit.*"}, Deny: []string{"audit.erase"}}},
		"mute":  {TypeRule: config.TypeRule{Allow: []string{}}},
	},
	Peers: map[string]config.TypeRule{"K": {Allow: []string{"relay"}}},
}

func TestPolicy(t *testing.T) {
	p := New(example)
	p.SetGroups(map[string][]string{"audit": {"carol", "alice"}, "mute": {"dave"}, "unruled": {"erin"}})
	cases := []struct {
		who     string // a user, or "peer NAME"
		allowed []string
		denied  []string
	}{
		// No user or group rule: the default.
		{"bob", []string{"relay", "echo"}, []string{"h", "admin.x"}},
		{"erin", []string{"relay"}, []string{"h"}}, // in a group no rule names
		// Their own rule only: no allow list, so all but what it denies.
		{"T", []string{"relay", "h", "admin"}, []string{"admin.x"}},
		// Own rule, ops (config) and audit (file): deny wins, allow lists add up.
		{"alice", []string{"relay", "h", "audit.read"}, []string{"echo", "audit.erase"}},
		// A group's allow list, and nothing else: the default does not apply.
		{"carol", []string{"audit.read"}, []string{"relay", "audit.erase"}},
		// An empty allow list allows nothing but the built-ins.
		{"dave", nil, []string{"relay", "echo"}},
		// Peers: their own rule or nothing; the default is not theirs.
		{"peer K", []string{"relay"}, []string{"echo"}},
		{"peer L", []string{"relay", "echo", "h"}, nil},
	}
	for _, c := range cases {
		var ch *Checker
		if name, ok := strings.CutPrefix(c.who, "peer "); ok {
			ch = p.Peer(name)
		} else {
			ch = p.User(c.who)
		}
		wantAnswers(t, c.who, ch.Allows, append(c.allowed, wire.TypeDummy, wire.TypeBuiltin), c.denied)
	}
}

func TestPolicyNone(t *testing.T) {
	for _, cfg := range []*config.Permissions{nil, {}} {
		if p := New(cfg); !p.User("T").Allows("anything") || !p.Peer("K").Allows("anything") {
			t.Fatalf("New(%+v) checks something", cfg)
		}
	}
	// No default: users no rule names may send everything.
	p := New(&config.Permissions{Users: map[string]config.TypeRule{"T": {Allow: []string{"relay"}}}})
	if !p.User("G").Allows("h") || p.User("T").Allows("h") {
		t.Fatal("without a default rule")
	}
}

// A checker made before the groups change follows them from its next
// check on: a connection open across a reload.
func TestCheckerFollowsGroups(t *testing.T) {
	p := New(example)
	bob := p.User("bob")
	if bob.Allows("h") {
		t.Fatal("bob may send h by default")
	}
	p.SetGroups(map[string][]string{"ops": {"bob"}})
	if !bob.Allows("h") {
		t.Fatal("bob in ops may not send h")
	}
	p.SetGroups(nil)
	if bob.Allows("h") {
		t.Fatal("bob out of ops again may send h")
	}
	// The configuration's members stay whatever the file says.
	if !p.User("alice").Allows("h") {
		t.Fatal("alice lost ops")
	}
}

// Checkers made before the block changes follow it from their next
// check on, and a block added where there was none applies too.
func TestCheckerFollowsBlock(t *testing.T) {
	p := New(nil)
	bob, k := p.User("bob"), p.Peer("K")
	if !bob.Allows("h") || !k.Allows("h") {
		t.Fatal("without a block a sender may not send h")
	}
	p.Set(&config.Permissions{Default: &config.TypeRule{Allow: []string{"relay"}},
		Peers: map[string]config.TypeRule{"K": {Deny: []string{"h"}}}})
	if bob.Allows("h") || !bob.Allows("relay") || k.Allows("h") {
		t.Fatal("the new block does not apply to checkers made before it")
	}
	p.SetGroups(map[string][]string{"ops": {"bob"}}) // a group the block no longer names
	p.Set(nil)
	if !bob.Allows("h") || !k.Allows("h") {
		t.Fatal("the block removed still applies")
	}
}

func BenchmarkAllows(b *testing.B) {
	p := New(&config.Permissions{
		Default: &config.TypeRule{Allow: []string{"relay", "echo", "chat.*", "x*y*z"}, Deny: []string{"chat.admin"}},
		Peers:   map[string]config.TypeRule{"K": {Allow: []string{"*"}}},
	})
	cases := []struct {
		name string
		c    *Checker
		typ  string
	}{
		{"no policy", New(nil).User("T"), "relay"},
		{"exact", p.User("T"), "relay"},
		{"wildcard", p.User("T"), "chat.room"},
		{"denied", p.User("T"), "chat.admin"},
		{"not allowed", p.User("T"), "other.type"},
		{"all", p.Peer("K"), "relay"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.c.Allows(c.typ)
			}
		})
	}
}
