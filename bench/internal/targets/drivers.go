package targets

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bester-project/bester/bench/internal/rawproto"
	"github.com/bester-project/bester/loadgen"
	"github.com/bester-project/bester/wire/client"
)

// NATS drives core NATS with natshandler as the relay: a message to user
// G is published on relay.G with the reply subject ack.SENDER.ID; the
// handler publishes it on u.G and acknowledges on the reply subject. A
// message to several users is published once on fanout, with their names
// in its To header, comma-separated; the handler publishes it on each
// user's subject, then acknowledges. Each connection subscribes to its
// user's subject and to its acks.
type NATS struct {
	URL     string
	Timeout time.Duration
	// Pending bounds the messages waiting for the load on each of a
	// connection's subscriptions; beyond it NATS drops them (slow
	// consumer), which the accounting shows as lost.
	Pending int
	// CA, when set, is the PEM file of the CA the server's TLS
	// certificate is checked against: the connections use TLS.
	CA string
}

// Dial connects user and subscribes it. Its messages come to callbacks
// (natsConn.Push): nats.go hands a subscription's messages to its
// callback's goroutine in batches, where a channel subscription wakes the
// reader for each one.
func (n *NATS) Dial(ctx context.Context, user string, local net.IP) (loadgen.Conn, error) {
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := &natsConn{user: user, ackPrefix: "ack." + user + ".", ready: make(chan struct{}), closed: make(chan struct{})}
	opts := []nats.Option{nats.Name(user), nats.NoReconnect(), nats.Timeout(timeout),
		nats.ClosedHandler(func(*nats.Conn) { c.close() })}
	if n.CA != "" {
		opts = append(opts, nats.RootCAs(n.CA))
	}
	if local != nil {
		opts = append(opts, nats.SetCustomDialer(&net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: timeout}))
	}
	nc, err := nats.Connect(n.URL, opts...)
	if err != nil {
		return nil, err
	}
	c.nc = nc
	for subject, cb := range map[string]nats.MsgHandler{"u." + user: c.onDelivery, c.ackPrefix + "*": c.onAck} {
		sub, err := nc.Subscribe(subject, cb)
		if err == nil {
			err = sub.SetPendingLimits(max(n.Pending, 64), -1)
		}
		if err != nil {
			nc.Close()
			return nil, err
		}
	}
	// A round trip: the server has both subscriptions before anyone
	// sends to them.
	if err := nc.FlushTimeout(timeout); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

type natsConn struct {
	nc        *nats.Conn
	user      string
	ackPrefix string
	closed    chan struct{}
	closeOnce sync.Once

	// The receiving side. Each subscription calls back on a goroutine
	// of its own; mu makes their calls to handle take turns.
	ready   chan struct{} // closed once handle is set
	started atomic.Bool   // set with handle: ready need not be waited for
	handle  func(*loadgen.Event)
	mu      sync.Mutex
	ev      loadgen.Event // under mu

	// The sending side.
	to      []string
	subject string
	reply   []byte
	fan     *nats.Msg // a message to several users, reused
}

// FanoutSubject is where a message to several users is published, and
// ToHeader the header that names them, comma-separated.
const (
	FanoutSubject = "fanout"
	ToHeader      = "To"
)

func (c *natsConn) Queue(m *loadgen.Message) error {
	if len(m.To) == 0 {
		return errors.New("nats driver: no recipient")
	}
	if len(m.To) > 1 {
		return c.queueFanout(m)
	}
	if len(c.to) == 0 || c.to[0] != m.To[0] {
		c.to, c.subject = m.To, "relay."+m.To[0]
	}
	c.reply = strconv.AppendUint(append(c.reply[:0], c.ackPrefix...), m.ID, 36)
	return c.nc.PublishRequest(c.subject, string(c.reply), m.Body)
}

func (c *natsConn) queueFanout(m *loadgen.Message) error {
	if c.fan == nil || !slices.Equal(c.to, m.To) {
		c.to = slices.Clone(m.To)
		c.fan = &nats.Msg{Subject: FanoutSubject, Header: nats.Header{ToHeader: {strings.Join(m.To, ",")}}}
	}
	c.reply = strconv.AppendUint(append(c.reply[:0], c.ackPrefix...), m.ID, 36)
	c.fan.Reply, c.fan.Data = string(c.reply), m.Body
	return c.nc.PublishMsg(c.fan)
}

