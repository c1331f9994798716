package actors

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/config"
)

// tlsCheckInterval is how often, at most, a handshake looks at a TLS
// listener's files to see whether they changed.
const tlsCheckInterval = time.Second

// tlsListener holds a TLS listener's current settings: its certificate,
// key and client CAs as last read. Each handshake takes the settings
// current when it begins (GetConfigForClient), so a reload changes what
// new connections get and leaves open ones as they are. Settings that do
// not load never replace working ones.
type tlsListener struct {
	name     string
	settings *config.ListenerTLS
	log      hclog.Logger
	// server is the tls.Config every connection of the listener is
	// given; it only hands each handshake the current one.
	server  *tls.Config
	current atomic.Pointer[tls.Config]
	// nextCheck is when, in Unix nanoseconds, a handshake may look at the
	// files again.
	nextCheck atomic.Int64

	mu     sync.Mutex   // one load at a time
	stamps [3]fileStamp // cert, key and client CA as they were at the last load
}

// fileStamp tells whether a file changed: what stat says of it.
type fileStamp struct {
	modTime    int64 // Unix nanoseconds
	size       int64
	inode      uint64 // a file renamed into place is another file
	changeTime int64  // Unix nanoseconds; chmod and chown change only this
	err        string
}

func newTLSListener(name string, settings *config.ListenerTLS, log hclog.Logger) (*tlsListener, error) {
	l := &tlsListener{name: name, settings: settings, log: log.With("listener", name)}
	l.server = &tls.Config{GetConfigForClient: l.forClient}
	l.stamps = l.stat()
	cfg, err := settings.ServerConfig()
	if err != nil {
		return nil, fmt.Errorf("listener %q: %w", name, err)
	}
	l.current.Store(cfg)
	l.nextCheck.Store(time.Now().Add(tlsCheckInterval).UnixNano())
	return l, nil
}

// serve wraps a connection the listener accepted in a TLS server
// connection over a tlsSock; the connection's reader runs the handshake.
// On error conn is closed.
func (l *tlsListener) serve(conn net.Conn) (net.Conn, error) {
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("TLS listener %q accepted a %T, not a TCP connection", l.name, conn)
	}
	sock, err := newTLSSock(tcp)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS listener %q: %w", l.name, err)
	}
	return tls.Server(sock, l.server), nil
}

// forClient is the GetConfigForClient of every handshake: the current
// settings, read again first when a file changed (one handshake a second
// looks).
func (l *tlsListener) forClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	now := time.Now()
	if next := l.nextCheck.Load(); now.UnixNano() >= next &&
		l.nextCheck.CompareAndSwap(next, now.Add(tlsCheckInterval).UnixNano()) {
		l.reloadIfChanged()
	}
	return l.current.Load(), nil
}

// tlsFiles is a reading of a TLS listener's files that a reload
// checked and may apply.
type tlsFiles struct {
	cfg     *tls.Config
	stamps  [3]fileStamp
	changed bool // since the listener's last load
}

// read reads the files again (a reload), whether or not they changed.
func (l *tlsListener) read() (*tlsFiles, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	stamps := l.stat()
	cfg, err := l.settings.ServerConfig()
	if err != nil {
		return nil, fmt.Errorf("listener %q: %w", l.name, err)
	}
	return &tlsFiles{cfg: cfg, stamps: stamps, changed: stamps != l.stamps}, nil
}

// use makes f the settings of new connections.
func (l *tlsListener) use(f *tlsFiles) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stamps = f.stamps
	l.current.Store(f.cfg)
}

// reloadIfChanged reads the files again when any of them changed since
// the last load, so that a file that does not load is logged once, not
// at every handshake.
func (l *tlsListener) reloadIfChanged() {
	l.mu.Lock()
	defer l.mu.Unlock()
	stamps := l.stat()
	if stamps == l.stamps {
		return
	}
	l.stamps = stamps
	l.load()
}

// load replaces the current settings with the files' if they load, and
// otherwise logs why not; l.mu is held.
func (l *tlsListener) load() {
	cfg, err := l.settings.ServerConfig()
	if err != nil {
		l.log.Error("cannot use the new TLS files; new connections keep the old ones", "error", err)
		return
	}
	l.current.Store(cfg)
	l.log.Info("TLS files loaded for new connections", "cert", l.settings.Cert,
		"not_after", cfg.Certificates[0].Leaf.NotAfter.UTC().Format(time.RFC3339))
}

// stat stamps the listener's files.
func (l *tlsListener) stat() (stamps [3]fileStamp) {
	for i, p := range []string{l.settings.Cert, l.settings.Key, l.settings.ClientCA} {
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			stamps[i].err = err.Error()
			continue
		}
		stamps[i].modTime, stamps[i].size = st.ModTime().UnixNano(), st.Size()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			stamps[i].inode, stamps[i].changeTime = sys.Ino, sys.Ctim.Nano()
		}
	}
	return stamps
}
