package actors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// rawConn is a client connection driven byte by byte, for input the Go
// client refuses to write.
type rawConn struct {
	t     *testing.T
	conn  net.Conn
	codec wire.Codec
}

// dialRaw opens a TCP connection to the server's "tcp" listener that
// speaks codec.
func (ts *testServer) dialRaw(t *testing.T, codec wire.Codec) *rawConn {
	t.Helper()
	return ts.dialRawTo(t, "tcp", ts.Addr("tcp").String(), codec)
}

func (ts *testServer) dialRawTo(t *testing.T, network, address string, codec wire.Codec) *rawConn {
	t.Helper()
	conn, err := net.DialTimeout(network, address, waitLong)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn, codec: codec}
}

// write writes b as it is.
func (r *rawConn) write(b []byte) {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(waitLong))
	if _, err := r.conn.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// writeBody writes body as one frame.
func (r *rawConn) writeBody(body []byte) {
	r.t.Helper()
	r.write(wire.AppendFrame(nil, body))
}

// send encodes v in the connection's codec and writes it as one frame.
func (r *rawConn) send(v any) {
	r.t.Helper()
	body, err := r.codec.Marshal(v)
	if err != nil {
		r.t.Fatal(err)
	}
	r.writeBody(body)
}

// frame reads the next frame's body.
func (r *rawConn) frame() []byte {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(waitLong))
	body, err := wire.ReadFrame(r.conn, wire.DefaultMaxFrame, nil)
	if err != nil {
		r.t.Fatalf("read a frame: %v", err)
	}
	return body
}

// next reads the next message as a generic map.
func (r *rawConn) next() map[string]any {
	r.t.Helper()
	body := r.frame()
	var m map[string]any
	if err := r.codec.UnmarshalMap(body, &m); err != nil {
		r.t.Fatalf("decode %s message %q: %v", r.codec, body, err)
	}
	return m
}

// report reads the next message, which must be a status report.
func (r *rawConn) report() *wire.StatusReport {
	r.t.Helper()
	body := r.frame()
	var rep wire.StatusReport
	if err := r.codec.UnmarshalMap(body, &rep); err != nil {
		r.t.Fatalf("decode %s report %q: %v", r.codec, body, err)
	}
	if rep.Header.MessageType != wire.MessageTypeStatusReport {
		r.t.Fatalf("want a status report, got %q", body)
	}
	return &rep
}

// expectReport reads the next message, which must be the report of id.
func (r *rawConn) expectReport(id string) *wire.StatusReport {
	r.t.Helper()
	rep := r.report()
	if rep.Payload.ID != id {
		r.t.Fatalf("want the report of %q, got the report of %q (%s %s)", id, rep.Payload.ID, rep.Header.Status, rep.Header.Error)
	}
	return rep
}

// expectClosed reads until the server closes the connection; any message
// before that fails the test.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(waitLong))
	body, err := wire.ReadFrame(r.conn, wire.DefaultMaxFrame, nil)
	switch {
	case err == nil:
		r.t.Fatalf("want the connection closed, got %q", body)
	case errors.Is(err, os.ErrDeadlineExceeded):
		r.t.Fatal("the server did not close the connection")
	case !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET):
		r.t.Fatalf("want the connection closed, got %v", err)
	}
}

// authMsg is a first message that logs user in.
func authMsg(user, password string) map[string]any {
	return map[string]any{"header": map[string]any{"scope": "client",
		"authentication": map[string]any{"username": user, "password": password}}}
}

// login authenticates the connection as user in open mode.
func (r *rawConn) login(user string) {
	r.t.Helper()
	r.send(authMsg(user, "pw"))
	wantGood(r.t, r.expectReport(wire.IDAuth))
}

// msg is a later message: a payload and no header.
func msg(typ, id string, data any) map[string]any {
	return map[string]any{"payload": map[string]any{"type": typ, "id": id, "data": data}}
}

// dummy sends a ping and waits for its answer, which must come next.
func (r *rawConn) dummy(id string) {
	r.t.Helper()
	r.send(msg(wire.TypeDummy, id, nil))
	m := r.next()
	p, _ := m["payload"].(map[string]any)
	if p == nil || p["type"] != wire.TypeDummy || p["id"] != id {
		r.t.Fatalf("want the dummy reply %q, got %v", id, m)
	}
}

