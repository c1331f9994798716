package actors

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/internal/gopool"
	"github.com/bester-project/bester/wire"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// An outbox whose peer does not read charges the budget with everything
// it holds, refuses more than its byte limit, and gives it all back once
// the peer has read.
func TestOutboxChargesTheBudgetWhileBlocked(t *testing.T) {
	server, client := tcpPair(t)
	server.(*net.TCPConn).SetWriteBuffer(16 << 10)
	client.(*net.TCPConn).SetReadBuffer(16 << 10)
	b := newBudget(64 << 20)
	pool := gopool.New(4)
	defer pool.Close()
	o := newOutbox(pool, server, outboxLimits{count: 1000, bytes: 2 << 20, budget: b},
		func() wire.Codec { return wire.CodecJSON }, func(error) {})

	body := wire.RawValue(`"` + strings.Repeat("x", 100_000) + `"`)
	pushed := 0
	for o.push(&deliver{msg: wire.Delivery{Payload: wire.DeliveryPayload{Type: "t", Data: body}}}) {
		if pushed++; pushed > 1000 {
			t.Fatal("an outbox whose peer reads nothing took 100 MB")
		}
		time.Sleep(time.Millisecond) // the limits count once the writer finds the socket full
	}
	o.mu.Lock()
	held, blocked := o.bytes, o.blocked
	o.mu.Unlock()
	if !blocked || held > 2<<20+len(body)+envelopeSize || held < 2<<20-len(body) {
		t.Fatalf("refused after %d messages holding %d bytes (blocked %v), want about the 2 MiB limit", pushed, held, blocked)
	}
	if used := b.used.Load(); used != int64(held) {
		t.Errorf("budget charged %d bytes for a blocked outbox holding %d", used, held)
	}

	go io.Copy(io.Discard, client)
	eventually(t, "the budget is given back once the peer reads", func() bool { return b.used.Load() == 0 })
}
