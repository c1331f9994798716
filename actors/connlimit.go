package actors

import (
	"bytes"
	"net"
	"sync"
	"time"

	"github.com/bester-project/bester/wire"
)

// connLimits counts open connections, in all and by source address, so
// that no one source can take every file descriptor the server has, and by
// listener for the monitor's /status.
type connLimits struct {
	max, perAddress int

	mu         sync.Mutex
	open       int
	byAddr     map[string]int // TCP connections only; UNIX sockets are local
	byListener map[string]int
}

func newConnLimits(max, perAddress int) *connLimits {
	return &connLimits{max: max, perAddress: perAddress, byAddr: make(map[string]int), byListener: make(map[string]int)}
}

// set changes the limits (a reload); connections open past them stay.
func (l *connLimits) set(max, perAddress int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max, l.perAddress = max, perAddress
}

// admission is a connection that admit refused: why, and what its client
// is told.
type admission struct {
	why    refusal
	detail string
}

var (
	serverFull  = admission{refusedMaxConnections, "the server has max_connections open"}
	addressFull = admission{refusedMaxPerAddress, "this address has max_connections_per_address open"}
)

// admit counts a new connection from addr on the named listener, or says
// why it may not open.
func (l *connLimits) admit(addr, listener string) (refused admission, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.open >= l.max:
		return serverFull, false
	case addr != "" && l.byAddr[addr] >= l.perAddress:
		return addressFull, false
	}
	l.open++
	l.byListener[listener]++
	if addr != "" {
		l.byAddr[addr]++
	}
	return admission{}, true
}

// leave uncounts a connection that admit let in.
func (l *connLimits) leave(addr, listener string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	l.byListener[listener]--
	if addr == "" {
		return
	}
	if l.byAddr[addr] <= 1 {
		delete(l.byAddr, addr)
		return
	}
	l.byAddr[addr]--
}

// onListener is the number of connections open on the named listener.
func (l *connLimits) onListener(listener string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byListener[listener]
}

// sourceAddress is the host a connection comes from: its IP for TCP, ""
// for UNIX sockets.
func sourceAddress(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return ""
}

// refusalWriteTimeout bounds the write of a refused connection's report.
const refusalWriteTimeout = 100 * time.Millisecond

// refuse tells a connection the server will not take it, and closes it.
func refuse(conn net.Conn, codec wire.Codec, detail string) {
	writeRefusal(conn, codec, wire.Errorf(wire.CodeOverloaded, "%s", detail))
	conn.Close()
}

// writeRefusal writes e as the bad auth_special report to a connection
// the server is about to close, in the listener's codec (JSON when the
// listener detects it, as before any message), straight to the socket.
func writeRefusal(conn net.Conn, codec wire.Codec, e *wire.Error) {
	if codec == wire.CodecAuto {
		codec = wire.CodecJSON
	}
	var buf bytes.Buffer
	if codec.AppendFrame(&buf, wire.BadReport(wire.IDAuth, e, nil)) == nil {
		conn.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
		conn.Write(buf.Bytes())
	}
}