// stillWorks checks that a new, well-behaved client is served.
func (ts *testServer) stillWorks(t *testing.T) {
	t.Helper()
	for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
		c := ts.dial("W", codec)
		if err := c.Send(wire.TypeDummy, "still", nil); err != nil {
			t.Fatal(err)
		}
		if in := recv(t, c); in.Kind != client.KindDummy || in.ID != "still" {
			t.Fatalf("want the dummy reply, got %s", in.Raw)
		}
		c.Close()
	}
}

// frameHeader is a length prefix claiming n bytes.
func frameHeader(n uint32) []byte {
	return binary.LittleEndian.AppendUint32(nil, n)
}

func TestBadInputZeroLengthFrame(t *testing.T) {
	ts := startServer(t, "")
	t.Run("first frame", func(t *testing.T) {
		r := ts.dialRaw(t, wire.CodecJSON)
		r.write(frameHeader(0))
		wantBad(t, r.expectReport(wire.IDAuth), wire.CodeBadFrame)
		r.expectClosed()
	})
	for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
		t.Run("after login "+codec.String(), func(t *testing.T) {
			r := ts.dialRaw(t, codec)
			r.login("T")
			r.write(frameHeader(0))
			wantBad(t, r.expectReport(""), wire.CodeBadFrame)
			r.expectClosed()
		})
	}
	ts.stillWorks(t)
}

func TestBadInputOversizedFrame(t *testing.T) {
	ts := startServerWith(t, serverOptions{server: "max_frame = 1024"}, "")
	t.Run("first frame", func(t *testing.T) {
		r := ts.dialRaw(t, wire.CodecJSON)
		r.write(frameHeader(1 << 30)) // and no body: the answer must not wait for it
		wantBad(t, r.expectReport(wire.IDAuth), wire.CodeFrameTooLarge)
		r.expectClosed()
	})
	t.Run("after login", func(t *testing.T) {
		r := ts.dialRaw(t, wire.CodecCBOR)
		r.login("T")
		r.write(frameHeader(1025))
		wantBad(t, r.expectReport(""), wire.CodeFrameTooLarge)
		r.expectClosed()
	})
	t.Run("exactly max_frame", func(t *testing.T) {
		r := ts.dialRaw(t, wire.CodecJSON)
		r.login("T")
		body := []byte(`{"payload":{"type":"dummy","id":"big"}}`)
		body = append(body, strings.Repeat(" ", 1024-len(body))...)
		r.writeBody(body)
		if p, _ := r.next()["payload"].(map[string]any); p["id"] != "big" {
			t.Fatalf("a frame of exactly max_frame bytes was not answered: %v", p)
		}
	})
	ts.stillWorks(t)
}

func TestBadInputTruncatedFrame(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor"))
	g := ts.dial("G", wire.CodecCBOR)
	for _, c := range []struct {
		name  string
		login bool
		bytes []byte
	}{
		{"body cut before login", false, append(frameHeader(100), "0123456789"...)},
		{"body cut after login", true, append(frameHeader(100), "0123456789"...)},
		{"header cut", true, frameHeader(100)[:2]},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ts.dialRaw(t, wire.CodecJSON)
			if c.login {
				r.login("T")
			}
			r.write(c.bytes)
			r.conn.Close()
			// The cut connection goes away; the others are served.
			eventually(t, "the cut connection leaves the registry", func() bool { return !ts.registry.has("T") })
			ts.stillWorks(t)
			tc := ts.dial("T2", wire.CodecJSON)
			wantGood(t, sendForReport(t, tc, "h", "after", map[string]any{"to": "G", "body": c.name}))
			var got string
			expectDelivery(t, g, &got)
			if got != c.name {
				t.Fatalf("delivery %q, want %q", got, c.name)
			}
			tc.Close()
		})
	}
}

// wantBadMessage reads the report of id and checks it is bad_message.
func (r *rawConn) wantBadMessage(id string) {
	r.t.Helper()
	wantBad(r.t, r.expectReport(id), wire.CodeBadMessage)
}

