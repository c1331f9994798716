package actors

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// heapInUse is the test process's heap in use after a collection: the
// server runs in this process, so its growth is the server's.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// A header claiming max_frame before login is refused at once with
// frame_too_large, and nothing is allocated for it: 300 of them used to
// hold 300 MiB until the authentication timeout.
func TestPreLoginFrameIsSmall(t *testing.T) {
	ts := startServer(t, "")
	before := heapInUse()
	conns := make([]*rawConn, 300)
	for i := range conns {
		conns[i] = ts.dialRaw(t, wire.CodecJSON)
	}
	for _, c := range conns {
		c.write(append(frameHeader(wire.DefaultMaxFrame), 'x'))
	}
	time.Sleep(300 * time.Millisecond) // let the readers see the headers
	if grown := int64(heapInUse()) - int64(before); grown > 64<<20 {
		t.Errorf("heap grew %d MiB for 300 connections that sent 5 bytes each", grown>>20)
	}
	for _, c := range conns {
		wantBad(t, c.expectReport(wire.IDAuth), wire.CodeFrameTooLarge)
		c.expectClosed()
	}
}

// After login, a frame's memory follows what arrived, not what its
// header claims, and a frame that never completes is closed with
// bad_frame after frame_timeout.
func TestPartialFramesAfterLogin(t *testing.T) {
	ts := startServerWith(t, serverOptions{server: `frame_timeout = "2s"`}, "")
	const n = 200
	before := heapInUse()
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = ts.dialRaw(t, wire.CodecJSON)
		conns[i].login(fmt.Sprintf("u%d", i))
		conns[i].write(append(frameHeader(wire.DefaultMaxFrame), strings.Repeat("x", 100)...))
	}
	time.Sleep(300 * time.Millisecond)
	if grown := int64(heapInUse()) - int64(before); grown > 64<<20 {
		t.Errorf("heap grew %d MiB for %d frames of 100 bytes that claim 1 MiB", grown>>20, n)
	}
	for _, c := range conns {
		r := c.report()
		if r.Header.Error != wire.CodeBadFrame || !strings.Contains(r.Header.Detail, "frame_timeout") && !strings.Contains(r.Header.Detail, "not complete") {
			t.Fatalf("want bad_frame for a frame that never completes, got %+v", r.Header)
		}
		c.expectClosed()
	}
}

// A client that does not read is cut once its outbox holds
// send_queue_bytes, however few messages that is, and counted as a slow
// consumer.
func TestNonReaderCutByBytes(t *testing.T) {
	ts := startServerWith(t, serverOptions{server: "send_queue_bytes = 1048576"}, handlerBlock("t", "stream", "cbor")+monitorBlock(""))
	idle := ts.dialRaw(t, wire.CodecJSON)
	idle.login("A")
	sender := ts.dial("B", wire.CodecCBOR)
	body := strings.Repeat("x", 250_000)
	for i := 0; ts.registry.has("A"); i++ {
		if i == 200 { // 50 MB: far past any socket buffer
			t.Fatal("a client that reads nothing is still connected after 200 deliveries of 250 KB")
		}
		r := sendForReport(t, sender, "t", fmt.Sprintf("m%d", i), map[string]any{"to": "A", "body": body})
		if r.Header.Error == wire.CodeUndelivered { // cut between the check and the delivery
			break
		}
		wantGood(t, r)
	}
	ts.eventuallyValue(t, 1, "bester_slow_consumer_disconnects_total")
}

