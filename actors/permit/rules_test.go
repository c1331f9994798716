package permit

import "testing"

func TestPatterns(t *testing.T) {
	cases := []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"relay", []string{"relay"}, []string{"relays", "Relay", "relay.x", ""}},
		{"*", []string{"relay", "a.b.c", ""}, nil},
		{"**", []string{"x"}, nil},
		{"admin.*", []string{"admin.", "admin.x", "admin.x.y"}, []string{"admin", "xadmin.x"}},
		{"*.log", []string{".log", "a.log", "a.b.log"}, []string{"a.logs", "log"}},
		{"a*b*c", []string{"abc", "axbyc", "abbc", "a.b.c", "acbc"}, []string{"ab", "acb", "bac"}},
		{"a*a", []string{"aa", "aba", "aaa"}, []string{"a", "ab"}},
		{"x*x*x", []string{"xxx", "x.x.x"}, []string{"xx", "x.x"}},
		{"a.b", []string{"a.b"}, []string{"axb"}}, // only * is special
		{"?", []string{"?"}, []string{"x"}},
	}
	for _, c := range cases {
		var p patterns
		p.add([]string{c.pattern})
		wantAnswers(t, "pattern "+c.pattern, p.match, c.match, c.miss)
	}
}

// wantAnswers checks that f says yes to every string of yes and no to
// every one of no; what names f in messages.
func wantAnswers(t *testing.T, what string, f func(string) bool, yes, no []string) {
	t.Helper()
	for _, s := range yes {
		if !f(s) {
			t.Errorf("%s: no to %q", what, s)
		}
	}
	for _, s := range no {
		if f(s) {
			t.Errorf("%s: yes to %q", what, s)
		}
	}
}

func TestRuleUnion(t *testing.T) {
	relayOnly := compile([]string{"relay"}, nil)
	denyAdmin := compile(nil, []string{"admin.*"})
	allowAll := compile([]string{"*"}, nil)
	allowNone := compile([]string{}, nil)
	cases := []struct {
		name    string
		list    []*rules
		allowed []string
		denied  []string
	}{
		{"one allow list", []*rules{relayOnly}, []string{"relay"}, []string{"echo", "admin.x"}},
		{"deny only", []*rules{denyAdmin}, []string{"relay", "echo"}, []string{"admin.x"}},
		{"deny wins over allow", []*rules{allowAll, denyAdmin}, []string{"relay", "echo"}, []string{"admin.x"}},
		{"allow lists add up", []*rules{relayOnly, compile([]string{"echo"}, nil)}, []string{"relay", "echo"}, []string{"h"}},
		{"an allow list bounds a deny-only rule", []*rules{relayOnly, denyAdmin}, []string{"relay"}, []string{"echo", "admin.x"}},
		{"empty allow list", []*rules{allowNone}, nil, []string{"relay"}},
		{"empty allow list beside another", []*rules{allowNone, relayOnly}, []string{"relay"}, []string{"echo"}},
	}
	for _, c := range cases {
		wantAnswers(t, c.name, union(c.list).allows, c.allowed, c.denied)
	}
	if union([]*rules{relayOnly}) != relayOnly {
		t.Error("a single rule is copied, not shared")
	}
}
