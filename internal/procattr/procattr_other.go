//go:build !linux

package procattr

import (
	"errors"
	"syscall"
)

// OwnGroup starts a process in a process group of its own.
func OwnGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// AwaitExit is not supported here: the caller learns of the exit by
// reaping the process.
func AwaitExit(pid int) error { return errors.ErrUnsupported }
