package loadgen

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// The benchmarks below measure what the load generator spends on one
// delivery or one acknowledgement from a Bester server once the bytes are
// in its buffer: reading the frame, decoding it and accounting for the id.
// The server is a net.Conn that answers the authentication, then writes
// the same frame over and over with a new id in each, so that every one
// is accounted for as a new message.

func BenchmarkBesterDelivery(b *testing.B) {
	body := newBody(128)
	frame := encodeFrame(b, &wire.Delivery{
		Header:  wire.DeliveryHeader{MessageType: wire.MessageTypeReceived, From: wire.Address{Server: "bester", User: "s0"}},
		Payload: wire.DeliveryPayload{Type: DefaultType, Data: wire.RawValue(append(wire.AppendCBORTextHead(nil, len(body)), body...))},
	})
	at := bytes.Index(frame, body)
	benchmarkReceive(b, frame, func(f []byte, id uint64, now int64) { stampBody(f[at:], id, now) },
		func(r *run, rc *receiver, ev *Event) {
			if ev.Kind != EventDelivery {
				b.Fatalf("got event %d, want a delivery", ev.Kind)
			}
			r.onDelivery(rc, ev)
		}, func(r *run) uint64 { return r.delivered.Load() })
}

func BenchmarkBesterAck(b *testing.B) {
	// The widest id of a run's first sender, whatever b.N is.
	id := strconv.FormatUint(makeID(0, 1<<seqBits-1), 36)
	frame := encodeFrame(b, wire.GoodReport(id))
	at := bytes.Index(frame, []byte(id))
	var digits []byte
	benchmarkReceive(b, frame, func(f []byte, seq uint64, _ int64) {
		// Every id as wide as the widest, padded with zeros, which
		// base 36 reads the same.
		digits = strconv.AppendUint(digits[:0], seq, 36)
		pad := f[at : at+len(id)-len(digits)]
		for i := range pad {
			pad[i] = '0'
		}
		copy(f[at+len(pad):], digits)
	}, func(r *run, rc *receiver, ev *Event) {
		if ev.Kind != EventAck {
			b.Fatalf("got event %d, want an acknowledgement", ev.Kind)
		}
		r.onAck(rc, ev)
	}, func(r *run) uint64 { return r.acked.Load() })
}

// encodeFrame is v's frame.
func encodeFrame(b *testing.B, v any) []byte {
	enc, err := wire.CodecCBOR.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return wire.AppendFrame(nil, enc)
}

// benchmarkReceive has a Bester connection receive b.N copies of frame,
// stamped with message ids 0, 1, ... of sender 0, and handles each.
func benchmarkReceive(b *testing.B, frame []byte, stamp func(f []byte, id uint64, now int64),
	handle func(*run, *receiver, *Event), count func(*run) uint64) {
	r := &run{cfg: Config{Senders: 1, Recipients: 1, Size: 128, Rate: 1}, codes: newCodeTable(),
		ledgers: []*ledger{{}}, senders: []*sender{{}}, base: time.Now(), end: int64(time.Hour)}
	for range b.N {
		r.ledgers[0].add(0)
	}
	rc := &receiver{from: []bool{true}, delivery: newHistogram(), ack: newHistogram(), seen: map[int]*bitset{}}
	srv := &frameServer{frame: frame, stamp: stamp, base: r.base}
	c, err := client.Handshake(context.Background(), srv, client.Options{Username: "r0", BufferSize: BusyBufferSize})
	if err != nil {
		b.Fatal(err)
	}
	conn := (&Bester{}).conn(c)
	var ev Event
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ev = Event{}
		if err := conn.Receive(&ev); err != nil {
			b.Fatal(err)
		}
		handle(r, rc, &ev)
	}
	b.StopTimer()
	if got := count(r); got != uint64(b.N) || r.errs.Load() != 0 {
		b.Fatalf("accounted for %d of %d, %d errors", got, b.N, r.errs.Load())
	}
}

// frameServer is the server side of a connection: it answers the
// authentication, then writes frame again and again, stamping each copy
// with the next message id.
type frameServer struct {
	net.Conn // only the methods below are used
	frame    []byte
	stamp    func(f []byte, id uint64, now int64)
	base     time.Time
	authed   bool
	pending  []byte // the rest of the current frame
	next     uint64
}

func (s *frameServer) Read(p []byte) (int, error) {
	if !s.authed {
		s.authed = true
		auth, err := wire.CodecCBOR.Marshal(wire.GoodReport(wire.IDAuth))
		if err != nil {
			return 0, err
		}
		return copy(p, wire.AppendFrame(nil, auth)), nil
	}
	n := 0
	for n < len(p) {
		if len(s.pending) == 0 {
			s.stamp(s.frame, makeID(0, s.next), int64(time.Since(s.base)))
			s.next++
			s.pending = s.frame
		}
		c := copy(p[n:], s.pending)
		s.pending = s.pending[c:]
		n += c
	}
	return n, nil
}

func (s *frameServer) Write(p []byte) (int, error)      { return len(p), nil }
func (s *frameServer) Close() error                     { return nil }
func (s *frameServer) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (s *frameServer) SetDeadline(time.Time) error      { return nil }
func (s *frameServer) SetReadDeadline(time.Time) error  { return nil }
func (s *frameServer) SetWriteDeadline(time.Time) error { return nil }
