package actors

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bester-project/bester/internal/gopool"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
	"github.com/bester-project/bester/wire/tlsconf"
)

// tlsPair returns both ends of a loopback TLS connection, the server's
// over a tlsSock as a TLS listener makes it, with the handshake done.
func tlsPair(t *testing.T) (server, client *tls.Conn) {
	t.Helper()
	pki := newPKI(t, "test CA")
	rawServer, rawClient := tcpPair(t)
	sock, err := newTLSSock(rawServer.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(pki.Path("server.crt"), pki.Path("server.key"))
	if err != nil {
		t.Fatal(err)
	}
	server = tls.Server(sock, &tls.Config{Certificates: []tls.Certificate{pair}})
	cfg, err := tlsconf.Client{CA: pki.Path("ca.crt")}.Config(rawServer.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	client = tls.Client(rawClient, cfg)
	done := make(chan error, 1)
	go func() { done <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return server, client
}

// frameCounter reads frames from conn until it fails, counting them.
type frameCounter struct {
	frames atomic.Int64
	done   chan error
}

func countFrames(conn net.Conn) *frameCounter {
	fc := &frameCounter{done: make(chan error, 1)}
	go func() {
		for {
			if _, err := wire.ReadFrame(conn, wire.DefaultMaxFrame, nil); err != nil {
				fc.done <- err
				return
			}
			fc.frames.Add(1)
		}
	}()
	return fc
}

// delivery is a queued delivery with size bytes of data.
func delivery(size int) *deliver {
	return &deliver{msg: wire.Delivery{Payload: wire.DeliveryPayload{Type: "t",
		Data: wire.RawValue(`"` + strings.Repeat("x", size) + `"`)}}}
}

// An outbox writing to a TLS client that reads takes bursts of many more
// messages than send_queue: they wait only for the writer, not for the
// client. Were every TLS write counted as waiting for the client, as it
// was, the first burst would be refused after 16.
func TestOutboxOverTLSReader(t *testing.T) {
	server, client := tlsPair(t)
	pool := gopool.New(4)
	defer pool.Close()
	o := newOutbox(pool, server, outboxLimits{count: 16, bytes: 4 << 20},
		func() wire.Codec { return wire.CodecJSON }, func(error) {})
	reader := countFrames(client)

	const bursts, perBurst = 50, 100 // 25 KB a burst: it fits in the sockets' buffers
	for b := range bursts {
		for i := range perBurst {
			if !o.push(delivery(200)) {
				t.Fatalf("burst %d: message %d refused although the client reads everything", b, i)
			}
		}
		want := int64((b + 1) * perBurst)
		eventually(t, "the client reads the burst", func() bool { return reader.frames.Load() == want })
	}
	o.close(true)
	if err := <-reader.done; err == nil {
		t.Fatal("the client's read ended without an error")
	}
}

// An outbox writing to a TLS client that stops reading finds out once the
// socket takes no more, and then refuses more than send_queue messages.
func TestOutboxOverTLSNonReader(t *testing.T) {
	server, _ := tlsPair(t)
	server.NetConn().(*tlsSock).SetWriteBuffer(16 << 10)
	pool := gopool.New(4)
	defer pool.Close()
	o := newOutbox(pool, server, outboxLimits{count: 16, bytes: 4 << 20},
		func() wire.Codec { return wire.CodecJSON }, func(error) {})
	defer o.close(false)

	pushed := 0
	for o.push(delivery(10_000)) {
		if pushed++; pushed > 5000 {
			t.Fatal("an outbox whose TLS client reads nothing took 50 MB")
		}
		time.Sleep(time.Millisecond) // the limit counts once the writer finds the socket full
	}
	o.mu.Lock()
	queued, blocked := len(o.items), o.blocked
	o.mu.Unlock()
	if !blocked || queued != 16 {
		t.Fatalf("refused after %d messages with %d queued (blocked %v), want 16 queued while blocked", pushed, queued, blocked)
	}
}

// A TLS client that stops reading is disconnected once send_queue
// messages wait for it, with a log line that says why; a TLS client that
// takes bursts of four times send_queue and reads them all is not, and
// nor is anyone else.
func TestTLSClientNotReading(t *testing.T) {
	pki := newPKI(t, "test CA")
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{server: "send_queue = 16", log: log},
		pki.listener()+handlerBlock("h", "stream", "cbor", `env = { TESTHANDLER_ACT = "relay" }`))
	cfg := pki.tlsConfig(ts, "")

	// G logs in over TLS with a small socket buffer and never reads.
	d := &net.Dialer{Timeout: waitLong, Control: smallReadBuffer}
	conn, err := tls.DialWithDialer(d, "tcp4", ts.Addr("tls").String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	g := &rawConn{t: t, conn: conn, codec: wire.CodecCBOR}
	g.login("G")

	// H reads over TLS everything it is sent, in bursts.
	hReceived := countDeliveries(ts.dialTLSClient(cfg, "H", wire.CodecCBOR))
	sender := ts.dial("T", wire.CodecCBOR)
	const bursts, perBurst = 20, 64
	for b := range bursts {
		sendBurst(t, sender, perBurst, func(i int) any {
			return map[string]any{"to": "H", "body": fmt.Sprint("burst ", b, " message ", i)}
		})
		want := int64((b + 1) * perBurst)
		eventually(t, "H reads the burst", func() bool { return hReceived.Load() == want })
	}

	body := strings.Repeat("x", 1<<10)
	for i := 0; ts.registry.has("G"); i++ {
		if i == 50_000 {
			t.Fatal("G was not disconnected after 50,000 messages")
		}
		r := sendForReport(t, sender, "h", fmt.Sprint("g-", i), map[string]any{"to": "G", "body": body})
		if r.Header.Error == wire.CodeUndelivered { // cut between the check and the delivery
			break
		}
		wantGood(t, r)
	}
	if !strings.Contains(log.String(), "client is not reading its messages") {
		t.Fatal("the server did not log why it disconnected G")
	}
	conn.SetReadDeadline(time.Now().Add(waitLong))
	for {
		if _, err := wire.ReadFrame(conn, wire.DefaultMaxFrame, nil); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("G's connection was not closed")
			}
			break
		}
	}
	if !ts.registry.has("H") {
		t.Fatal("H, who reads, was disconnected")
	}
	wantGood(t, sendForReport(t, sender, "h", "last", map[string]any{"to": "H", "body": "last"}))
	eventually(t, "H gets the last message", func() bool { return hReceived.Load() == bursts*perBurst+1 })
}

// sendBurst sends n messages to handler "h" at once, data(i) the i-th's
// data, then waits for their n good reports.
func sendBurst(t *testing.T, c *client.Client, n int, data func(i int) any) {
	t.Helper()
	for i := range n {
		if err := c.Queue("h", fmt.Sprint("b-", i), data(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	for range n {
		in := recv(t, c)
		if in.Report == nil {
			t.Fatalf("want a report, got %s", in.Raw)
		}
		wantGood(t, in.Report)
	}
}
