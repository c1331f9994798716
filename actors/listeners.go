package actors

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/internal/unixsock"
)

// listener is one of the server's client listeners: its socket, and what
// its accept loop gives each connection. A reload may change the latter
// while the socket stays open, so the accept loop reads it afresh for
// every connection.
type listener struct {
	name string
	ln   net.Listener
	conf atomic.Pointer[listenerConf]
}

// listenerConf is a listener's block and its TLS settings (nil for a
// plain listener).
type listenerConf struct {
	cfg config.Listener
	tls *tlsListener
}

// newListener prepares the listener of block l, loading its TLS files;
// open gives it its socket.
func newListener(l config.Listener, s *Server) (*listener, error) {
	var tl *tlsListener
	if l.TLS != nil {
		var err error
		if tl, err = newTLSListener(l.Name, l.TLS, s.log.Named("listener")); err != nil {
			return nil, err
		}
	}
	ln := &listener{name: l.Name}
	ln.conf.Store(&listenerConf{cfg: l, tls: tl})
	return ln, nil
}

// open opens the listener's socket; serve starts accepting on it.
func (l *listener) open(s *Server) error {
	c := l.conf.Load().cfg
	ln, err := s.listen(c.Network, c.Address)
	if err != nil {
		return fmt.Errorf("listener %q: %w", l.name, err)
	}
	l.ln = ln
	return nil
}

// close closes the listener's socket, if open; its accept loop ends.
func (l *listener) close() {
	if l.ln != nil {
		l.ln.Close()
	}
}

// listen opens one listener; a UNIX socket gets socketMode and replaces a
// stale socket file left by a server that died.
func (s *Server) listen(network, address string) (net.Listener, error) {
	if network != "unix" {
		return net.Listen(network, address)
	}
	if err := os.MkdirAll(filepath.Dir(address), 0o700); err != nil {
		return nil, fmt.Errorf("create socket dir: %w", err)
	}
	ln, err := unixsock.Listen(address, socketMode)
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false) // we remove it ourselves, last
	s.sockets = append(s.sockets, address)
	return ln, nil
}

// serve logs l and starts its accept loop.
func (s *Server) serve(l *listener) {
	c, addr := l.conf.Load().cfg, l.ln.Addr().String()
	s.log.Info("listening", "listener", l.name, "network", c.Network, "address", addr, "codec", c.Codec, "tls", c.TLS != nil)
	s.warnInsecure(l)
	s.acceptWG.Add(1)
	go s.accept(l)
}

// warnInsecure warns when l lets passwords cross the network in clear.
func (s *Server) warnInsecure(l *listener) {
	if c := l.conf.Load().cfg; c.InsecurePlaintext && c.PlaintextToNetwork() {
		s.log.Warn("INSECURE: passwords and peer secrets cross the network in clear on this listener "+
			"(insecure_plaintext = true); add a tls block", "listener", l.name, "address", l.ln.Addr().String())
	}
}

// accept is a listener's accept loop. A TLS connection's handshake
// happens later, in its reader.
func (s *Server) accept(l *listener) {
	defer s.acceptWG.Done()
	log := s.log.Named("listener").With("listener", l.name)
	admitted := s.metrics.listener(l.name)
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.strangerLogs.Error(log, "accept failed", "error", err)
			time.Sleep(acceptRetry)
			continue
		}
		c := l.conf.Load()
		addr := sourceAddress(conn)
		if refused, ok := s.connLimits.admit(addr, l.name); !ok {
			s.metrics.refuse(refused.why)
			s.strangerLogs.Warn(log, "connection refused", "remote", conn.RemoteAddr().String(), "reason", refused.detail)
			if c.tls != nil { // a report in clear would be garbage to a TLS client
				conn.Close()
			} else {
				refuse(conn, c.cfg.Codec, refused.detail)
			}
			continue
		}
		add(admitted, 1)
		if c.tls != nil {
			if conn, err = c.tls.serve(conn); err != nil {
				s.strangerLogs.Error(log, "accept failed", "error", err)
				s.connLimits.leave(addr, l.name)
				continue
			}
		}
		s.sys.Root.Send(s.acceptor, &accepted{conn: conn, addr: addr, codec: c.cfg.Codec, listener: l.name, tls: c.tls})
	}
}

// openListeners is the server's client listeners, in configuration order.
func (s *Server) openListeners() []*listener {
	s.listenersMu.RLock()
	defer s.listenersMu.RUnlock()
	return s.listeners
}

// Addr returns the bound address of the named listener (useful with port 0).
func (s *Server) Addr(name string) net.Addr {
	for _, l := range s.openListeners() {
		if l.name == name && l.ln != nil {
			return l.ln.Addr()
		}
	}
	return nil
}

// closeListeners closes the client listeners and the informer's.
func (s *Server) closeListeners() {
	for _, l := range s.openListeners() {
		l.close()
	}
	if s.informerLn != nil {
		s.informerLn.Close()
	}
}
