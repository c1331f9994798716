package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// testTimeout bounds every dial in these tests; generous, never raced.
const testTimeout = 10 * time.Second

var codecs = []wire.Codec{wire.CodecCBOR, wire.CodecJSON}

// dial connects to s as the fake server's user, failing the test on error,
// and closes the client when the test ends.
func dial(t testing.TB, s *fakeServer, codec wire.Codec) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), client.Options{Network: s.ln.Addr().Network(),
		Address: s.addr(), Codec: codec, Username: fakeUser, Password: fakePassword, Timeout: testTimeout})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receive reads one message, failing the test on error.
func receive(t testing.TB, c *client.Client) *client.Incoming {
	t.Helper()
	in, err := c.Receive()
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return in
}

func TestDialDefaultsToCBOR(t *testing.T) {
	s := startFakeServer(t, "tcp")
	c := dial(t, s, wire.CodecAuto)
	if c.Codec() != wire.CodecCBOR {
		t.Fatalf("codec %v, want cbor", c.Codec())
	}
}

func TestDialBadPassword(t *testing.T) {
	s := startFakeServer(t, "tcp")
	for _, codec := range codecs {
		c, err := client.Dial(context.Background(), client.Options{Address: s.addr(), Codec: codec,
			Username: fakeUser, Password: "wrong", Timeout: testTimeout})
		if err == nil {
			c.Close()
			t.Fatalf("%s: Dial with a wrong password succeeded", codec)
		}
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeUnauthorized {
			t.Fatalf("%s: got %v, want a wire.Error with code unauthorized", codec, err)
		}
		if !strings.Contains(err.Error(), "bad credentials") {
			t.Errorf("%s: the error %q lacks the server's detail", codec, err)
		}
	}
}

func TestDialTimeout(t *testing.T) {
	s := startFakeServer(t, "tcp", func(s *fakeServer) { s.silent = true })
	start := time.Now()
	_, err := client.Dial(context.Background(), client.Options{Address: s.addr(),
		Username: fakeUser, Password: fakePassword, Timeout: 100 * time.Millisecond})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > testTimeout/2 {
		t.Fatalf("Dial took %v", d)
	}
}

func TestDialCancelled(t *testing.T) {
	s := startFakeServer(t, "tcp", func(s *fakeServer) { s.silent = true })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := client.Dial(ctx, client.Options{Address: s.addr(),
		Username: fakeUser, Password: fakePassword, Timeout: testTimeout})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := client.Dial(context.Background(), client.Options{Address: addr, Timeout: testTimeout}); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
}

func TestDialBadOptions(t *testing.T) {
	for _, o := range []client.Options{
		{},
		{Address: "x", Network: "udp"},
		{Address: "x", Codec: wire.Codec(9)},
		{Address: "x", MaxFrame: -1},
	} {
		if _, err := client.Dial(context.Background(), o); err == nil {
			t.Errorf("Dial(%+v) succeeded", o)
		}
	}
}

func TestEchoDelivery(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		for _, codec := range codecs {
			t.Run(network+"/"+codec.String(), func(t *testing.T) {
				s := startFakeServer(t, network)
				c := dial(t, s, codec)
				sent := map[string]any{"to": "G", "body": "hello", "n": uint64(18446744073709551615)}
				if err := c.Send(typeEcho, "m-1", sent); err != nil {
					t.Fatal(err)
				}
				in := receive(t, c)
				if in.Kind != wire.MessageTypeReceived || in.Type != typeEcho ||
					in.From != (wire.Address{Server: fakeServerName, User: fakeUser}) || in.Report != nil {
					t.Fatalf("delivery: %+v", in)
				}
				var got struct {
					To   string `cbor:"to" json:"to"`
					Body string `cbor:"body" json:"body"`
					N    uint64 `cbor:"n" json:"n"`
				}
				if err := in.Decode(&got); err != nil || got.To != "G" || got.Body != "hello" || got.N != 18446744073709551615 {
					t.Fatalf("delivered data %+v, %v", got, err)
				}
				if d, err := wire.DetectCodec(in.Raw); err != nil || d != codec {
					t.Fatalf("raw body in %v, %v", d, err)
				}
				rep := receive(t, c)
				if rep.Kind != wire.MessageTypeStatusReport || rep.ID != "m-1" || rep.Report == nil ||
					rep.Report.Header.Status != wire.StatusGood || rep.Err() != nil {
					t.Fatalf("report: %+v", rep)
				}
			})
		}
	}
}

