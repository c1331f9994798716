package actors

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/wire"
)

// peerConn is a peer link's authenticated connection: an outbox whose
// writer encodes server messages, and a reader that turns the peer's
// status reports into peerReport.
type peerConn struct {
	gen      int
	conn     net.Conn      // the socket, or TLS over it
	tls      string        // the TLS version agreed; empty for plain TCP
	br       *bufio.Reader // holds what the peer sent after the auth report
	out      *outbox
	codec    wire.Codec
	maxFrame int
	received *atomic.Uint64 // the server's received bytes; nil when metrics are off
}

// start runs the connection's reader goroutine; the outbox runs a writer
// whenever there is something to write.
func (c *peerConn) start(self *actor.PID, root *actor.RootContext, g *gate) {
	go c.read(self, root, g)
}

// close ends both goroutines. It closes the socket, not TLS over it:
// closing TLS writes an alert, which may wait for the peer.
func (c *peerConn) close() {
	c.out.close(false)
	closeSocket(c.conn)
}

func (c *peerConn) read(self *actor.PID, root *actor.RootContext, g *gate) {
	var buf []byte
	for {
		body, err := wire.ReadFrame(c.br, c.maxFrame, buf)
		if err != nil {
			g.send(func() { root.Send(self, &peerLost{gen: c.gen, err: err}) })
			return
		}
		add(c.received, wire.FrameHeaderSize+len(body))
		if cap(body) <= maxIdleReadBuffer {
			buf = body[:0]
		}
		r := new(wire.StatusReport)
		if err := c.codec.UnmarshalMap(body, r); err != nil {
			g.send(func() {
				root.Send(self, &peerLost{gen: c.gen, err: fmt.Errorf("peer wrote something that is not a %s status report: %w", c.codec, err)})
			})
			return
		}
		g.send(func() { root.Send(self, &peerReport{gen: c.gen, report: r}) })
	}
}

// dial makes one connection attempt: connect, authenticate, and hand the
// connection to the actor (peerDialed) or say why not (peerDialFailed).
func (l *peerLink) dial(ctx context.Context, gen int) {
	p := &l.peer
	self, root, g := l.self, l.root, l.gate
	failed := func(err error, refused *wire.Error) {
		g.send(func() { root.Send(self, &peerDialFailed{gen: gen, err: err, refused: refused}) })
	}
	pc, err := l.open(ctx)
	if err != nil {
		failed(err, nil)
		return
	}
	br, refused, err := l.hello(ctx, pc.conn)
	if err != nil || refused != nil {
		closeSocket(pc.conn)
		failed(err, refused)
		return
	}
	pc.gen, pc.br, pc.codec, pc.maxFrame, pc.received = gen, br, p.Codec, l.maxFrame, l.metrics.received()
	pc.out = newOutbox(l.pool, pc.conn, outboxLimits{count: p.Queue, bytes: math.MaxInt}, func() wire.Codec { return p.Codec }, func(err error) {
		g.send(func() { root.Send(self, &peerLost{gen: gen, err: fmt.Errorf("write: %w", err)}) })
	})
	pc.out.metrics = l.metrics
	if !g.send(func() { root.Send(self, &peerDialed{gen: gen, conn: pc}) }) {
		closeSocket(pc.conn)
	}
}