func TestBadInputBodyNotAMap(t *testing.T) {
	ts := startServer(t, "")
	cborArray, _ := wire.CodecCBOR.Marshal([]int{1, 2})
	cborText, _ := wire.CodecCBOR.Marshal("payload")
	cases := map[wire.Codec][][]byte{
		wire.CodecJSON: {
			[]byte(`[1,2]`),
			[]byte(`"a string"`),
			[]byte(`42`),
			cborArray,
			[]byte("\xff\x00not json"),
			[]byte(`{"payload":{"type":"dummy","id":"x"}`), // unterminated
			[]byte(`{"payload":{"type":"dummy"}} {"more":1}`),
		},
		wire.CodecCBOR: {
			cborArray,
			cborText,
			[]byte(`{"payload":{"type":"dummy","id":"x"}}`),
			{0xa1},             // a map cut short
			{0xa1, 0x01, 0x02}, // a map with a non-text key
			{0xff, 0x00},
		},
	}
	for codec, bodies := range cases {
		t.Run(codec.String(), func(t *testing.T) {
			r := ts.dialRaw(t, codec)
			r.login("T")
			for i, body := range bodies {
				r.writeBody(body)
				r.wantBadMessage("")
				r.dummy(fmt.Sprint("after-", i)) // the connection goes on
			}
		})
	}
	ts.stillWorks(t)
}

func TestBadInputWrongFieldTypes(t *testing.T) {
	ts := startServer(t, "")
	for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
		t.Run(codec.String(), func(t *testing.T) {
			r := ts.dialRaw(t, codec)
			r.login("T")
			for _, c := range []struct {
				name string
				msg  map[string]any
				id   string // the id the report must carry
			}{
				{"type is a number", map[string]any{"payload": map[string]any{"type": 7, "id": "w-1"}}, "w-1"},
				{"id is a number", map[string]any{"payload": map[string]any{"type": "dummy", "id": 7}}, ""},
				{"header is a string", map[string]any{"header": "client", "payload": map[string]any{"type": "dummy", "id": "w-3"}}, "w-3"},
				{"payload is a string", map[string]any{"payload": "dummy"}, ""},
				{"payload is a list", map[string]any{"payload": []string{"dummy"}}, ""},
				{"scope is a number", map[string]any{"header": map[string]any{"scope": 1}, "payload": map[string]any{"type": "dummy", "id": "w-6"}}, "w-6"},
				{"no payload", map[string]any{"header": map[string]any{}}, ""},
			} {
				r.send(c.msg)
				rep := r.expectReport(c.id)
				if rep.Header.Status != wire.StatusBad || rep.Header.Error != wire.CodeBadMessage || rep.Header.Detail == "" {
					t.Fatalf("%s: want bad %s, got %+v", c.name, wire.CodeBadMessage, rep.Header)
				}
			}
			r.dummy("after")
		})
	}
	ts.stillWorks(t)
}

// smallReadBuffer dials with a small socket receive buffer, so that a
// client that does not read fills up quickly.
func smallReadBuffer(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}

