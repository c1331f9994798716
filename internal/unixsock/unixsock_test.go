package unixsock

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false)
	dead.Close()
	ln, err := Listen(path, 0o600)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("permissions %o, want 600", perm)
	}
	if _, err := Listen(path, 0o600); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second listen on a live socket: %v", err)
	}
}

func TestOtherFilesAreLeftAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, remove := range map[string]func(string) error{"RemoveStale": RemoveStale, "RemoveFile": RemoveFile} {
		if err := remove(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("%s of a regular file: %v", name, err)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatal("the regular file was touched")
	}
	if err := RemoveFile(filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Fatalf("a missing file: %v", err)
	}
}