// open connects to the peer and, when it has a tls block, makes the TLS
// handshake, both within the peer's timeout. The TLS files are read at
// every attempt, so that certificates replaced since take effect.
func (l *peerLink) open(ctx context.Context) (*peerConn, error) {
	p := &l.peer
	var tlsConf *tls.Config
	if p.TLS != nil {
		var err error
		if tlsConf, err = p.TLS.Config(p.Address); err != nil {
			return nil, fmt.Errorf("TLS settings: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var d net.Dialer
	socket, err := d.DialContext(ctx, "tcp", p.Address)
	if err != nil {
		return nil, err
	}
	if tlsConf == nil {
		return &peerConn{conn: socket}, nil
	}
	tc, err := startTLS(ctx, socket, tlsConf)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("no TLS handshake with %s within %s", tlsConf.ServerName, p.Timeout)
		}
		return nil, fmt.Errorf("TLS handshake with %s: %w", tlsConf.ServerName, err)
	}
	return &peerConn{conn: tc, tls: tls.VersionName(tc.ConnectionState().Version)}, nil
}

// startTLS makes the TLS handshake as a client on socket, over a tlsSock
// so that the outbox sees when the peer stops reading. On error it closes
// socket.
func startTLS(ctx context.Context, socket net.Conn, conf *tls.Config) (*tls.Conn, error) {
	tcp, ok := socket.(*net.TCPConn)
	if !ok {
		socket.Close()
		return nil, fmt.Errorf("not a TCP connection: %T", socket)
	}
	sock, err := newTLSSock(tcp)
	if err != nil {
		socket.Close()
		return nil, err
	}
	tc := tls.Client(sock, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		socket.Close()
		return nil, err
	}
	return tc, nil
}

// hello sends this server's credentials on a new connection and reads the
// auth_special report (protocol §6). A bad report is returned as refused;
// anything else that goes wrong as err.
func (l *peerLink) hello(ctx context.Context, conn net.Conn) (br *bufio.Reader, refused *wire.Error, err error) {
	p := &l.peer
	conn.SetDeadline(time.Now().Add(p.Timeout))
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	body, err := p.Codec.Marshal(&wire.AuthMessage{Header: wire.AuthHeader{
		Scope:          wire.ScopeServer,
		Authentication: wire.Credentials{Username: l.server, Password: p.Secret},
	}})
	if err != nil {
		return nil, nil, fmt.Errorf("encode credentials: %w", err)
	}
	if err := wire.WriteFrame(conn, body); err != nil {
		return nil, nil, fmt.Errorf("send credentials: %w", err)
	}
	br = bufio.NewReaderSize(conn, readBufferSize)
	r, err := readReport(br, p.Codec, l.maxFrame)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil:
		return nil, nil, fmt.Errorf("no answer to our credentials within %s", p.Timeout)
	case err != nil:
		return nil, nil, fmt.Errorf("read the answer to our credentials: %w", err)
	case r.Payload.ID != wire.IDAuth:
		return nil, nil, fmt.Errorf("peer answered our credentials with a report about %q, not %q", r.Payload.ID, wire.IDAuth)
	case r.Header.Status != wire.StatusGood:
		code := r.Header.Error
		if code == "" {
			code = wire.CodeUnauthorized
		}
		return nil, &wire.Error{Code: code, Detail: r.Header.Detail}, nil
	}
	if !stop() {
		return nil, nil, ctx.Err()
	}
	conn.SetDeadline(time.Time{})
	return br, nil, nil
}

// readReport reads one frame and decodes it as a status report.
func readReport(r io.Reader, codec wire.Codec, maxFrame int) (*wire.StatusReport, error) {
	body, err := wire.ReadFrame(r, maxFrame, nil)
	if err != nil {
		return nil, err
	}
	rep := new(wire.StatusReport)
	if err := codec.UnmarshalMap(body, rep); err != nil {
		return nil, fmt.Errorf("not a %s status report: %w", codec, err)
	}
	if rep.Header.MessageType != wire.MessageTypeStatusReport {
		return nil, fmt.Errorf("not a status report (messageType %q)", rep.Header.MessageType)
	}
	return rep, nil
}

// unnamedPeerCodec is what messages to peers named by address are written
// in: JSON, what the original besterd spoke.
const unnamedPeerCodec = wire.CodecJSON

// legacyExchange sends msg to the server at address the way the original
// besterd did: a new connection, one unauthenticated server-scope message,
// then close. It waits up to timeout for a status report (which the
// original never sent) and returns nil when that report is good.
func legacyExchange(ctx context.Context, address string, msg *wire.ServerMessage, timeout time.Duration, maxFrame int) *wire.Error {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return wire.Errorf(wire.CodePeerUnavailable, "cannot reach peer %s: %v", address, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	body, err := unnamedPeerCodec.Marshal(msg)
	if err != nil {
		return wire.Errorf(wire.CodeBadMessage, "message for peer %s cannot be encoded: %v", address, err)
	}
	if err := wire.WriteFrame(conn, body); err != nil {
		return wire.Errorf(wire.CodePeerUnavailable, "cannot send to peer %s: %v", address, err)
	}
	r, err := readReport(conn, unnamedPeerCodec, maxFrame)
	switch {
	case ctx.Err() != nil:
		return wire.Errorf(wire.CodeShuttingDown, "server is shutting down")
	case errors.Is(err, io.EOF):
		return wire.Errorf(wire.CodePeerUnavailable,
			"peer %s closed the connection without a report; the message may or may not have been delivered", address)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return wire.Errorf(wire.CodePeerUnavailable,
			"peer %s did not report within %s; the message may or may not have been delivered", address, timeout)
	case err != nil:
		return wire.Errorf(wire.CodePeerUnavailable, "peer %s: %v", address, err)
	case r.Header.Status != wire.StatusGood:
		return remoteError(address, r)
	}
	return nil
}
