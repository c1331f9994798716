package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// DefaultType is the payload type of the relay handler.
const DefaultType = "relay"

// BusyBufferSize is a read and write buffer size for connections that keep
// many messages in flight (32 KiB, as NATS's Go client has): a burst of
// reports or deliveries then comes in with few system calls. Idle
// connections do better with the client's default.
const BusyBufferSize = 32 << 10

// Bester drives a Bester server whose handler of type Type relays data
// {"to": NAMES, "body": TEXT} to the users named, as examples/relay does.
// Message ids travel as base-36 text in payload.id.
type Bester struct {
	// Network and Address are dialled as by client.Dial.
	Network, Address string
	// TLS, when set, makes every connection TLS, as client.Options.TLS.
	TLS *tls.Config
	// Codec is spoken on every connection; default CBOR.
	Codec wire.Codec
	// Password authenticates every user (open authentication ignores
	// it).
	Password string
	// InsecurePlaintext lets Password go in clear to an Address that is
	// not loopback, as client.Options.InsecurePlaintext.
	InsecurePlaintext bool
	// Type is the payload type; default DefaultType.
	Type string
	// Timeout bounds connecting and authenticating; default
	// client.DefaultTimeout.
	Timeout time.Duration
	// BufferSize is each connection's read and write buffer; default
	// client.DefaultBufferSize. BusyBufferSize suits connections that
	// keep many messages in flight.
	BufferSize int
}

// Dial connects and authenticates user, from local when it is set.
func (b *Bester) Dial(ctx context.Context, user string, local net.IP) (Conn, error) {
	o := client.Options{Network: b.Network, Address: b.Address, TLS: b.TLS, Codec: b.Codec, Username: user,
		Password: b.Password, InsecurePlaintext: b.InsecurePlaintext, Timeout: b.Timeout, BufferSize: b.BufferSize}
	var c *client.Client
	var err error
	if local == nil {
		c, err = client.Dial(ctx, o)
	} else {
		timeout := cmp(o.Timeout, client.DefaultTimeout)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: timeout}
		network := cmp(o.Network, client.DefaultNetwork)
		var conn net.Conn
		conn, err = d.DialContext(ctx, network, o.Address)
		if err != nil {
			return nil, fmt.Errorf("connect from %s: %w", local, err)
		}
		c, err = client.Handshake(ctx, conn, o)
	}
	if err != nil {
		return nil, err
	}
	return b.conn(c), nil
}

// conn is the load's side of an authenticated client.
func (b *Bester) conn(c *client.Client) *besterConn {
	return &besterConn{c: c, typ: cmp(b.Type, DefaultType), codec: c.Codec()}
}

// cmp is the first of its arguments that is not the zero value.
func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

type besterConn struct {
	c     *client.Client
	typ   string
	codec wire.Codec
	in    wire.IncomingView // the message Receive read last

	// The sending side (Queue and Flush).
	to   []string
	head []byte // the data's encoding up to the body text
	buf  []byte
	id   []byte
}

// Queue encodes {"to": m.To, "body": m.Body} by hand around the body
// text, and queues it with the id in base 36.
func (b *besterConn) Queue(m *Message) error {
	if b.head == nil || !slices.Equal(b.to, m.To) {
		head, err := relayHead(b.codec, m.To)
		if err != nil {
			return err
		}
		b.to, b.head = slices.Clone(m.To), head
	}
	b.buf = append(b.buf[:0], b.head...)
	if b.codec == wire.CodecJSON {
		b.buf = append(append(append(b.buf, '"'), m.Body...), '"', '}')
	} else {
		b.buf = append(wire.AppendCBORTextHead(b.buf, len(m.Body)), m.Body...)
	}
	b.id = strconv.AppendUint(b.id[:0], m.ID, 36)
	return b.c.Queue(b.typ, string(b.id), wire.RawValue(b.buf))
}

// relayHead encodes the relay data up to the body's value.
func relayHead(codec wire.Codec, to []string) ([]byte, error) {
	var v any = to
	if len(to) == 1 {
		v = to[0]
	}
	enc, err := codec.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode recipients: %w", err)
	}
	if codec == wire.CodecJSON {
		return append(append([]byte(`{"to":`), enc...), `,"body":`...), nil
	}
	head := append([]byte{0xa2, 0x62, 't', 'o'}, enc...)
	return append(head, 0x64, 'b', 'o', 'd', 'y'), nil
}

func (b *besterConn) Flush() error { return b.c.Flush() }

func (b *besterConn) Close() error { return b.c.Close() }

// unknownID stands for a report id that is not one of the run's.
const unknownID = ^uint64(0)

// Receive reads reports and deliveries in place: it needs no more of
// them than the id, the status and the body.
func (b *besterConn) Receive(ev *Event) error {
	for {
		err := b.c.ReceiveView(&b.in)
		if errors.Is(err, client.ErrUndecodable) {
			continue
		}
		if err != nil {
			return err
		}
		in := &b.in
		switch in.MessageType {
		case wire.MessageTypeStatusReport:
			if len(in.ID) == 0 && in.Status != wire.StatusGood {
				// The server refused the connection's input as a whole.
				return fmt.Errorf("server: %w", &wire.Error{Code: in.Error, Detail: string(in.Detail)})
			}
			*ev = Event{Kind: EventAck, ID: parseID(in.ID)}
			if in.Status != wire.StatusGood {
				ev.Code = cmp(string(in.Error), "bad")
				ev.Undelivered = in.Undelivered
			}
			return nil
		case wire.MessageTypeReceived:
			*ev = Event{Kind: EventDelivery, Body: textOf(in.Data, b.codec)}
			return nil
		}
	}
}

// parseID reads a message id in base 36, as Queue writes it, without
// the copy to a string strconv would need; unknownID when it is not one.
func parseID(s []byte) uint64 {
	if len(s) == 0 || len(s) > 13 { // 36^13 > 2^64 > 36^12
		return unknownID
	}
	var v uint64
	for _, c := range s {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'z':
			d = c - 'a' + 10
		default:
			return unknownID
		}
		hi, lo := bits.Mul64(v, 36)
		if hi != 0 || lo+uint64(d) < lo {
			return unknownID
		}
		v = lo + uint64(d)
	}
	return v
}

// textOf is the text data holds, without copying when it is a plain CBOR
// text or JSON string; data of any other kind is returned as is (and
// fails the engine's check of the body).
func textOf(d []byte, codec wire.Codec) []byte {
	if codec == wire.CodecJSON {
		if len(d) >= 2 && d[0] == '"' && d[len(d)-1] == '"' && !bytes.ContainsRune(d[1:len(d)-1], '\\') {
			return d[1 : len(d)-1]
		}
	} else if len(d) > 0 && d[0]>>5 == 3 {
		n, head := uint64(d[0]&0x1f), 1
		switch {
		case n < 24:
		case n == 24 && len(d) >= 2:
			n, head = uint64(d[1]), 2
		case n == 25 && len(d) >= 3:
			n, head = uint64(binary.BigEndian.Uint16(d[1:])), 3
		case n == 26 && len(d) >= 5:
			n, head = uint64(binary.BigEndian.Uint32(d[1:])), 5
		default:
			n = ^uint64(0)
		}
		if uint64(len(d)-head) == n {
			return d[head:]
		}
	}
	var s string
	if codec.Unmarshal(d, &s) == nil {
		return []byte(s)
	}
	return d
}
