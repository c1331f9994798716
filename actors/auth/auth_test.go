package auth

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// cheapHash hashes at the lowest cost, to keep tests fast where the cost
// does not matter.
func cheapHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.htpasswd")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantUnauthorized(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("%s: got %v, want ErrUnauthorized", what, err)
	}
}

func TestSetPasswordAndAuthenticate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.htpasswd")
	if err := SetPassword(path, "T", "s3cret"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "s3cret") || !strings.HasPrefix(string(data), "T:$2a$10$") {
		t.Errorf("file holds %q", data)
	}

	h, err := LoadHtpasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := max(1, runtime.GOMAXPROCS(0)/2); cap(h.slots) != want {
		t.Errorf("comparison slots %d, want half of GOMAXPROCS %d", cap(h.slots), want)
	}
	if err := h.Authenticate("T", "s3cret"); err != nil {
		t.Errorf("good password: %v", err)
	}
	wantUnauthorized(t, h.Authenticate("T", "wrong"), "bad password")
	wantUnauthorized(t, h.Authenticate("nobody", "s3cret"), "unknown user")
	wantUnauthorized(t, h.Authenticate("  ", "s3cret"), "blank user")
	wantUnauthorized(t, h.Authenticate("T", "s3cret"+strings.Repeat("x", 72)), "over-long password")

	bad := h.Authenticate("T", "wrong")
	unknown := h.Authenticate("nobody", "wrong")
	if bad.Error() != unknown.Error() {
		t.Errorf("failures differ: %q and %q", bad, unknown)
	}
	if strings.Contains(bad.Error(), "wrong") {
		t.Errorf("failure quotes the password: %q", bad)
	}
}

// TestApacheBcrypt reads an entry as `htpasswd -B` writes it: prefix $2y$,
// cost 5 by default (here the minimum, to stay fast).
func TestApacheBcrypt(t *testing.T) {
	hash := "$2y$" + strings.TrimPrefix(cheapHash(t, "pw"), "$2a$")
	path := writeFile(t, "G:"+hash+"\r\n\n")
	h, err := LoadHtpasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Authenticate("G", "pw"); err != nil {
		t.Errorf("$2y$ entry: %v", err)
	}
	wantUnauthorized(t, h.Authenticate("G", "pW"), "bad password")
	wantUnauthorized(t, h.Authenticate("H", "pw"), "unknown user")
	if c, _ := bcrypt.Cost(h.users.Load().dummy); c != bcrypt.MinCost {
		t.Errorf("unknown users compared at cost %d, want the file's cost %d", c, bcrypt.MinCost)
	}
}

// Root changing a password keeps the file's owner and group, through
// which a service user reads it.
func TestChangePasswordKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root can give a file another owner")
	}
	path := writeFile(t, "T:"+cheapHash(t, "old")+"\n")
	if err := os.Chown(path, 65534, 65533); err != nil {
		t.Fatal(err)
	}
	if err := SetPassword(path, "T", "new"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if o := st.Sys().(*syscall.Stat_t); o.Uid != 65534 || o.Gid != 65533 {
		t.Errorf("owner %d:%d after a change, want 65534:65533 kept", o.Uid, o.Gid)
	}
}

func TestChangePasswordKeepsOtherLines(t *testing.T) {
	other := "carol:" + cheapHash(t, "c")
	path := writeFile(t, other+"\nT:"+cheapHash(t, "old")+"\n")
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := SetPassword(path, "T", "new"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 || lines[0] != other || !strings.HasPrefix(lines[1], "T:$2a$") {
		t.Errorf("file after change:\n%s", data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", st.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	h, err := LoadHtpasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	wantUnauthorized(t, h.Authenticate("T", "old"), "old password")
	if err := h.Authenticate("T", "new"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := h.Authenticate("carol", "c"); err != nil {
		t.Errorf("other user: %v", err)
	}
}

func TestReload(t *testing.T) {
	path := writeFile(t, "a:"+cheapHash(t, "a")+"\n")
	h, err := LoadHtpasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("a:"+cheapHash(t, "a")+"\nb:"+cheapHash(t, "b")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantUnauthorized(t, h.Authenticate("b", "b"), "before reload")
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := h.Authenticate("b", "b"); err != nil {
		t.Errorf("after reload: %v", err)
	}

	// A broken file is refused and the users read before stay in effect.
	if err := os.WriteFile(path, []byte("a:plain\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(); err == nil {
		t.Error("reload of a broken file succeeded")
	}
	if err := h.Authenticate("b", "b"); err != nil {
		t.Errorf("after failed reload: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	good := "ok:" + cheapHash(t, "x") + "\n"
	cases := map[string]struct{ content, want string }{
		"sha":       {good + "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", `line 2: user "bob"`},
		"plain":     {good + "bob:secret\n", `line 2: user "bob"`},
		"md5":       {good + "\nbob:$apr1$abc$0123456789012345678901\n", `line 3: user "bob"`},
		"short":     {good + "bob:$2y$05$tooshort\n", `line 2: user "bob"`},
		"no colon":  {good + "bob\n", "line 2"},
		"no user":   {":" + cheapHash(t, "x") + "\n", "line 1"},
		"duplicate": {good + good, `line 2: user "ok" already defined on line 1`},
		"trailing":  {good + "bob:" + cheapHash(t, "x") + ":comment\n", `line 2: user "bob": malformed`},
		"alphabet":  {good + "bob:" + cheapHash(t, "x")[:59] + "!\n", `line 2: user "bob": malformed`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := LoadHtpasswd(writeFile(t, c.content))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want it to hold %q", err, c.want)
			}
			for _, secret := range []string{"secret", "W6ph5", "0123456789"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error quotes the hash or password: %v", err)
				}
			}
		})
	}
	if _, err := LoadHtpasswd(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestSetPasswordRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.htpasswd")
	for _, u := range []string{"", "a:b", "a b", "\t", "a\nb"} {
		if err := SetPassword(path, u, "pw"); err == nil {
			t.Errorf("username %q accepted", u)
		}
	}
	for _, pw := range []string{"", strings.Repeat("x", 73)} {
		if err := SetPassword(path, "T", pw); err == nil {
			t.Errorf("password of %d bytes accepted", len(pw))
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file created by a refused call: %v", err)
	}
}

func TestOpen(t *testing.T) {
	a := Open()
	if err := a.Authenticate("T", ""); err != nil {
		t.Errorf("T: %v", err)
	}
	wantUnauthorized(t, a.Authenticate("  ", "pw"), "blank username")
	wantUnauthorized(t, a.Authenticate("", "pw"), "empty username")
}
