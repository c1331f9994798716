package actors

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestLineLoggerLogsWholeLines(t *testing.T) {
	var out bytes.Buffer
	w := &lineLogger{log: hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info})}
	for _, part := range []string{"first ha", "lf\nsecond\n\n", "third\r\n", strings.Repeat("x", maxOutputLine+10)} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	got := out.String()
	for _, want := range []string{`line="first half"`, "line=second", "line=third"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "handler output"); n != 4 { // three lines and the first piece of the long one
		t.Errorf("%d log lines, want 4 (no empty ones):\n%s", n, got)
	}
}

func TestPrivateDirRefusesSharedDirectories(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "own")
	if err := privateDir(own); err != nil {
		t.Fatalf("new dir: %v", err)
	}
	if fi, _ := os.Stat(own); fi.Mode().Perm() != 0o700 {
		t.Fatalf("new runtime dir has mode %v, want 0700", fi.Mode().Perm())
	}
	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o777) // past the umask
	if err := privateDir(shared); err == nil || !strings.Contains(err.Error(), "written by others") {
		t.Fatalf("world-writable runtime dir: got %v", err)
	}
}
