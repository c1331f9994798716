package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/bester-project/bester/wire"
)

// TestVersion builds both commands with VCS stamping and checks that
// -version prints the commit the toolchain recorded. The toolchain stamps
// nothing in a git worktree (it looks for a .git directory), so there the
// test only checks the form of the line.
func TestVersion(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"besterd", "bester"} {
		bin := filepath.Join(dir, name)
		build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "github.com/bester-project/bester/cmd/"+name)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
		meta, err := exec.Command("go", "version", "-m", bin).Output()
		if err != nil {
			t.Fatal(err)
		}
		commit := "unknown"
		if m := regexp.MustCompile(`vcs\.revision=([0-9a-f]{12})`).FindSubmatch(meta); m != nil {
			commit = string(m[1])
		} else {
			t.Logf("%s: no VCS information recorded (a git worktree?)", name)
		}
		for _, flag := range []string{"-version", "--version"} {
			out, err := exec.Command(bin, flag).Output()
			if err != nil {
				t.Fatalf("%s %s: %v", name, flag, err)
			}
			want := regexp.MustCompile(`^` + name + ` version \S+ \(commit ` + commit + `(, modified)?\)\n$`)
			if !want.Match(out) {
				t.Errorf("%s %s: %q, want the commit %s", name, flag, out, commit)
			}
		}
	}
}

// TestCLIConventions: both commands show a one-line description in their
// help, and a mistyped flag or command is refused in one line that names
// the nearest.
func TestCLIConventions(t *testing.T) {
	cases := []struct {
		bin  string
		args []string
		want string // on stderr, with exit status 1; "" for help on stdout
	}{
		{bins.besterd, []string{"-help"}, ""},
		{bins.bester, []string{"-help"}, ""},
		{bins.besterd, []string{"-chek"}, "besterd: flag provided but not defined: -chek; did you mean -check? (see 'besterd -help')\n"},
		{bins.bester, []string{"sned"}, "bester: unknown command \"sned\"; did you mean send? (see 'bester -help')\n"},
		{bins.bester, []string{"bench", "relya"}, "bester: unknown command \"relya\"; did you mean relay? (see 'bester bench -help')\n"},
		{bins.bester, []string{"send", "-adr", "x"}, "bester: flag provided but not defined: -adr; did you mean -addr? (see 'bester send -help')\n"},
	}
	for _, tc := range cases {
		cmd := exec.Command(tc.bin, tc.args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		name := filepath.Base(tc.bin)
		if tc.want == "" {
			lines := strings.Split(stdout.String(), "\n")
			if err != nil || len(lines) < 2 || lines[0] != "NAME:" || !strings.HasPrefix(lines[1], "   "+name+" - ") {
				t.Errorf("%s %v: %v, stdout %q", name, tc.args, err, stdout.String())
			}
			continue
		}
		if cmd.ProcessState.ExitCode() != 1 || stderr.String() != tc.want || stdout.Len() != 0 {
			t.Errorf("%s %v: %v, stderr %q, stdout %q; want status 1 and %q", name, tc.args, err, stderr.String(), stdout.String(), tc.want)
		}
	}
}

// TestUnixDefaultSocket: bester with -network unix and no -addr dials
// the default configuration's socket, $TMPDIR/bester-UID/client.sock.
// Here that directory is a link to the test server's runtime directory.
func TestUnixDefaultSocket(t *testing.T) {
	s := startServer(t)
	tmp, err := os.MkdirTemp("", "bt") // short: UNIX socket paths are limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Symlink(s.dir, filepath.Join(tmp, fmt.Sprintf("bester-%d", os.Getuid()))); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins.bester, "send", "-network", "unix", "-user", "T", "-type", wire.TypeDummy, "-id", "d-1")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || string(out) != "dummy d-1\n" {
		t.Fatalf("send over the default socket: %v, stdout %q, stderr %q", err, out, stderr.String())
	}
}

// TestListenReconnect: bester listen -reconnect keeps printing deliveries
// across a restart of the server on the same address, and says on stderr
// that it is reconnecting.
func TestListenReconnect(t *testing.T) {
	s := startServer(t)
	var out, errs syncBuffer
	listen := exec.Command(bins.bester, "listen", "-reconnect", "-addr", s.addr, "-user", "G")
	listen.Stdout, listen.Stderr = &out, &errs
	if err := listen.Start(); err != nil {
		t.Fatal(err)
	}
	wait := sync.OnceValue(listen.Wait)
	t.Cleanup(func() {
		listen.Process.Kill()
		wait()
		if t.Failed() {
			t.Logf("listen's stderr:\n%s", errs.String())
		}
	})
	relayToG := func(body string) {
		t.Helper()
		sender := dial(t, "tcp4", s.addr, "T", wire.CodecJSON)
		if err := sender.Send("relay", "m", map[string]any{"to": "G", "body": body}); err != nil {
			t.Fatal(err)
		}
		if in, err := receive(t, sender); err != nil || in.Err() != nil {
			t.Fatalf("relay %q to G: %v %v", body, in, err)
		}
		sender.Close()
	}
	listening := func(n int) func() bool {
		return func() bool { return strings.Count(errs.String(), "listening as G") == n }
	}

	eventually(t, "listen to log in", listening(1))
	relayToG("before")
	eventually(t, "the delivery before the restart", func() bool {
		return out.String() == "from T@J type relay: \"before\"\n"
	})
	s.stop()
	if err := s.launch(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	eventually(t, "listen to log in again", listening(2))
	if !strings.Contains(errs.String(), "bester: the server closed the connection; reconnecting in ") {
		t.Errorf("no reconnecting line on stderr:\n%s", errs.String())
	}
	relayToG("after")
	eventually(t, "the delivery after the restart", func() bool {
		return out.String() == "from T@J type relay: \"before\"\nfrom T@J type relay: \"after\"\n"
	})

	if err := listen.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Errorf("listen after SIGINT: %v", err)
	}
}

// TestSendWaitReply: send -wait-reply prints, after the report, the
// deliveries that come back to the sender; here the relay handler sends
// T's message to T.
func TestSendWaitReply(t *testing.T) {
	s := startServer(t)
	send := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bins.bester, append([]string{"send", "-addr", s.addr, "-user", "T", "-type", "relay"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, _ := cmd.Output()
		if stderr.Len() != 0 {
			t.Errorf("send %v: stderr %q", args, stderr.String())
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := send("-wait-reply", waitLong.String(), "-replies", "1", `{"to":"T","body":"back"}`)
	if want := "good m-1\nfrom T@J type relay: \"back\"\n"; out != want || code != 0 {
		t.Errorf("a reply to the sender: %q, status %d; want %q, 0", out, code, want)
	}
	// Nothing comes back from a message to an absent user: the bad
	// report, then the end of the wait.
	out, code = send("-wait-reply", "200ms", `{"to":"H","body":"lost"}`)
	if !strings.HasPrefix(out, "bad m-1 undelivered") || strings.Count(out, "\n") != 1 || code != 1 {
		t.Errorf("no reply: %q, status %d; want only the bad report, 1", out, code)
	}
}
