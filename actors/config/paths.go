package config

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
)

// defaultRuntimeDir is where sockets live when `runtime_dir` is absent: a
// directory per user under the system's temporary directory, so that two
// users on one machine do not collide.
func defaultRuntimeDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("bester-%d", os.Getuid()))
}

// DefaultClientSocket is where the default configuration's unix listener
// (config.hcl, listener "local") listens: client.sock in the default
// runtime_dir. Clients told to use a UNIX socket without an address dial
// it, so that the quickstart needs no path.
func DefaultClientSocket() string {
	return filepath.Join(defaultRuntimeDir(), "client.sock")
}

// DefaultMonitorAddress is the address of the default configuration's
// monitor block (config.hcl), where `bester status` looks without one.
// Not Prometheus's own 9090, which often runs on the same host.
const DefaultMonitorAddress = "127.0.0.1:8223"

// under resolves p against base unless it is already absolute.
func under(base, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

// socketPath resolves a socket path against the runtime directory and checks
// that the result fits in a UNIX socket address.
func (c *checker) socketPath(runtimeDir, p string, r hcl.Range, field string) string {
	abs := under(runtimeDir, p)
	if len(abs) > MaxSocketPath {
		c.errorf(r, fmt.Sprintf("Invalid %q", field),
			"The socket path %q is %d bytes long; UNIX sockets allow at most %d. Use a shorter path or runtime_dir.",
			abs, len(abs), MaxSocketPath)
	}
	return abs
}
