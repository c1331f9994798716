package actors

import (
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

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

// testOutbox is an outbox on the server end of a loopback TCP pair, with
// the errors it reports.
type testOutbox struct {
	*outbox
	client net.Conn
	errMu  sync.Mutex
	errs   []error
}

func newTestOutbox(t *testing.T, limits outboxLimits) *testOutbox {
	t.Helper()
	server, client := tcpPair(t)
	server.(*net.TCPConn).SetWriteBuffer(16 << 10)
	client.(*net.TCPConn).SetReadBuffer(16 << 10)
	pool := gopool.New(4)
	t.Cleanup(pool.Close)
	to := &testOutbox{client: client}
	to.outbox = newOutbox(pool, server, limits, func() wire.Codec { return wire.CodecJSON }, func(err error) {
		to.errMu.Lock()
		to.errs = append(to.errs, err)
		to.errMu.Unlock()
	})
	return to
}

func (to *testOutbox) errors() []error {
	to.errMu.Lock()
	defer to.errMu.Unlock()
	return slices.Clone(to.errs)
}

// holdWriter makes pushes queue without starting a writer, as when the
// writer has not been scheduled yet: the test runs it itself, o.run().
func (to *testOutbox) holdWriter() {
	to.mu.Lock()
	to.running = true
	to.mu.Unlock()
}

// state returns what the outbox holds, queued and being written.
func (to *testOutbox) state() (items, bytes int, blocked bool) {
	to.mu.Lock()
	defer to.mu.Unlock()
	return len(to.items), to.bytes, to.blocked
}

// bigDelivery is more than the pair's socket buffers hold.
const bigDelivery = 512 << 10

// block makes the socket take no more: the writer writes a message larger
// than the socket buffers to a peer that does not read, and waits on
// EAGAIN for as long as the test runs. It returns what that message weighs.
func (to *testOutbox) block(t *testing.T) int {
	t.Helper()
	m := delivery(bigDelivery)
	if !to.push(m) {
		t.Fatal("an empty outbox refused a message")
	}
	eventually(t, "the writer finds the socket full", func() bool { _, _, blocked := to.state(); return blocked })
	t.Cleanup(func() { to.close(false); to.conn.Close() })
	return itemSize(m)
}

// A burst of messages that wait only for the writer is taken whatever its
// size: the limits count only while the peer does not read.
func TestOutboxTakesABurstBeyondItsLimitsWhileNotBlocked(t *testing.T) {
	to := newTestOutbox(t, outboxLimits{count: 2, bytes: 1 << 10, budget: newBudget(1 << 10)})
	reader := countFrames(to.client)
	to.holdWriter()
	const burst = 50
	for i := range burst {
		if !to.push(delivery(500)) {
			t.Fatalf("message %d of a burst refused while the peer reads", i)
		}
	}
	if used := to.limits.budget.used.Load(); used != 0 {
		t.Errorf("budget charged %d bytes for messages that wait only for the writer", used)
	}
	to.run()
	eventually(t, "the peer reads the burst", func() bool { return reader.frames.Load() == burst })
}

// While the peer does not read, the outbox refuses a message past its
// count or byte limit; one message may always wait, however large.
func TestOutboxLimitsWhileBlocked(t *testing.T) {
	small := itemSize(delivery(100))
	for _, tc := range []struct {
		name  string
		count int
		bytes func(inFlight int) int // the byte limit, given what the writer holds
		want  int                    // small messages taken
	}{
		{"the count limit refuses the message past it", 3, func(int) int { return 1 << 30 }, 3},
		{"the byte limit counts what is being written too", 1000, func(inFlight int) int { return inFlight + 2*small }, 2},
		{"one message may always wait", 1000, func(int) int { return 1 }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := newTestOutbox(t, outboxLimits{count: 1 << 30, bytes: 1 << 30})
			inFlight := to.block(t)
			to.mu.Lock()
			to.limits.count, to.limits.bytes = tc.count, tc.bytes(inFlight)
			to.mu.Unlock()
			taken := 0
			for to.push(delivery(100)) {
				if taken++; taken > 100 {
					t.Fatal("a blocked outbox took 100 messages")
				}
			}
			if taken != tc.want {
				t.Errorf("took %d messages while blocked, want %d", taken, tc.want)
			}
		})
	}
}