func TestBadInputClientNotReading(t *testing.T) {
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{server: "send_queue = 16", log: log},
		handlerBlock("h", "stream", "cbor", `env = { TESTHANDLER_ACT = "relay" }`))

	// G logs in and then never reads.
	d := net.Dialer{Timeout: waitLong, Control: smallReadBuffer}
	conn, err := d.Dial("tcp", ts.Addr("tcp").String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	g := &rawConn{t: t, conn: conn, codec: wire.CodecCBOR}
	g.login("G")

	// H reads everything it is sent.
	h := ts.dial("H", wire.CodecCBOR)
	var (
		hmu       sync.Mutex
		hReceived int
		hErr      error
	)
	hDone := make(chan struct{})
	go func() {
		defer close(hDone)
		for {
			in, err := h.Receive()
			hmu.Lock()
			if err != nil {
				hErr = err
				hmu.Unlock()
				return
			}
			if in.Kind == wire.MessageTypeReceived {
				hReceived++
			}
			hmu.Unlock()
		}
	}()
	hCount := func() (int, error) {
		hmu.Lock()
		defer hmu.Unlock()
		return hReceived, hErr
	}

	// T floods G and H, pipelining as fast as the server takes them; its
	// reports are collected as they come.
	const (
		maxSent = 50000
		after   = 100 // messages sent once G is gone
	)
	tc := ts.dial("T", wire.CodecCBOR)
	reports := make(chan *wire.StatusReport, maxSent+after+1)
	tDone := make(chan struct{})
	go func() {
		defer close(tDone)
		for {
			in, err := tc.Receive()
			if err != nil {
				return
			}
			if in.Report != nil {
				reports <- in.Report
			}
		}
	}()
	body := strings.Repeat("x", 1<<10)
	seen := map[string]bool{}
	sent, goodForG, undelivered, extra := 0, 0, 0, -1
	take := func() {
		t.Helper()
		var r *wire.StatusReport
		select {
		case r = <-reports:
		case <-tDone:
			t.Fatalf("T's connection ended after %d of %d reports", len(seen), sent)
		case <-time.After(waitLong):
			t.Fatalf("T's report %d never came (sent %d)", len(seen)+1, sent)
		}
		if seen[r.Payload.ID] {
			t.Fatalf("second report for %q", r.Payload.ID)
		}
		seen[r.Payload.ID] = true
		switch {
		case r.Header.Status == wire.StatusGood:
			goodForG++
		case r.Header.Error == wire.CodeUndelivered && slices.Equal(r.Payload.Undelivered, []string{"G"}):
			undelivered++
		default:
			t.Fatalf("report of %q: %+v", r.Payload.ID, r)
		}
	}
	for extra != 0 {
		if sent == maxSent {
			t.Fatalf("G was not disconnected after %d messages", sent)
		}
		if err := tc.Send("h", fmt.Sprint("m-", sent), map[string]any{"to": []string{"G", "H"}, "body": body}); err != nil {
			t.Fatal(err)
		}
		sent++
		if extra < 0 && !ts.registry.has("G") {
			extra = after
		} else if extra > 0 {
			extra--
		}
	}
	for len(seen) < sent {
		take()
	}
	if undelivered < after || goodForG == 0 {
		t.Fatalf("%d good and %d undelivered reports; want good ones while G was there and undelivered after", goodForG, undelivered)
	}
	if !strings.Contains(log.String(), "client is not reading its messages") {
		t.Fatal("the server did not log why it disconnected G")
	}
	eventually(t, "H receives every message", func() bool {
		n, err := hCount()
		if err != nil {
			t.Fatalf("H: %v", err)
		}
		return n == sent
	})

	// G's connection is closed: after what was already written, it ends.
	got := 0
	for {
		conn.SetReadDeadline(time.Now().Add(waitLong))
		if _, err := wire.ReadFrame(conn, wire.DefaultMaxFrame, nil); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("G's connection was not closed")
			}
			break
		}
		got++
	}
	if got >= sent {
		t.Fatalf("G got all %d messages although it was disconnected", got)
	}
	t.Logf("sent %d messages; G was dropped after receiving %d", sent, got)

	// T and H are still connected and served.
	wantGood(t, func() *wire.StatusReport {
		if err := tc.Send("h", "last", map[string]any{"to": "H", "body": "last"}); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-reports:
			if r.Payload.ID != "last" {
				t.Fatalf("want the report of last, got %+v", r)
			}
			return r
		case <-time.After(waitLong):
			t.Fatal("no report for the last message")
		}
		return nil
	}())
	eventually(t, "H receives the last message", func() bool { n, _ := hCount(); return n == sent+1 })
	tc.Close()
	h.Close()
	<-tDone
	<-hDone
}

func TestClientTCP6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
	ts := startServer(t, `
listener "v6" {
  network = "tcp6"
  address = "[::1]:0"
}
`)
	addr, ok := ts.Addr("v6").(*net.TCPAddr)
	if !ok || addr.IP.To4() != nil || !addr.IP.IsLoopback() {
		t.Fatalf("listener address %v", ts.Addr("v6"))
	}
	for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
		c := ts.dialOpts(client.Options{Network: "tcp6", Address: addr.String(), Codec: codec, Username: "T", Password: "pw"})
		if err := c.Send(wire.TypeDummy, "v6", nil); err != nil {
			t.Fatal(err)
		}
		if in := recv(t, c); in.Kind != client.KindDummy || in.ID != "v6" {
			t.Fatalf("want the dummy reply, got %s", in.Raw)
		}
		c.Close()
	}
}