// A sendClients naming more than max_recipients users is refused at
// once, and one naming 100,000 distinct users (with the limit raised) is
// carried out in linear time: neither holds up another user's messages
// through the same handler.
func TestHugeRecipientLists(t *testing.T) {
	names := make([]string, 100_000)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i)
	}
	for _, tc := range []struct {
		server string
		want   wire.ErrorCode
	}{
		{"", wire.CodeBadMessage},
		{"max_recipients = 100000", wire.CodeUndelivered},
	} {
		t.Run(string(tc.want), func(t *testing.T) {
			ts := startServerWith(t, serverOptions{server: tc.server}, handlerBlock("t", "stream", "cbor"))
			big := ts.dial("B", wire.CodecCBOR)
			canary := ts.dial("C", wire.CodecCBOR)
			listener := ts.dial("D", wire.CodecCBOR)
			if err := big.Send("t", "big", map[string]any{"to": names, "body": 1}); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			for i := range 20 {
				wantGood(t, sendForReport(t, canary, "t", fmt.Sprint(i), map[string]any{"to": "D", "body": i}))
				var got int
				if expectDelivery(t, listener, &got); got != i {
					t.Fatalf("delivery %d, want %d", got, i)
				}
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("20 canary messages took %s beside a 100,000-name list", took)
			}
			r := expectReport(t, big, "big")
			wantBad(t, r, tc.want)
			if tc.want == wire.CodeUndelivered && (len(r.Payload.Undelivered) == 0 || len(r.Payload.Undelivered) >= len(names) ||
				!strings.Contains(r.Header.Detail, "100000 users")) {
				t.Errorf("want a bounded undelivered list that says how many were not reached, got %d names, %q",
					len(r.Payload.Undelivered), r.Header.Detail)
			}
		})
	}
}

// A message of exactly max_frame bytes reaches its handler, which wraps
// it in an envelope, and its delivery reaches a Go client: both read
// max_frame plus the envelope's headroom.
func TestMaxFrameMessageEndToEnd(t *testing.T) {
	// A megabyte of JSON through the handler under -race on a busy machine
	// took longer than the usual 2 s: this test is about sizes, not time.
	ts := startServer(t, strings.Replace(handlerBlock("t", "stream", "json"), `timeout = "2s"`, `timeout = "30s"`, 1))
	c := ts.dial("A", wire.CodecJSON)
	other := ts.dial("O", wire.CodecJSON)
	envelope := len(`{"payload":{"type":"t","id":"m","data":{"to":"O","body":""}}}`)
	body := strings.Repeat("x", wire.DefaultMaxFrame-envelope)
	if err := c.Send("t", "m", map[string]any{"to": "O", "body": body}); err != nil {
		t.Fatal(err)
	}
	wantGood(t, expectReport(t, c, "m"))
	var got string
	in := recv(t, other)
	if err := wire.CodecJSON.Unmarshal(in.Data, &got); err != nil || got != body {
		t.Fatalf("delivery of %d bytes: %v", len(got), err)
	}
	// The handler kept its connection: another user's message goes through.
	wantGood(t, sendForReport(t, other, "t", "after", map[string]any{"to": "A", "body": 1}))
}

// Data that a recipient's codec makes larger than max_frame is not
// delivered, and the sender hears it: never good for a delivery the
// recipient could not read.
func TestDeliveryLargerThanMaxFrameAfterConversion(t *testing.T) {
	ts := startServerWith(t, serverOptions{server: "max_frame = 65536"}, handlerBlock("t", "stream", "cbor"))
	sender := ts.dial("B", wire.CodecCBOR)
	ts.dial("J1", wire.CodecJSON) // JSON writes a control character in 6 bytes, CBOR in 1
	r := sendForReport(t, sender, "t", "m", map[string]any{"to": "J1", "body": strings.Repeat("\x01", 20_000)})
	wantBad(t, r, wire.CodeUndelivered)
	if !strings.Contains(r.Header.Detail, "max_frame") {
		t.Errorf("want the reason in the detail, got %q", r.Header.Detail)
	}
}