func TestBadReport(t *testing.T) {
	for _, codec := range codecs {
		s := startFakeServer(t, "tcp")
		c := dial(t, s, codec)
		if err := c.Send(typeFail, "m-7", nil); err != nil {
			t.Fatal(err)
		}
		in := receive(t, c)
		if in.Report == nil || in.ID != "m-7" {
			t.Fatalf("%s: got %+v", codec, in)
		}
		h, p := in.Report.Header, in.Report.Payload
		if h.MessageType != wire.MessageTypeStatusReport || h.Status != wire.StatusBad || h.Error != wire.CodeUndelivered ||
			h.Detail != "G2 is not connected" || p.ID != "m-7" || len(p.Undelivered) != 1 || p.Undelivered[0] != "G2" {
			t.Fatalf("%s: report %+v", codec, in.Report)
		}
		var we *wire.Error
		if err := in.Err(); !errors.As(err, &we) || we.Code != wire.CodeUndelivered {
			t.Fatalf("%s: Err() = %v", codec, err)
		}
	}
}

func TestDummy(t *testing.T) {
	for _, codec := range codecs {
		s := startFakeServer(t, "tcp")
		c := dial(t, s, codec)
		if err := c.Send(wire.TypeDummy, "ping-1", nil); err != nil {
			t.Fatal(err)
		}
		in := receive(t, c)
		if in.Kind != client.KindDummy || in.Type != wire.TypeDummy || in.ID != "ping-1" || in.Report != nil {
			t.Fatalf("%s: got %+v", codec, in)
		}
		var v any = "not null"
		if err := in.Decode(&v); err != nil || v != nil {
			t.Fatalf("%s: dummy data %v, %v; want null", codec, v, err)
		}
	}
}

// TestRawValueSentAsIs: a RawValue reaches the server byte for byte.
func TestRawValueSentAsIs(t *testing.T) {
	data := map[wire.Codec]wire.RawValue{
		wire.CodecCBOR: {0xbf, 0x61, 'a', 0x1a, 0, 0, 0, 1, 0xff},
		wire.CodecJSON: wire.RawValue(`{ "a" : 1.0 }`),
	}
	for _, codec := range codecs {
		s := startFakeServer(t, "tcp")
		c := dial(t, s, codec)
		if err := c.Send(typeEcho, "m-1", data[codec]); err != nil {
			t.Fatal(err)
		}
		body := <-s.frames
		if !bytes.Contains(body, data[codec]) {
			t.Fatalf("%s: body %q lacks the data %q", codec, body, data[codec])
		}
		if in := receive(t, c); !bytes.Contains(in.Data, []byte("a")) {
			t.Fatalf("%s: echoed data %q", codec, in.Data)
		}
	}
}

// TestTextEscaping: types and ids with awkward characters arrive intact.
func TestTextEscaping(t *testing.T) {
	ids := []string{"", `q"uote\back`, "tab\tnew\nline\x00\x1f", "wêreld ✓ 🚀", strings.Repeat("l", 300), strings.Repeat("m", 70000)}
	for _, codec := range codecs {
		s := startFakeServer(t, "tcp")
		c := dial(t, s, codec)
		for _, id := range ids {
			if err := c.Send(typeCount, id, nil); err != nil {
				t.Fatal(err)
			}
			if in := receive(t, c); in.ID != id {
				t.Fatalf("%s: id %.40q came back as %.40q", codec, id, in.ID)
			}
		}
		if err := c.Send("bad\xff", "1", nil); err == nil {
			t.Fatalf("%s: invalid UTF-8 type sent", codec)
		}
	}
}

