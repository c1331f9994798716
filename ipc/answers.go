package ipc

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// writeTimeout bounds how long a write to the server may stall, so a
	// server that stops reading cannot pin a connection forever.
	writeTimeout = 30 * time.Second
	// deadlineRefresh is how stale the write deadline may get before it is
	// pushed back; it spares a timer update per write.
	deadlineRefresh = time.Second
	// writeBufferSize is what one connection's answers are gathered in:
	// many small frames leave in one system call.
	writeBufferSize = 64 << 10
)

// errHungUp ends a connection after a rawanswer.HangUp.
var errHungUp = errors.New("connection hung up by the handler")

// answerWriter gathers the answers of one stream connection and writes
// them in as few system calls as it can: the reader, which answers the
// requests it runs itself, flushes before it waits for more requests; any
// other goroutine flushes after its answer unless another answer is about
// to be added, whose writer then flushes (the last of a burst does) or,
// when that is the reader, flushes before it waits. So what is gathered
// waits while the reader runs the requests it has read already: a slow
// one among them holds the answers back until the watchdog gives the
// reading to a new reader, which flushes first (stuckTicks).
type answerWriter struct {
	conn net.Conn
	log  *slog.Logger
	// arriving counts the goroutines waiting for mu to add an answer.
	arriving atomic.Int32

	mu sync.Mutex
	bw *bufio.Writer
	// deadlineSet is when the write deadline was last pushed back.
	deadlineSet time.Time
	// err is why writing stopped; answers after it are dropped, as the
	// connection is closed.
	err error
}

func newAnswerWriter(conn net.Conn, log *slog.Logger) *answerWriter {
	return &answerWriter{conn: conn, log: log, bw: bufio.NewWriterSize(conn, writeBufferSize)}
}

// add writes one encoded answer, a frame or the bytes of a
// rawanswer.HangUp, which it flushes and then closes the connection
// with. A reader passes later true: it flushes itself before it waits.
func (w *answerWriter) add(b []byte, hangUp, later bool) {
	w.arriving.Add(1)
	w.mu.Lock()
	w.arriving.Add(-1)
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	if len(b) > w.bw.Available() {
		w.pushDeadline() // the write reaches the socket
	}
	if _, err := w.bw.Write(b); err != nil {
		w.fail(fmt.Errorf("write answer: %w", err))
		return
	}
	switch {
	case hangUp:
		w.flushLocked()
		w.fail(errHungUp)
	case !later && w.arriving.Load() == 0:
		w.flushLocked()
	}
}

// flush writes what is gathered.
func (w *answerWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
}

func (w *answerWriter) flushLocked() {
	if w.err != nil || w.bw.Buffered() == 0 {
		return
	}
	w.pushDeadline()
	if err := w.bw.Flush(); err != nil {
		w.fail(fmt.Errorf("flush answers: %w", err))
	}
}

// pushDeadline moves the write deadline writeTimeout ahead, when it was
// last moved more than deadlineRefresh ago.
func (w *answerWriter) pushDeadline() {
	if now := time.Now(); now.Sub(w.deadlineSet) > deadlineRefresh {
		w.conn.SetWriteDeadline(now.Add(writeTimeout))
		w.deadlineSet = now
	}
}

// fail stops writing and closes the connection, which also ends its
// reading.
func (w *answerWriter) fail(err error) {
	w.err = err
	if !errors.Is(err, errHungUp) && !errors.Is(err, net.ErrClosed) {
		w.log.Warn("write failed; closing connection", "err", err)
	}
	w.conn.Close()
}
