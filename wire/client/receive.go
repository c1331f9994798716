package client

import (
	"errors"
	"fmt"

	"github.com/bester-project/bester/wire"
)

// ErrUndecodable is wrapped by Receive when a frame arrived whole but its
// body does not decode: the stream is still in step and Receive may be
// called again, unlike after any other error.
var ErrUndecodable = errors.New("undecodable message")

// KindDummy is Incoming.Kind for the answer to a dummy message, which has
// no header.messageType (protocol §3).
const KindDummy = wire.TypeDummy

// Incoming is one message from the server.
type Incoming struct {
	// Kind is wire.MessageTypeStatusReport, wire.MessageTypeReceived,
	// KindDummy, or, for a message this package does not know, its
	// header.messageType (possibly empty), to be ignored by the caller.
	Kind string
	// Report is the status report, when Kind is a status report.
	Report *wire.StatusReport
	// From is the sender of a delivery (receivedMessage).
	From wire.Address
	// Type is payload.type of a delivery or a dummy reply.
	Type string
	// ID is payload.id of a report or a dummy reply.
	ID string
	// Data is the delivered data, in the client's codec; nil when absent.
	Data wire.RawValue
	// Raw is the whole body as received.
	Raw []byte

	codec wire.Codec
}

// Decode decodes Data into v with the client's codec; absent data
// decodes as null.
func (in *Incoming) Decode(v any) error {
	data := []byte(in.Data)
	if len(data) == 0 {
		data = nullIn(in.codec)
	}
	if err := in.codec.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s data: %w", in.codec, err)
	}
	return nil
}

// Err is nil unless the message is a bad status report, in which case it
// is a *wire.Error with the report's code (unauthorized when the server
// named none) and detail.
func (in *Incoming) Err() error {
	if in.Report == nil || in.Report.Header.Status == wire.StatusGood {
		return nil
	}
	code := in.Report.Header.Error
	if code == "" && in.ID == wire.IDAuth {
		code = wire.CodeUnauthorized
	}
	return &wire.Error{Code: code, Detail: in.Report.Header.Detail}
}

func nullIn(c wire.Codec) []byte {
	if c == wire.CodecJSON {
		return []byte("null")
	}
	return []byte{0xf6}
}

// Receive blocks until the server writes a message and returns it. A
// server that closes the connection between messages gives an error
// wrapping io.EOF. A body that does not decode gives an error wrapping
// ErrUndecodable; any other error means the connection is done.
func (c *Client) Receive() (*Incoming, error) {
	c.rmu.Lock()
	body, err := wire.ReadFrame(c.br, c.maxFrame+wire.EnvelopeHeadroom, nil)
	c.rmu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	// One decode serves every kind of message; in CBOR, the usual ones
	// are read without reflection.
	var m wire.Incoming
	if err := c.codec.UnmarshalMap(body, &m); err != nil {
		return nil, c.undecodable(err)
	}
	in := &Incoming{Kind: m.Header.MessageType, Type: m.Payload.Type, ID: m.Payload.ID,
		Data: m.Payload.Data, Raw: body, codec: c.codec}
	switch {
	case in.Kind == wire.MessageTypeStatusReport:
		in.Report = &wire.StatusReport{
			Header: wire.ReportHeader{MessageType: in.Kind, Status: m.Header.Status,
				Error: m.Header.Error, Detail: m.Header.Detail},
			Payload: wire.ReportPayload{ID: m.Payload.ID, Undelivered: m.Payload.Undelivered},
		}
	case in.Kind == wire.MessageTypeReceived:
		in.From = m.Header.From
	case in.Kind == "" && in.Type == wire.TypeDummy:
		in.Kind = KindDummy
	}
	return in, nil
}

// ReceiveView is Receive for a caller that keeps nothing of a message, as
// a load generator: it reads the next message into v, in place when it is
// CBOR of the usual form, allocating nothing. v's slices are only valid
// until the next ReceiveView, which reuses the buffer they point into. A
// dummy reply, which has no message type, is told by its Type,
// wire.TypeDummy. Its errors are Receive's.
func (c *Client) ReceiveView(v *wire.IncomingView) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	body, err := wire.ReadFrame(c.br, c.maxFrame+wire.EnvelopeHeadroom, c.rbuf)
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	// Keep the buffer for the next frame, unless an unusually large
	// one made it grow past the read buffer's size.
	if cap(body) <= c.br.Size() {
		c.rbuf = body
	}
	if err := c.codec.ViewIncoming(body, v); err != nil {
		return c.undecodable(err)
	}
	return nil
}

// undecodable is the error for a body that did not decode.
func (c *Client) undecodable(err error) error {
	return fmt.Errorf("receive: %w: %s body: %w", ErrUndecodable, c.codec, err)
}
