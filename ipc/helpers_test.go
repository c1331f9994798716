package ipc

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bester-project/bester/wire"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 5 * time.Second

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// socketPath returns a short socket path: UNIX socket paths are limited to
// about 108 bytes, which t.TempDir can exceed.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ipc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "h.sock")
}

// start runs ServeConfig in the background and stops it when the test ends,
// checking that it returned nil and removed its socket.
func start(t *testing.T, o Options, h HandlerFunc) string {
	t.Helper()
	if o.Socket == "" {
		o.Socket = socketPath(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeConfig(ctx, o, h) }()
	waitListening(t, o.Socket, done)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeConfig: %v", err)
			}
		case <-time.After(testTimeout):
			t.Errorf("ServeConfig did not return after cancel")
		}
		if _, err := os.Lstat(o.Socket); !os.IsNotExist(err) {
			t.Errorf("socket %s left behind (err %v)", o.Socket, err)
		}
	})
	return o.Socket
}

func waitListening(t *testing.T, path string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("ServeConfig returned early: %v", err)
		default:
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never accepted connections", path)
}

// client is the server's side of a handler connection, for tests.
type client struct {
	t     *testing.T
	conn  net.Conn
	codec wire.Codec
}

func dial(t *testing.T, path string, codec wire.Codec) *client {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(testTimeout))
	return &client{t: t, conn: conn, codec: codec}
}

// encode marshals v in the client's codec.
func (c *client) encode(v any) wire.RawValue {
	c.t.Helper()
	b, err := c.codec.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// request sends a stream request with data encoded from v.
func (c *client) request(id uint64, v any) {
	c.t.Helper()
	body := c.encode(wire.HandlerRequest{ID: id, Type: "t",
		From: wire.From{Scope: wire.FromClient, Name: "T", Server: "J"}, Data: c.encode(v)})
	c.write(body)
}

func (c *client) write(body []byte) {
	c.t.Helper()
	if err := wire.WriteFrame(c.conn, body); err != nil {
		c.t.Fatal(err)
	}
}

// response reads and decodes one handler response.
func (c *client) response() wire.HandlerResponse {
	c.t.Helper()
	body, err := wire.ReadFrame(c.conn, wire.DefaultMaxFrame, nil)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	var r wire.HandlerResponse
	if err := c.codec.UnmarshalMap(body, &r); err != nil {
		c.t.Fatalf("decode response %x: %v", body, err)
	}
	return r
}

// decode decodes raw data in the client's codec.
func (c *client) decode(raw wire.RawValue, v any) {
	c.t.Helper()
	if err := c.codec.Unmarshal(raw, v); err != nil {
		c.t.Fatalf("decode %q: %v", raw, err)
	}
}

// expectClosed checks that the handler closed the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	if _, err := wire.ReadFrame(c.conn, wire.DefaultMaxFrame, nil); err == nil {
		c.t.Fatal("connection still open: read a frame")
	} else if os.IsTimeout(err) {
		c.t.Fatal("connection still open: read timed out")
	}
}

var codecs = []wire.Codec{wire.CodecCBOR, wire.CodecJSON}

// benchSocket is socketPath for benchmarks.
func benchSocket(b *testing.B) string {
	dir, err := os.MkdirTemp("", "ipc")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "h.sock")
}

// benchDial connects once the handler listens.
func benchDial(b *testing.B, path string) net.Conn {
	deadline := time.Now().Add(testTimeout)
	for {
		conn, err := net.Dial("unix", path)
		if err == nil {
			b.Cleanup(func() { conn.Close() })
			return conn
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
