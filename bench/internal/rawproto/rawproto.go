// Package rawproto is the wire format of rawrelay, the hand-written relay
// the comparison measures as the practical limit of Bester's topology
// (client, server, handler process over a UNIX socket, server, recipient)
// in Go: no actors, no codec, fixed binary frames.
//
// Every frame is a 4-byte little-endian body length and the body; the
// body's first byte is its kind:
//
//	client to server    'A' user                      authenticate (answered by 'a')
//	                    'M' id:8 n:1 to:n payload     relay payload to user to
//	                    'F' id:8 n:2 list:n payload   relay payload to every user of list
//	server to client    'a'                           authenticated
//	                    'k' id:8 status:1             acknowledgement: the number of recipients not reached (0 all delivered)
//	                    'd' payload                   a delivery
//	server to handler   'R' conn:4 id:8 n:1 to:n payload
//	                    'Q' conn:4 id:8 n:2 list:n payload
//	handler to server   'D' conn:4 id:8 n:1 to:n payload     deliver payload to to, acknowledge id to conn
//	                    'E' conn:4 id:8 n:2 list:n payload   deliver payload to every user of list, acknowledge id to conn
//
// A list is names, each preceded by its length in one byte. Integers are
// little-endian. The acknowledgement's status saturates at 255.
package rawproto

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Frame kinds.
const (
	Auth     = 'A'
	AuthOK   = 'a'
	Message  = 'M'
	Ack      = 'k'
	Delivery = 'd'
	Request  = 'R'
	Answer   = 'D'
	// The fan-out forms of Message, Request and Answer: a list of
	// recipients instead of one.
	Fanout        = 'F'
	FanoutRequest = 'Q'
	FanoutAnswer  = 'E'
	StatusGood    = 0
	StatusLost    = 1
)

// MaxFrame is the largest body accepted (1 MiB, as Bester's default).
const MaxFrame = 1 << 20

// ReadFrame reads one frame body into buf (grown as needed) and returns
// it.
func ReadFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(head[:])
	if n == 0 || n > MaxFrame {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// AppendFrame appends a frame made of parts to dst.
func AppendFrame(dst []byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// Routed is the common tail of Message, Request and Answer bodies.
type Routed struct {
	Conn    uint32 // Request and Answer only
	ID      uint64
	To      []byte
	Payload []byte
}

// ParseMessage reads a Message body (kind byte included).
func ParseMessage(b []byte) (Routed, error) {
	return parse(b[1:], false)
}

// ParseRouted reads a Request or Answer body (kind byte included).
func ParseRouted(b []byte) (Routed, error) {
	return parse(b[1:], true)
}

var errShort = errors.New("short frame")

func parse(b []byte, withConn bool) (Routed, error) {
	var r Routed
	if withConn {
		if len(b) < 4 {
			return r, errShort
		}
		r.Conn = binary.LittleEndian.Uint32(b)
		b = b[4:]
	}
	if len(b) < 9 || len(b) < 9+int(b[8]) {
		return r, errShort
	}
	r.ID = binary.LittleEndian.Uint64(b)
	n := int(b[8])
	r.To, r.Payload = b[9:9+n], b[9+n:]
	return r, nil
}

// AppendRouted appends a Request or Answer frame.
func AppendRouted(dst []byte, kind byte, r Routed) []byte {
	n := 1 + 4 + 8 + 1 + len(r.To) + len(r.Payload)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, kind)
	dst = binary.LittleEndian.AppendUint32(dst, r.Conn)
	dst = binary.LittleEndian.AppendUint64(dst, r.ID)
	dst = append(dst, byte(len(r.To)))
	dst = append(dst, r.To...)
	return append(dst, r.Payload...)
}

// AppendMessage appends a Message frame.
func AppendMessage(dst []byte, id uint64, to string, payload []byte) []byte {
	n := 1 + 8 + 1 + len(to) + len(payload)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, Message)
	dst = binary.LittleEndian.AppendUint64(dst, id)
	dst = append(dst, byte(len(to)))
	dst = append(dst, to...)
	return append(dst, payload...)
}

// AppendAck appends an acknowledgement frame.
func AppendAck(dst []byte, id uint64, status byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, 10)
	dst = append(dst, Ack)
	dst = binary.LittleEndian.AppendUint64(dst, id)
	return append(dst, status)
}