func TestQueueAndFlush(t *testing.T) {
	const n = 500
	s := startFakeServer(t, "tcp")
	c := dial(t, s, wire.CodecCBOR)
	for i := range n {
		if err := c.Queue(typeCount, fmt.Sprint(i), wire.RawValue{0x01}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if in := receive(t, c); in.ID != fmt.Sprint(i) {
			t.Fatalf("report %d has id %q", i, in.ID)
		}
	}
}

// TestConcurrentSends: many goroutines share one client; every message
// gets exactly one report.
func TestConcurrentSends(t *testing.T) {
	const senders, each = 8, 200
	for _, codec := range codecs {
		s := startFakeServer(t, "tcp")
		c := dial(t, s, codec)
		var wg sync.WaitGroup
		for g := range senders {
			wg.Go(func() {
				for i := range each {
					if err := c.Send(typeCount, fmt.Sprintf("%d-%d", g, i), map[string]int{"i": i}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		seen := make(map[string]bool, senders*each)
		for range senders * each {
			in := receive(t, c)
			if seen[in.ID] {
				t.Fatalf("%s: report %q twice", codec, in.ID)
			}
			seen[in.ID] = true
		}
		wg.Wait()
	}
}

func TestSendTooLarge(t *testing.T) {
	s := startFakeServer(t, "tcp")
	c, err := client.Dial(context.Background(), client.Options{Address: s.addr(), MaxFrame: 100,
		Username: fakeUser, Password: fakePassword, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Send(typeCount, "1", strings.Repeat("x", 100))
	if !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrFrameTooLarge", err)
	}
	if err := c.Send(wire.TypeDummy, "2", nil); err != nil {
		t.Fatalf("the client is unusable after a refused message: %v", err)
	}
	if in := receive(t, c); in.ID != "2" {
		t.Fatalf("got %+v", in)
	}
	// A refused Send still writes what was queued before it.
	if err := c.Queue(wire.TypeDummy, "queued", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(typeCount, "3", strings.Repeat("x", 100)); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrFrameTooLarge", err)
	}
	if in := receive(t, c); in.ID != "queued" {
		t.Fatalf("got %+v", in)
	}
}

func TestSendUnencodable(t *testing.T) {
	s := startFakeServer(t, "tcp")
	for _, codec := range codecs {
		c := dial(t, s, codec)
		if err := c.Send(typeCount, "1", make(chan int)); err == nil {
			t.Fatalf("%s: a channel was sent", codec)
		}
	}
}

func TestServerCloses(t *testing.T) {
	s := startFakeServer(t, "tcp")
	c := dial(t, s, wire.CodecCBOR)
	if err := c.Send(typeClose, "1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Receive(); !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want io.EOF", err)
	}
}

func TestClose(t *testing.T) {
	s := startFakeServer(t, "tcp")
	c := dial(t, s, wire.CodecJSON)
	if err := c.Queue(typeCount, "queued", nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Receive()
		done <- err
	}()
	// The queued message is written by Close, and the server answers it
	// before it sees the end of the stream; the reader may see either.
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if body := <-s.frames; !bytes.Contains(body, []byte(`"queued"`)) {
		t.Fatalf("the server got %s", body)
	}
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("Close did not end Receive")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.Send(typeCount, "late", nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if err := c.Flush(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
}

// TestReceiveUndecodable: a frame whose body does not decode is reported
// and skipped; the next one is read normally.
func TestReceiveUndecodable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		if _, err := wire.ReadFrame(conn, wire.DefaultMaxFrame, nil); err != nil {
			return
		}
		good, _ := wire.CodecCBOR.Marshal(wire.GoodReport(wire.IDAuth))
		dummy, _ := wire.CodecCBOR.Marshal(wire.NewDummyReply("after"))
		var out []byte
		for _, b := range [][]byte{good, []byte("[]"), {0xa1, 0x61}, dummy} {
			out = wire.AppendFrame(out, b)
		}
		conn.Write(out)
		io.Copy(io.Discard, conn)
	}()
	c, err := client.Dial(context.Background(), client.Options{Address: ln.Addr().String(), Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 2 {
		if _, err := c.Receive(); !errors.Is(err, client.ErrUndecodable) {
			t.Fatalf("got %v, want ErrUndecodable", err)
		}
	}
	if in := receive(t, c); in.Kind != client.KindDummy || in.ID != "after" {
		t.Fatalf("got %+v", in)
	}
}

// TestReceiveView has the server answer the same messages twice, read
// once with Receive and once with ReceiveView: the view says what the
// message does, in either codec.
func TestReceiveView(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			s := startFakeServer(t, "tcp")
			c := dial(t, s, codec)
			send := func() {
				for i, typ := range []string{typeEcho, typeFail, wire.TypeDummy} {
					if err := c.Send(typ, fmt.Sprintf("m-%d", i), map[string]string{"body": "hello"}); err != nil {
						t.Fatal(err)
					}
				}
			}
			send()
			var want []*client.Incoming
			for range 4 { // a delivery and its report, a bad report, a dummy reply
				want = append(want, receive(t, c))
			}
			send()
			for _, in := range want {
				var v wire.IncomingView
				if err := c.ReceiveView(&v); err != nil {
					t.Fatal(err)
				}
				kind := v.MessageType
				if kind == "" && string(v.Type) == wire.TypeDummy {
					kind = client.KindDummy
				}
				got := []any{kind, string(v.Type), string(v.ID), string(v.FromServer), string(v.FromUser), string(v.Data)}
				exp := []any{in.Kind, in.Type, in.ID, in.From.Server, in.From.User, string(in.Data)}
				if in.Report != nil {
					h := in.Report.Header
					got = append(got, v.Status, v.Error, string(v.Detail), v.Undelivered)
					exp = append(exp, h.Status, h.Error, h.Detail, len(in.Report.Payload.Undelivered))
				}
				if fmt.Sprint(got) != fmt.Sprint(exp) {
					t.Errorf("viewed %q, received %q", got, exp)
				}
			}
		})
	}
}
