package ipc

import (
	"net"

	"github.com/bester-project/bester/internal/unixsock"
)

// socketPerm keeps the handler socket to its owner: whoever can connect
// can inject messages as any user.
const socketPerm = 0o600

// listen listens on the UNIX socket at path, replacing a stale socket left
// by a previous run; the file is removed when the listener closes.
func listen(path string) (*net.UnixListener, error) {
	return unixsock.Listen(path, socketPerm)
}
