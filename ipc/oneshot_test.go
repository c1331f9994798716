package ipc

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
)

// relay does the relay example's work: it decodes {"to", "body"} into a
// struct and answers sendClients with the body.
func relay(ctx context.Context, req *Request) (*Response, error) {
	var in struct {
		To   wire.Names    `cbor:"to" json:"to"`
		Body wire.RawValue `cbor:"body" json:"body"`
	}
	if err := req.Decode(&in); err != nil {
		return nil, err
	}
	return SendClients(in.To, in.Body), nil
}

func TestOneshot(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			types := make(chan string, 3)
			path := start(t, Options{Codec: codec, Mode: wire.ModeOneshot, Type: "afrikaans"},
				func(ctx context.Context, req *Request) (*Response, error) {
					types <- req.Type
					return relay(ctx, req)
				})
			for i := range 3 { // a new connection per message
				c := dial(t, path, codec)
				body := map[string]any{"to": "G", "body": []any{"x", i}}
				c.write(c.encode(body)) // the raw client data, no envelope
				r := c.response()
				if r.ID != nil || r.Header.Status != "0" || r.Header.Command.Type != wire.CommandSendClients {
					t.Fatalf("response %+v", r)
				}
				var users []string
				var data []any
				c.decode(r.Header.Command.Data, &users)
				c.decode(r.Data, &data)
				if len(users) != 1 || users[0] != "G" || len(data) != 2 || data[0] != "x" {
					t.Fatalf("users %v data %v", users, data)
				}
				c.expectClosed()
			}
			for range 3 {
				if typ := <-types; typ != "afrikaans" {
					t.Fatalf("type %q", typ)
				}
			}
		})
	}
}

// Oneshot data need not be a map: it is the client's data as is.
func TestOneshotErrorAndNonMapData(t *testing.T) {
	path := start(t, Options{Codec: wire.CodecJSON, Mode: wire.ModeOneshot}, relay)
	c := dial(t, path, wire.CodecJSON)
	c.write([]byte(`"just text"`))
	r := c.response()
	var text string
	c.decode(r.Data, &text)
	if r.Header.Status != "1" || text == "" {
		t.Fatalf("got %+v %q", r.Header, text)
	}
}

func TestOneshotOversizedFrame(t *testing.T) {
	path := start(t, Options{Mode: wire.ModeOneshot, MaxFrame: 16}, relay)
	c := dial(t, path, wire.CodecCBOR)
	c.write(make([]byte, 17))
	c.expectClosed()
}

// A oneshot connection that sends nothing is dropped at shutdown.
func TestOneshotIdleConnectionAtShutdown(t *testing.T) {
	o := Options{Socket: socketPath(t), Mode: wire.ModeOneshot}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeConfig(ctx, o, relay) }()
	waitListening(t, o.Socket, done)
	conn, err := net.Dial("unix", o.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("ServeConfig kept waiting for an idle connection")
	}
}
