package client

import (
	"errors"
	"fmt"
	"net"

	"github.com/bester-project/bester/wire"
)

// Send writes one message: payload type typ, the client's id for it, and
// data. data is a wire.RawValue, written as is (it must be in c.Codec(),
// and it is not checked: a bad one earns a bad_message report), nil for
// null, or any other value, which is encoded with c.Codec().
//
// Send is safe for concurrent use and never leaves its message behind in
// the buffer: when several goroutines send at once, each message is
// buffered and the last of them to finish writes them all in one go, so
// concurrent senders share system calls. An error from that shared write
// reaches the sender that made it; the connection is then broken and the
// next Send or Receive fails too.
func (c *Client) Send(typ, id string, data any) error {
	return c.write(typ, id, data, true)
}

// Queue is Send without the write: the message waits in the buffer until
// Flush, a Send, or a full buffer pushes it out. A sender that pipelines
// many messages queues them and flushes once.
func (c *Client) Queue(typ, id string, data any) error {
	return c.write(typ, id, data, false)
}

// Flush writes whatever Queue left in the buffer.
func (c *Client) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return fmt.Errorf("flush: %w", net.ErrClosed)
	}
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

// write encodes one message into the buffer and, when flush is set and no
// other Send is waiting for the lock, writes the buffer out.
func (c *Client) write(typ, id string, data any, flush bool) error {
	raw, err := c.encodeData(data) // outside the lock: it may be slow
	if err != nil {
		return fmt.Errorf("send %q id %q: %w", typ, id, err)
	}
	if !validText(typ, id) {
		return fmt.Errorf("send %q id %q: type and id must be UTF-8 text", typ, id)
	}
	if flush {
		c.pending.Add(1)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	err = c.writeLocked(typ, id, raw)
	// Whoever brings pending back to zero flushes, even when its own
	// message was refused: every other Send that buffered before it has
	// returned, and every later one will flush in turn, so no message
	// stays in the buffer once all Sends are done.
	if flush && c.pending.Add(-1) == 0 && !c.closed {
		if ferr := c.bw.Flush(); ferr != nil && err == nil {
			err = ferr
		}
	}
	if err != nil {
		return fmt.Errorf("send %q id %q: %w", typ, id, err)
	}
	return nil
}

// writeLocked puts one frame in the buffer; c.wmu must be held.
func (c *Client) writeLocked(typ, id string, raw []byte) error {
	if c.closed {
		return net.ErrClosed
	}
	c.scratch = AppendMessage(c.scratch[:0], c.codec, typ, id, raw)
	if n := len(c.scratch) - wire.FrameHeaderSize; n > c.maxFrame {
		return fmt.Errorf("%w: %d > %d bytes", wire.ErrFrameTooLarge, n, c.maxFrame)
	}
	_, err := c.bw.Write(c.scratch)
	if cap(c.scratch) > maxScratch {
		c.scratch = nil // do not keep one huge message's buffer forever
	}
	return err
}

// maxScratch is the largest encoding buffer, in bytes, kept between
// messages (64 KiB); larger ones are dropped after use.
const maxScratch = 64 << 10

// encodeData gives data in the client's codec; empty means null.
func (c *Client) encodeData(data any) ([]byte, error) {
	switch d := data.(type) {
	case nil:
		return nil, nil
	case wire.RawValue:
		return d, nil
	}
	b, err := c.codec.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode data as %s: %w", c.codec, err)
	}
	if len(b) == 0 {
		return nil, errors.New("encode data: empty encoding")
	}
	return b, nil
}
