package auth

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeGroups(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "groups")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadGroups(t *testing.T) {
	path := writeGroups(t, `# operators and auditors
ops: alice bob

  audit:carol	dave  
# a group may go on over several lines, as in Apache
ops: erin
empty:
`)
	got, err := LoadGroups(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Groups{"ops": {"alice", "bob", "erin"}, "audit": {"carol", "dave"}, "empty": nil}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestLoadGroupsErrors(t *testing.T) {
	cases := []struct{ name, content, want string }{
		{"no colon", "ops: alice\nauditors carol\n", "line 2: no ':'"},
		{"empty name", "\n\n: alice\n", "line 3: empty group name"},
		{"space in name", "# c\nmy ops: alice\n", `line 2: group name "my ops" contains white space`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeGroups(t, c.content)
			_, err := LoadGroups(path)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s and %q", err, path, c.want)
			}
		})
	}
	if _, err := LoadGroups(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "read groups") {
		t.Fatalf("missing file: %v", err)
	}
}