// The budget is charged with all a blocked outbox holds, each message as
// it comes, and given all back once the peer reads or the outbox is cut.
func TestOutboxChargesTheBudgetWhileBlocked(t *testing.T) {
	for _, tc := range []struct {
		name    string
		unblock func(to *testOutbox)
	}{
		{"until the peer reads", func(to *testOutbox) { go io.Copy(io.Discard, to.client) }},
		{"until the outbox is cut", func(to *testOutbox) {
			to.close(false)
			to.conn.Close() // as a connection cut for not reading does: it ends the waiting write
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBudget(64 << 20)
			to := newTestOutbox(t, outboxLimits{count: 1000, bytes: 1 << 30, budget: b})
			inFlight := to.block(t)
			if used := b.used.Load(); used != int64(inFlight) {
				t.Fatalf("budget charged %d bytes for a blocked outbox writing %d", used, inFlight)
			}
			m := delivery(1000)
			to.push(m)
			if used := b.used.Load(); used != int64(inFlight+itemSize(m)) {
				t.Errorf("budget charged %d after a push, want %d", used, inFlight+itemSize(m))
			}
			tc.unblock(to)
			eventually(t, "the budget is given back", func() bool { return b.used.Load() == 0 })
		})
	}
}

// A spent budget cuts a blocked outbox past cutWhenSpent, though its own
// limits would take more.
func TestOutboxRefusesPastCutWhenSpentOnceTheBudgetIsSpent(t *testing.T) {
	b := newBudget(1) // the blocked write alone spends it
	to := newTestOutbox(t, outboxLimits{count: 1000, bytes: 1 << 30, budget: b})
	to.block(t) // bigDelivery > cutWhenSpent
	if to.push(delivery(100)) {
		t.Error("a blocked outbox past cutWhenSpent took a message with the budget spent")
	}
}

// close(true) writes what is queued and then closes the socket;
// close(false) closes it at once; neither takes more messages.
func TestOutboxClose(t *testing.T) {
	for _, tc := range []struct {
		name       string
		flush      bool
		wantFrames int64
	}{
		{"with flush writes what is queued", true, 3},
		{"without flush drops what is queued", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBudget(1 << 20)
			to := newTestOutbox(t, outboxLimits{count: 10, bytes: 1 << 20, budget: b})
			reader := countFrames(to.client)
			to.holdWriter()
			for range 3 {
				to.push(delivery(100))
			}
			to.close(tc.flush)
			if to.push(delivery(100)) {
				t.Error("a closing outbox took a message")
			}
			to.run() // returns once the socket is closed
			if err := <-reader.done; err == nil {
				t.Fatal("the peer's read ended without an error")
			}
			if n := reader.frames.Load(); n != tc.wantFrames {
				t.Errorf("the peer read %d frames, want %d", n, tc.wantFrames)
			}
			if len(to.errors()) != 0 {
				t.Errorf("close reported errors: %v", to.errors())
			}
		})
	}
}

// closeAfterFlush calls done once, after what was queued is written and
// the socket is closed.
func TestOutboxCloseAfterFlush(t *testing.T) {
	to := newTestOutbox(t, outboxLimits{count: 10, bytes: 1 << 20})
	reader := countFrames(to.client)
	to.holdWriter()
	to.push(delivery(100))
	to.push(delivery(100))
	var done atomic.Int32
	to.closeAfterFlush(func() {
		if _, err := to.conn.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("done called before the socket was closed (write: %v)", err)
		}
		done.Add(1)
	})
	to.run()
	if n := done.Load(); n != 1 {
		t.Fatalf("done called %d times, want once", n)
	}
	<-reader.done
	if n := reader.frames.Load(); n != 2 {
		t.Errorf("the peer read %d frames before the close, want 2", n)
	}
}

// A write that fails is reported once; what is queued then and after is
// dropped and its bytes given back, and the outbox still closes.
func TestOutboxFailedWrite(t *testing.T) {
	b := newBudget(1 << 20)
	to := newTestOutbox(t, outboxLimits{count: 10, bytes: 1 << 20, budget: b})
	to.holdWriter()
	to.push(delivery(100))
	to.conn.Close() // the write fails
	to.run()
	if errs := to.errors(); len(errs) != 1 {
		t.Fatalf("reported %d errors for a failed write, want 1: %v", len(errs), errs)
	}
	to.holdWriter()
	if !to.push(delivery(100)) {
		t.Fatal("an outbox whose write failed refused a message before it was closed")
	}
	to.run()
	if errs := to.errors(); len(errs) != 1 {
		t.Errorf("a message after the failure was written or reported again: %v", errs)
	}
	if items, bytes, _ := to.state(); items != 0 || bytes != 0 {
		t.Errorf("a failed outbox holds %d messages, %d bytes", items, bytes)
	}
	closed := make(chan struct{})
	to.closeAfterFlush(func() { close(closed) })
	<-closed
}
