package ipc

import (
	"context"
	"testing"

	"github.com/bester-project/bester/wire"
)

// BenchmarkStreamPipelined measures round trips of small requests pipelined
// on one connection.
func BenchmarkStreamPipelined(b *testing.B) {
	o := Options{Socket: benchSocket(b)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeConfig(ctx, o, func(ctx context.Context, req *Request) (*Response, error) {
			return SendClients([]string{req.From.Name}, req.Data), nil
		})
	}()
	defer func() { cancel(); <-done }()
	c := benchDial(b, o.Socket)
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
