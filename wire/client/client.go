package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bester-project/bester/wire"
)

// Client is one authenticated connection to a Bester server. Send, Queue
// and Flush may be called from any number of goroutines; Receive from
// one at a time (concurrent calls wait for each other).
type Client struct {
	conn     net.Conn
	codec    wire.Codec
	maxFrame int

	// pending counts writers between entering Send and leaving wmu; the
	// one that brings it back to zero flushes for all (see Send).
	pending atomic.Int32
	wmu     sync.Mutex
	bw      *bufio.Writer
	scratch []byte // one encoded frame, reused under wmu
	closed  bool   // under wmu

	rmu  sync.Mutex
	br   *bufio.Reader
	rbuf []byte // ReceiveView's frame, reused

	closeOnce sync.Once
	closeErr  error
}

// Dial connects to the server, makes the TLS handshake when o.TLS is set,
// sends the first message (scope client and the credentials, no payload)
// and waits for the auth_special report. A bad report gives an error
// wrapping a *wire.Error with the server's code (wire.CodeUnauthorized).
// A password that would cross a network in clear is refused before
// anything is dialled (see Options.InsecurePlaintext).
// o.Timeout bounds the whole exchange, and cancelling ctx abandons it.
func Dial(ctx context.Context, o Options) (*Client, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if err := o.refusePasswordInClear(o.Network, o.Address); err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	deadline := time.Now().Add(o.Timeout)
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, o.Network, o.Address)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return start(ctx, conn, o, deadline)
}

// start makes the TLS handshake if o asks for one and authenticates,
// before deadline; o must have its defaults filled. On error conn is
// closed.
func start(ctx context.Context, conn net.Conn, o Options, deadline time.Time) (*Client, error) {
	if o.TLS != nil {
		tc, err := handshakeTLS(ctx, conn, o, deadline)
		if err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	c := newClient(conn, o)
	if err := c.authenticate(ctx, o, deadline); err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticate with %s %s: %w", o.Address, o.login(), err)
	}
	return c, nil
}

// newClient wraps an open connection; o must have its defaults filled.
func newClient(conn net.Conn, o Options) *Client {
	return &Client{
		conn:     conn,
		codec:    o.Codec,
		maxFrame: o.MaxFrame,
		bw:       bufio.NewWriterSize(conn, o.BufferSize),
		br:       bufio.NewReaderSize(conn, o.BufferSize),
	}
}

// authMessage is the first message: a header and no payload.
type authMessage struct {
	Header authHeader `cbor:"header" json:"header"`
}

// authHeader has no authentication when a client certificate stands for
// it.
type authHeader struct {
	Scope          string            `cbor:"scope" json:"scope"`
	Authentication *wire.Credentials `cbor:"authentication,omitempty" json:"authentication,omitempty"`
}

// authenticate runs the exchange of protocol §3 under deadline, giving up
// early when ctx ends.
func (c *Client) authenticate(ctx context.Context, o Options, deadline time.Time) error {
	if err := c.conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	err := c.exchangeAuth(o)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	if !stop() {
		return ctx.Err() // cancelled just as the report came in
	}
	if err := c.conn.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear deadline: %w", err)
	}
	return nil
}

// exchangeAuth writes the credentials and reads the answer.
func (c *Client) exchangeAuth(o Options) error {
	h := authHeader{Scope: wire.ScopeClient}
	if !o.certificateLogin() {
		h.Authentication = &wire.Credentials{Username: o.Username, Password: o.Password}
	}
	body, err := c.codec.Marshal(&authMessage{Header: h})
	if err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	if _, err := c.bw.Write(wire.AppendFrame(nil, body)); err != nil {
		return fmt.Errorf("send credentials: %w", err)
	}
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("send credentials: %w", err)
	}
	in, err := c.Receive()
	if err != nil {
		return err
	}
	if in.Kind != wire.MessageTypeStatusReport || in.ID != wire.IDAuth {
		return fmt.Errorf("expected the %s report, got a %q message with id %q", wire.IDAuth, in.Kind, in.ID)
	}
	if err := in.Err(); err != nil {
		return err
	}
	if in.Report.Header.Status != wire.StatusGood {
		return fmt.Errorf("unexpected status %q in the %s report", in.Report.Header.Status, wire.IDAuth)
	}
	return nil
}

// Codec is the codec the client writes in and reads in; Incoming.Data is
// in it, and a wire.RawValue given to Send must be too.
func (c *Client) Codec() wire.Codec { return c.codec }

// Close writes what Send or Queue left buffered (waiting at most a
// second) and closes the connection, which also ends a blocked Receive.
// It is safe to call more than once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		// A writer stuck on a peer that does not read gives up at this
		// deadline, so the lock below is always released.
		_ = c.conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		c.wmu.Lock()
		c.closed = true
		var flushErr error
		if c.bw.Buffered() > 0 {
			flushErr = c.bw.Flush()
		}
		c.wmu.Unlock()
		c.closeErr = c.conn.Close()
		if flushErr != nil {
			c.closeErr = errors.Join(fmt.Errorf("close: unsent messages: %w", flushErr), c.closeErr)
		} else if c.closeErr != nil {
			c.closeErr = fmt.Errorf("close: %w", c.closeErr)
		}
	})
	return c.closeErr
}
