// Package procattr starts child processes that do not outlive their
// parent: a handler or a spawned server must not keep running, holding
// its socket, after the process that started it was killed.
package procattr

import "syscall"

// OwnGroup starts a process in a process group of its own, and sends it
// SIGTERM should this process die first. (Linux sends it when the thread
// that started the child exits; Go's runtime does not end its threads
// unless a goroutine locked to one returns, which the callers never do.)
func OwnGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
