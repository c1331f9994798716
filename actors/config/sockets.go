package config

import (
	"strconv"

	"github.com/hashicorp/hcl/v2"
)

// sockets checks that the UNIX sockets the server binds itself (unix
// listeners and the informer) are all different and none is a handler's
// socket: binding one would remove the other.
func (c *checker) sockets(raw *rawFile, cfg *Config) {
	type owner struct {
		what  string
		where hcl.Range
	}
	bound := map[string]owner{}
	claim := func(path, what string, where hcl.Range) {
		if path == "" {
			return
		}
		if prev, ok := bound[path]; ok {
			c.errorf(where, "Socket path used twice",
				"%s uses the socket %s, already used by %s at %s.", what, path, prev.what, prev.where)
			return
		}
		bound[path] = owner{what, where}
	}
	for i, l := range cfg.Listeners {
		if l.Network == networkUnix {
			claim(l.Address, "listener "+strconv.Quote(l.Name), raw.Listeners[i].AddressRange)
		}
	}
	if cfg.Informer != nil {
		claim(cfg.Informer.Socket, "the informer", raw.Informer.SocketRange)
	}
	for i, h := range cfg.Handlers {
		if prev, ok := bound[h.Socket]; ok && h.Socket != "" {
			c.errorf(raw.Handlers[i].SocketRange, "Socket path used twice",
				"handler %q uses the socket %s, which the server binds for %s at %s.", h.Name, h.Socket, prev.what, prev.where)
		}
	}
}
