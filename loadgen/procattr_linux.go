package loadgen

import "syscall"

// ownGroup starts a process in a process group of its own, and sends it
// SIGTERM should this process die first.
func ownGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
