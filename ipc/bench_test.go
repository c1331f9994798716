package ipc

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/bester-project/bester/wire"
)

// BenchmarkStreamPipelined measures round trips of small requests pipelined
// on one connection.
func BenchmarkStreamPipelined(b *testing.B) {
	c := benchServe(b, func(ctx context.Context, req *Request) (*Response, error) {
		return SendClients([]string{req.From.Name}, req.Data), nil
	})
	data, _ := wire.CodecCBOR.Marshal(map[string]any{"to": "G", "body": "hello"})
	req, _ := wire.CodecCBOR.Marshal(wire.HandlerRequest{ID: 1, Type: "t",
		From: wire.From{Scope: "client", Name: "T", Server: "J"}, Data: data})
	frame := wire.AppendFrame(nil, req)
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, err := c.Write(frame); err != nil {
				return
			}
		}
	}()
	var buf []byte
	for range b.N {
		body, err := wire.ReadFrame(c, wire.DefaultMaxFrame, buf)
		if err != nil {
			b.Fatal(err)
		}
		buf = body
	}
}

// BenchmarkStreamRelay measures the relay example's work per request,
// pipelined on one connection: decoding {"to", "body"} into a struct and
// answering sendClients with the body. Its allocations are nearly all
// the handler side's: the client reuses its buffers.
func BenchmarkStreamRelay(b *testing.B) {
	type message struct {
		To   wire.Names    `cbor:"to" json:"to"`
		Body wire.RawValue `cbor:"body" json:"body"`
	}
	c := benchServe(b, func(ctx context.Context, req *Request) (*Response, error) {
		var msg message
		if err := req.Decode(&msg); err != nil {
			return nil, err
		}
		return SendClients(msg.To, msg.Body), nil
	})
	data, _ := wire.CodecCBOR.Marshal(map[string]any{"to": "G", "body": strings.Repeat("x", 100)})
	var frames []byte
	const batch = 64
	for i := range batch {
		req, _ := wire.CodecCBOR.Marshal(wire.HandlerRequest{ID: uint64(i), Type: "relay",
			From: wire.From{Scope: "client", Name: "T", Server: "J"}, Origin: wire.Address{Server: "J", User: "T"}, Data: data})
		frames = wire.AppendFrame(frames, req)
	}
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i += batch {
			if _, err := c.Write(frames); err != nil {
				return
			}
		}
	}()
	br := bufio.NewReaderSize(c, 64<<10)
	var buf []byte
	for range b.N {
		body, err := wire.ReadFrame(br, wire.DefaultMaxFrame, buf)
		if err != nil {
			b.Fatal(err)
		}
		buf = body
	}
}

// benchServe runs h in stream mode, CBOR, until the benchmark ends, and
// returns a connection to it.
func benchServe(b *testing.B, h HandlerFunc) net.Conn {
	o := Options{Socket: benchSocket(b)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeConfig(ctx, o, h) }()
	b.Cleanup(func() { cancel(); <-done })
	return benchDial(b, o.Socket)
}
