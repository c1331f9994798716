package actors

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/config"
)

// Once a handler's process has exited and been reaped, its id may belong
// to another process, which may lead a group of its own: stopping the
// handler then must signal nothing. The test makes the kernel give the
// reaped id to a new group leader (through ns_last_pid, which needs
// privileges) and checks that terminate leaves it alone.
func TestTerminateAfterExitSparesReusedID(t *testing.T) {
	const lastPID = "/proc/sys/kernel/ns_last_pid"
	dir := t.TempDir()
	p, err := startHandlerProcess(&config.Handler{Name: "h", Command: []string{"/bin/true"},
		Socket: filepath.Join(dir, "h.sock")}, "", hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	<-p.done
	pid := p.pid()

	got := filepath.Join(dir, "got")
	var victim *exec.Cmd
	var stdin io.WriteCloser
	for range 50 {
		if err := os.WriteFile(lastPID, []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Skipf("cannot choose the next process id: %v", err)
		}
		// It ends well when its standard input closes; a SIGTERM kills it
		// or, once its trap is set, has it write got.
		cmd := exec.Command("/bin/sh", "-c", `trap 'echo term >"$0"; exit 1' TERM; read line; exit 0`, got)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if cmd.Process.Pid == pid {
			victim, stdin = cmd, in
			break
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	if victim == nil {
		t.Skip("another process took the id each time")
	}

	p.terminate()
	stdin.Close()
	err = victim.Wait()
	if _, statErr := os.Stat(got); err != nil || !errors.Is(statErr, os.ErrNotExist) {
		t.Fatalf("terminate signalled the group that reused the handler's id: it ended with %v", err)
	}
}
