package tlsconf_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bester-project/bester/wire/tlsconf"
)

// TestWriteDevPlantedLinks plants symbolic links where an attacker who can
// write the directory would: at the temporary name an earlier version
// wrote keys through (ca.key.tmp), and, for -force, at a key's own name.
// Neither is followed: the keys land in the directory as regular files
// with their modes, and the links' targets are left as they were.
func TestWriteDevPlantedLinks(t *testing.T) {
	root := t.TempDir()
	dir, elsewhere := filepath.Join(root, "certs"), filepath.Join(root, "elsewhere")
	for _, d := range []string{dir, elsewhere} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	stolen := filepath.Join(elsewhere, "stolen")
	decoy := filepath.Join(elsewhere, "server.key")
	if err := os.WriteFile(decoy, []byte("decoy"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(stolen, filepath.Join(dir, "ca.key.tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(decoy, filepath.Join(dir, "server.key")); err != nil {
		t.Fatal(err)
	}

	if _, err := tlsconf.WriteDev(dir, []string{"T"}, true); err != nil {
		t.Fatalf("WriteDev: %v", err)
	}

	if _, err := os.Lstat(stolen); !os.IsNotExist(err) {
		t.Errorf("the link at ca.key.tmp was followed: %s exists (%v)", stolen, err)
	}
	if b, err := os.ReadFile(decoy); err != nil || string(b) != "decoy" {
		t.Errorf("the link at server.key was written through: %s holds %q, %v", decoy, b, err)
	}
	want := map[string]os.FileMode{"ca.crt": 0o644, "ca.key": 0o600, "server.crt": 0o644, "server.key": 0o600,
		"T.crt": 0o644, "T.key": 0o600}
	for name, mode := range want {
		st, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != mode {
			t.Errorf("%s: %v, %v; want a regular file with mode %v", name, st.Mode(), err, mode)
		}
	}
	if _, err := tlsconf.LoadKeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")); err != nil {
		t.Errorf("the server's files do not load: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	left := []string{"T.crt", "T.key", "ca.crt", "ca.key", "ca.key.tmp", "server.crt", "server.key"}
	if !slices.Equal(names, left) {
		t.Errorf("%s holds %v, want %v: the written files and the planted link, no temporary file", dir, names, left)
	}
}

// TestLoopbackHost: only literal loopback addresses and localhost count;
// the unspecified addresses and other names, even ones under localhost,
// are remote.
func TestLoopbackHost(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "localhost", "LocalHost"} {
		if !tlsconf.LoopbackHost(host) {
			t.Errorf("LoopbackHost(%q) is false, want true", host)
		}
	}
	for _, host := range []string{"", "0.0.0.0", "::", "10.0.0.1", "192.0.2.1", "host.example", "localhost.", "x.localhost", "[::1]"} {
		if tlsconf.LoopbackHost(host) {
			t.Errorf("LoopbackHost(%q) is true, want false", host)
		}
	}
}
