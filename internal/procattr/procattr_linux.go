// Package procattr starts child processes that do not outlive their
// parent: a handler or a spawned server must not keep running, holding
// its socket, after the process that started it was killed.
package procattr

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// OwnGroup starts a process in a process group of its own, and sends it
// SIGTERM should this process die first. (Linux sends it when the thread
// that started the child exits; Go's runtime does not end its threads
// unless a goroutine locked to one returns, which the callers never do.)
func OwnGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// AwaitExit blocks until the process pid, a child of this one, has exited,
// and leaves it unreaped: until it is waited for, its id stays its own, so
// that its process group can still be signalled by that id.
func AwaitExit(pid int) error {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			if err != nil {
				return fmt.Errorf("wait for process %d: %w", pid, err)
			}
			return nil
		}
	}
}
