// Package unixsock listens on UNIX sockets whose path a previous run may
// have left behind: the server's own sockets and a handler's socket.
package unixsock

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"
)

// staleProbeTimeout bounds the check that an existing socket file has no
// live listener before it is removed.
const staleProbeTimeout = 200 * time.Millisecond

// Listen listens on the UNIX socket at path and gives the file the
// permission perm, first removing a stale socket left by a previous run
// (see RemoveStale). Closing the listener removes the file unless the
// caller turns that off with SetUnlinkOnClose(false).
func Listen(path string, perm fs.FileMode) (*net.UnixListener, error) {
	if err := RemoveStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, perm); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict permissions of %s: %w", path, err)
	}
	return ln, nil
}

// RemoveStale removes a socket file at path that nobody listens on. It
// refuses to remove a socket someone still listens on, or anything that
// is not a socket.
func RemoveStale(path string) error {
	if c, err := net.DialTimeout("unix", path, staleProbeTimeout); err == nil {
		c.Close()
		return fmt.Errorf("socket %s is in use by another process", path)
	}
	return RemoveFile(path)
}

// RemoveFile removes the socket file at path, whether or not someone
// listens on it; a missing file is no error. Other kinds of file are left
// alone and reported.
func RemoveFile(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("check socket path %s: %w", path, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("socket path %s exists and is not a socket; not removing it", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}
