package ipc

import (
	"context"
	"fmt"

	"github.com/bester-project/bester/wire"
)

// HandlerFunc handles one request. A non-nil error is answered as a failure
// (status "1", data the error text), so handlers can simply return errors.
// ctx is cancelled when the connection closes or the handler shuts down;
// long work should watch it.
type HandlerFunc func(ctx context.Context, req *Request) (*Response, error)

// Request is one message handed to the handler.
type Request struct {
	// ID is the server's id for the request; zero in oneshot mode, where
	// there is no id. The SDK copies it into the response itself.
	ID uint64
	// Type is the message type (payload.type of the client).
	Type string
	// From says who sent the message; empty in oneshot mode, whose frame
	// carries only the data.
	From wire.From
	// Origin is the user who wrote the message and their server. For a
	// local client it is {this server, From.Name}; for a message a peer
	// server passed on (From.Scope "server") it names the writer on the
	// server where they are, so a handler answers them with
	// SendServers([]string{Origin.Server}, ...) and that server's handler
	// delivers to Origin.User. sendHandler keeps it. Empty in oneshot mode
	// and when the server does not know the writer (an original-style
	// peer, or a server older than protocol v1.1).
	Origin wire.Address
	// Data is the client's payload.data, still encoded in Codec. It is
	// the request's own: the raw values Decode reads from it share its
	// memory, and Decode trusts the text of the data as read, so a handler
	// that wants other data replaces Data rather than changing its bytes.
	Data wire.RawValue
	// Codec is the codec of Data and of the response.
	Codec wire.Codec
	// Informer is the informer socket path (see DialInformer), empty when
	// the server has none.
	Informer string

	// plainData is Data as read, when it was read as plain CBOR: Decode
	// need not check its text again while Data is still it.
	plainData wire.RawValue
}

// Decode decodes Data into v with the request's codec. Absent data leaves v
// untouched, as a null would.
func (r *Request) Decode(v any) error {
	if len(r.Data) == 0 {
		return nil
	}
	unmarshal := r.Codec.Unmarshal
	if len(r.plainData) == len(r.Data) && &r.plainData[0] == &r.Data[0] {
		unmarshal = r.Codec.UnmarshalPlainData
	}
	if err := unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("decode request data: %w", err)
	}
	return nil
}