// Flush does nothing: the NATS client writes from its own goroutine as
// soon as it has something (its Flush is a round trip to the server).
func (c *natsConn) Flush() error { return nil }

// Push hands every message to handle until the connection closes.
func (c *natsConn) Push(handle func(*loadgen.Event)) error {
	c.handle = handle
	c.started.Store(true)
	close(c.ready)
	<-c.closed
	return net.ErrClosed
}

func (c *natsConn) onDelivery(m *nats.Msg) {
	c.deliver(loadgen.Event{Kind: loadgen.EventDelivery, Body: m.Data})
}

func (c *natsConn) onAck(m *nats.Msg) {
	n, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, c.ackPrefix), 36, 64)
	if err != nil {
		n = ^uint64(0)
	}
	c.deliver(loadgen.Event{Kind: loadgen.EventAck, ID: n})
}

// deliver hands ev to the load, once Push has been called; messages that
// come before wait for it.
func (c *natsConn) deliver(ev loadgen.Event) {
	if !c.started.Load() {
		select {
		case <-c.ready:
		case <-c.closed:
			return
		}
	}
	c.mu.Lock()
	c.ev = ev
	c.handle(&c.ev)
	c.mu.Unlock()
}

func (c *natsConn) close() { c.closeOnce.Do(func() { close(c.closed) }) }

func (c *natsConn) Close() error {
	c.close()
	c.nc.Close()
	return nil
}

// Raw drives rawrelay.
type Raw struct {
	Addr    string
	Timeout time.Duration
	// BufferSize is each connection's read and write buffer, as the Bester
	// driver's, so that both clients batch alike; default
	// client.DefaultBufferSize.
	BufferSize int
}

// Dial connects and authenticates user.
func (r *Raw) Dial(ctx context.Context, user string, local net.IP) (loadgen.Conn, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	conn, err := d.DialContext(ctx, "tcp", r.Addr)
	if err != nil {
		return nil, err
	}
	size := cmp.Or(r.BufferSize, client.DefaultBufferSize)
	c := &rawConn{conn: conn, br: bufio.NewReaderSize(conn, size), bw: bufio.NewWriterSize(conn, size)}
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(rawproto.AppendFrame(nil, []byte{rawproto.Auth}, []byte(user))); err != nil {
		conn.Close()
		return nil, err
	}
	body, err := rawproto.ReadFrame(c.br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if body[0] != rawproto.AuthOK {
		conn.Close()
		return nil, errors.New("authenticate: refused")
	}
	conn.SetDeadline(time.Time{})
	return c, nil
}

type rawConn struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	rbuf []byte
	wbuf []byte
	to   []string // the recipients list encodes
	list []byte
}

func (c *rawConn) Queue(m *loadgen.Message) error {
	switch {
	case len(m.To) == 1:
		c.wbuf = rawproto.AppendMessage(c.wbuf[:0], m.ID, m.To[0], m.Body)
	case len(m.To) > 1:
		if c.list == nil || !slices.Equal(c.to, m.To) {
			for _, name := range m.To {
				if len(name) == 0 || len(name) > 255 {
					return fmt.Errorf("raw driver: recipient name of %d bytes", len(name))
				}
			}
			c.to, c.list = slices.Clone(m.To), rawproto.AppendList(nil, m.To)
			if len(c.list) > 65535 {
				return errors.New("raw driver: recipient list longer than 65535 bytes")
			}
		}
		c.wbuf = rawproto.AppendFanout(c.wbuf[:0], m.ID, c.list, m.Body)
	default:
		return errors.New("raw driver: no recipient")
	}
	_, err := c.bw.Write(c.wbuf)
	return err
}

func (c *rawConn) Flush() error { return c.bw.Flush() }

func (c *rawConn) Receive(ev *loadgen.Event) error {
	for {
		body, err := rawproto.ReadFrame(c.br, c.rbuf)
		if err != nil {
			return err
		}
		c.rbuf = body
		switch {
		case body[0] == rawproto.Ack && len(body) == 10:
			*ev = loadgen.Event{Kind: loadgen.EventAck, ID: leUint64(body[1:9])}
			if body[9] != rawproto.StatusGood {
				ev.Code, ev.Undelivered = loadgen.CodeUndelivered, int(body[9])
			}
			return nil
		case body[0] == rawproto.Delivery:
			*ev = loadgen.Event{Kind: loadgen.EventDelivery, Body: body[1:]}
			return nil
		}
	}
}

func (c *rawConn) Close() error { return c.conn.Close() }

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}
