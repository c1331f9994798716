package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// withGroups writes src and a groups file named "groups" beside it, and
// returns the configuration's path.
func withGroups(t *testing.T, src string) string {
	t.Helper()
	path := write(t, src)
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "groups"), []byte("ops: alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// peerK is a configured peer that a peer rule may name.
const peerK = "peer \"K\" {\n  address = \"127.0.0.1:2323\"\n  secret  = \"s\"\n}\n"

func TestPermissions(t *testing.T) {
	path := withGroups(t, "auth {\n  mode = \"open\"\n  groups_file = \"groups\"\n}\n"+okListener+peerK+`
permissions {
  default { allow = ["relay", "echo"] }
  group "ops" {
    users = ["alice", "bob"]
    allow = ["*"]
  }
  group "audit" { deny = ["admin.*"] }
  group "none" { allow = [] }
  user "T" { deny = ["admin.*", "x*y"] }
  peer "K" { allow = ["relay"] }
}
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(path), "groups"); cfg.Auth.GroupsFile != want {
		t.Errorf("groups_file %q, want %q", cfg.Auth.GroupsFile, want)
	}
	want := &Permissions{
		Default: &TypeRule{Allow: []string{"relay", "echo"}},
		Users:   map[string]TypeRule{"T": {Deny: []string{"admin.*", "x*y"}}},
		Groups: map[string]Group{
			"ops":   {TypeRule: TypeRule{Allow: []string{"*"}}, Users: []string{"alice", "bob"}},
			"audit": {TypeRule: TypeRule{Deny: []string{"admin.*"}}},
			"none":  {TypeRule: TypeRule{Allow: []string{}}}, // allows nothing, unlike an absent allow
		},
		Peers: map[string]TypeRule{"K": {Allow: []string{"relay"}}},
	}
	if !reflect.DeepEqual(cfg.Permissions, want) {
		t.Fatalf("got  %+v\nwant %+v", cfg.Permissions, want)
	}

	cfg = mustLoad(t, okBase)
	if cfg.Permissions != nil || cfg.Auth.GroupsFile != "" {
		t.Fatalf("without the block: permissions %+v, groups_file %q", cfg.Permissions, cfg.Auth.GroupsFile)
	}
	// A rule may name a group that nothing defines: the groups file may,
	// after a reload.
	cfg = mustLoad(t, okBase+"permissions {\n  group \"later\" { allow = [\"relay\"] }\n}\n")
	if g := cfg.Permissions.Groups["later"]; !reflect.DeepEqual(g.Allow, []string{"relay"}) || g.Users != nil {
		t.Fatalf("group later: %+v", g)
	}
}

func TestPermissionErrors(t *testing.T) {
	long := strings.Repeat("t", 257)
	perms := func(body ...string) string {
		return "permissions {\n" + strings.Join(body, "\n") + "\n}\n"
	}
	cases := []struct {
		name  string
		src   string // the line with the problem is marked "#!"
		field string
		also  string
	}{
		{"empty pattern", perms(`  user "T" { allow = ["relay", ""] } #!`), "allow", "must not be empty"},
		{"long pattern", perms(`  default { deny = ["` + long + `"] } #!`), "deny", "at most 256"},
		{"duplicate user", perms(`  user "T" { deny = ["a"] }`, `  user "T" { deny = ["b"] } #!`), "user", "names \"T\""},
		{"duplicate group", perms(`  group "g" { deny = ["a"] }`, `  group "g" { deny = ["b"] } #!`), "group", "names \"g\""},
		{"duplicate default", perms(`  default { deny = ["a"] }`, `  default { deny = ["b"] } #!`), "default", "Duplicate"},
		{"group with space", perms(`  group "my ops" { deny = ["a"] } #!`), "group", "white space"},
		{"blank user", perms(`  user " " { deny = ["a"] } #!`), "user", "not blank"},
		{"users in a user rule", perms("  user \"T\" {\n    users = [\"a\"] #!\n  }"), "users", "only a group"},
		{"users in a peer rule", peerK + perms("  peer \"K\" {\n    users = [\"a\"] #!\n  }"), "users", "only a group"},
		{"blank member", perms(`  group "g" { users = ["a", ""] } #!`), "users", "not a username"},
		{"unknown peer", peerK + perms(`  peer "L" { allow = ["relay"] } #!`), "peer", "no peer block"},
		{"unknown attribute", perms(`  user "T" { permit = ["relay"] } #!`), "permit", ""},
		{"pattern not a list", perms(`  user "T" { allow = "relay" } #!`), "allow", "list of string"},
		{"groups file missing", "auth {\n  mode = \"open\"\n  groups_file = \"nope\" #!\n}\n" + okListener, "groups_file", "nope"},
		{"groups file empty", "auth {\n  mode = \"open\"\n  groups_file = \"\" #!\n}\n" + okListener, "groups_file", "empty"},
		{"groups file is a dir", "auth {\n  mode = \"open\"\n  groups_file = \".\" #!\n}\n" + okListener, "groups_file", "not a regular file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			if !strings.Contains(src, "auth {") {
				src = okBase + src
			}
			path := write(t, src)
			_, err := Load(path)
			if err == nil {
				t.Fatalf("no error for:\n%s", src)
			}
			msg := flat(err.Error())
			for _, want := range []string{filepath.Base(path), fmt.Sprintf("line %d", markedLine(t, src)), c.field, c.also} {
				if !strings.Contains(strings.ToLower(msg), strings.ToLower(want)) {
					t.Errorf("message lacks %q:\n%s", want, msg)
				}
			}
			if n := strings.Count(msg, "Error: "); n != 1 {
				t.Errorf("want exactly one error, got %d:\n%s", n, msg)
			}
		})
	}
}
