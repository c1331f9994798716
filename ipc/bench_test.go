package ipc

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
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
	c := benchServe(b, relay)
	var frames []byte
	const batch = 64
	for i := range batch {
		frames = wire.AppendFrame(frames, benchRelayRequest(uint64(i)))
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

// BenchmarkRelayWork measures the relay's work per request in the SDK
// without the socket: decoding the request, the relay's decode and
// answer, and encoding the answer. One goroutine, so callgrind's counts
// of it (under GOMAXPROCS=1 and GOGC=off) repeat exactly.
func BenchmarkRelayWork(b *testing.B) {
	body := benchRelayRequest(7)
	o := &Options{Codec: wire.CodecCBOR}
	var msg wire.HandlerRequest
	var scratch bytes.Buffer
	ctx := context.Background()
	b.ReportAllocs()
	for range b.N {
		plainData, err := o.Codec.UnmarshalHandlerRequest(body, &msg)
		if err != nil {
			b.Fatal(err)
		}
		req := newRequest(&msg, plainData, o)
		resp := invoke(ctx, relay, req, slog.Default())
		if _, hangUp := encodeAnswer(&scratch, resp, o.Codec, &req.ID, wire.DefaultMaxFrame); hangUp {
			b.Fatal("hang-up answer")
		}
	}
}

// benchRelayRequest is a relay request from a local client, with a
// 100-byte body.
func benchRelayRequest(id uint64) []byte {
	data, _ := wire.CodecCBOR.Marshal(map[string]any{"to": "G", "body": strings.Repeat("x", 100)})
	req, _ := wire.CodecCBOR.Marshal(wire.HandlerRequest{ID: id, Type: "relay",
		From: wire.From{Scope: "client", Name: "T", Server: "J"}, Origin: wire.Address{Server: "J", User: "T"}, Data: data})
	return req
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