// AppendDelivery appends a delivery frame.
func AppendDelivery(dst []byte, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+len(payload)))
	dst = append(dst, Delivery)
	return append(dst, payload...)
}

// Outbox is a connection's outgoing buffer, written by one goroutine:
// producers append frames under its lock, and the writer swaps the
// buffer out and writes everything queued with one system call.
type Outbox struct {
	mu     sync.Mutex
	buf    []byte
	spare  []byte
	closed bool
	wake   chan struct{}
	conn   net.Conn
}

// NewOutbox starts the writer of conn; it closes conn when it ends.
func NewOutbox(conn net.Conn) *Outbox {
	o := &Outbox{conn: conn, wake: make(chan struct{}, 1)}
	go o.run()
	return o
}

// Append lets f append frames to the buffer and wakes the writer. It
// reports false once the outbox is closed.
func (o *Outbox) Append(f func([]byte) []byte) bool {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return false
	}
	o.buf = f(o.buf)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true
}

// Close stops the writer, which closes the connection.
func (o *Outbox) Close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *Outbox) run() {
	defer o.conn.Close()
	for range o.wake {
		o.mu.Lock()
		buf, closed := o.buf, o.closed
		o.buf = o.spare[:0]
		o.mu.Unlock()
		if len(buf) > 0 {
			if _, err := o.conn.Write(buf); err != nil {
				o.mu.Lock()
				o.closed = true
				o.mu.Unlock()
				return
			}
		}
		o.mu.Lock()
		o.spare = buf[:0]
		o.mu.Unlock()
		if closed {
			return
		}
	}
}

// ParseFanout reads a Fanout body (kind byte included); r.To is the list.
func ParseFanout(b []byte) (Routed, error) {
	return parseList(b[1:], false)
}

// ParseFanoutRouted reads a FanoutRequest or FanoutAnswer body (kind byte
// included); r.To is the list.
func ParseFanoutRouted(b []byte) (Routed, error) {
	return parseList(b[1:], true)
}

func parseList(b []byte, withConn bool) (Routed, error) {
	var r Routed
	if withConn {
		if len(b) < 4 {
			return r, errShort
		}
		r.Conn = binary.LittleEndian.Uint32(b)
		b = b[4:]
	}
	if len(b) < 10 {
		return r, errShort
	}
	r.ID = binary.LittleEndian.Uint64(b)
	n := int(binary.LittleEndian.Uint16(b[8:]))
	if len(b) < 10+n {
		return r, errShort
	}
	r.To, r.Payload = b[10:10+n], b[10+n:]
	return r, nil
}

// AppendList appends names as a list. A name must be 1 to 255 bytes.
func AppendList(dst []byte, names []string) []byte {
	for _, name := range names {
		dst = append(dst, byte(len(name)))
		dst = append(dst, name...)
	}
	return dst
}

// EachName calls f with every name of list, in order, until f returns
// false. It reports an error when list is malformed.
func EachName(list []byte, f func(name []byte) bool) error {
	for len(list) > 0 {
		n := int(list[0])
		if n == 0 || len(list) < 1+n {
			return errors.New("malformed list of recipients")
		}
		if !f(list[1 : 1+n]) {
			return nil
		}
		list = list[1+n:]
	}
	return nil
}

// AppendFanout appends a Fanout frame; list is made by AppendList.
func AppendFanout(dst []byte, id uint64, list, payload []byte) []byte {
	n := 1 + 8 + 2 + len(list) + len(payload)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, Fanout)
	dst = binary.LittleEndian.AppendUint64(dst, id)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(list)))
	dst = append(dst, list...)
	return append(dst, payload...)
}

// AppendFanoutRouted appends a FanoutRequest or FanoutAnswer frame.
func AppendFanoutRouted(dst []byte, kind byte, r Routed) []byte {
	n := 1 + 4 + 8 + 2 + len(r.To) + len(r.Payload)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, kind)
	dst = binary.LittleEndian.AppendUint32(dst, r.Conn)
	dst = binary.LittleEndian.AppendUint64(dst, r.ID)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(r.To)))
	dst = append(dst, r.To...)
	return append(dst, r.Payload...)
}