// Connections past max_connections_per_address, and logins past
// max_connections_per_user, are refused with overloaded; a connection
// that closes makes room again.
func TestConnectionLimits(t *testing.T) {
	ts := startServerWith(t, serverOptions{server: "max_connections_per_address = 4\nmax_connections_per_user = 2"}, "")
	first := ts.dialRaw(t, wire.CodecJSON)
	first.login("U")
	second := ts.dialRaw(t, wire.CodecJSON)
	second.login("U")
	third := ts.dialRaw(t, wire.CodecJSON)
	third.send(authMsg("U", "pw"))
	wantBad(t, third.expectReport(wire.IDAuth), wire.CodeOverloaded)
	third.expectClosed()

	var open []*rawConn
	for range 2 {
		open = append(open, ts.dialRaw(t, wire.CodecJSON))
	}
	refused := ts.dialRaw(t, wire.CodecJSON)
	r := refused.expectReport(wire.IDAuth)
	wantBad(t, r, wire.CodeOverloaded)
	if !strings.Contains(r.Header.Detail, "max_connections_per_address") {
		t.Errorf("want the limit named, got %q", r.Header.Detail)
	}
	refused.expectClosed()

	open[0].conn.Close()
	eventually(t, "a closed connection makes room", func() bool {
		c, err := net.Dial("tcp", ts.Addr("tcp").String())
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err = wire.ReadFrame(c, wire.DefaultMaxFrame, nil)
		return err != nil && !strings.Contains(err.Error(), "EOF") // no refusal: it waits for a login
	})
}

// Over message_rate, messages get rate_limited reports: each still gets
// exactly one report.
func TestMessageRate(t *testing.T) {
	ts := startServerWith(t, serverOptions{server: "message_rate = 5\nmessage_burst = 5"}, "")
	a := ts.dial("R", wire.CodecJSON)
	b := ts.dial("R", wire.CodecJSON) // the limit is the user's, over all their connections
	const n = 20
	for i := range n {
		for _, c := range []*client.Client{a, b} {
			if err := c.Send(wire.TypeDummy, fmt.Sprint(i), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	var limited, ok int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range []*client.Client{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				in, err := c.Receive()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if in.Report != nil && in.Report.Header.Error == wire.CodeRateLimited {
					limited++
				} else {
					ok++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if limited == 0 || ok < 5 || ok > 5+n { // the burst, plus what the rate refills meanwhile
		t.Errorf("got %d answered and %d rate_limited of %d", ok, limited, 2*n)
	}
}

// Strangers whose first frames fill the buffer budget do not keep anyone
// else from logging in: first messages of up to 16 KiB are never charged,
// and readers take no read buffer while the budget is spent.
func TestLoginWhileTheBudgetIsSpent(t *testing.T) {
	ts := startServerWith(t, serverOptions{server: "buffer_budget = 4194304"}, "")
	for range 100 { // 100 × 43 KiB beyond the free 16 KiB: past 4 MiB
		c := ts.dialRaw(t, wire.CodecJSON)
		c.write(append(frameHeader(60_000), strings.Repeat("x", 40_000)...))
	}
	eventually(t, "the strangers fill the budget", func() bool { return ts.budget.used.Load() > ts.budget.limit.Load()-64<<10 })
	start := time.Now()
	c := ts.dialRaw(t, wire.CodecJSON)
	c.login("fresh")
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a login took %s while strangers held the budget", took)
	}
}

// Over byte_rate, the server reads a user's frames more slowly: every
// message still goes through, none is refused.
func TestByteRateSlowsReading(t *testing.T) {
	ts := startServerWith(t, serverOptions{server: "byte_rate = 100000\nbyte_burst = 100000"}, "")
	c := ts.dial("B", wire.CodecJSON)
	body := strings.Repeat("x", 50_000)
	start := time.Now()
	for i := range 6 { // 300 KB: 100 KB at once, then 100 KB a second
		if err := c.Send(wire.TypeDummy, fmt.Sprint(i), body); err != nil {
			t.Fatal(err)
		}
	}
	for range 6 {
		if in := recv(t, c); in.Kind != client.KindDummy {
			t.Fatalf("want a dummy reply, got %s", in.Raw)
		}
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("300 KB at 100 KB/s with 100 KB of burst took %s, want about 2 s", took)
	}
}
