package ipc

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"
)

const (
	// socketPerm keeps the handler socket to its owner: whoever can connect
	// can inject messages as any user.
	socketPerm = 0o600
	// staleProbeTimeout bounds the check that an existing socket file has
	// no live listener before it is removed.
	staleProbeTimeout = 200 * time.Millisecond
)

// listen listens on the UNIX socket at path, first removing a stale socket
// left by a previous run. It refuses to remove anything that is not a
// socket, or a socket someone still listens on. The file is removed when
// the listener closes.
func listen(path string) (*net.UnixListener, error) {
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, socketPerm); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict permissions of %s: %w", path, err)
	}
	return ln, nil
}

// removeStale removes a socket file at path that nobody listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check socket path %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("socket path %s exists and is not a socket; not removing it", path)
	}
	if c, err := net.DialTimeout("unix", path, staleProbeTimeout); err == nil {
		c.Close()
		return fmt.Errorf("socket %s is in use by another process", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}
