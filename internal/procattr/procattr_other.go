//go:build !linux

package procattr

import "syscall"

// OwnGroup starts a process in a process group of its own.
func OwnGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
