package ipc

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/bester-project/bester/wire"
)

// InformerTimeout bounds every informer call, dial included: a handler must
// not hang because the server is slow to answer.
const InformerTimeout = 5 * time.Second

// quitTimeout bounds the quit message sent by Close.
const quitTimeout = time.Second

// ErrInformerRefused is wrapped by the error of a call the informer answered
// with a failure status.
var ErrInformerRefused = errors.New("informer refused the request")

// Informer is a connection to the server's informer socket (protocol §7).
// It is safe for concurrent use; calls are serialized on the one
// connection. After a transport error every call fails: dial again.
type Informer struct {
	mu     sync.Mutex
	conn   net.Conn
	codec  wire.Codec
	broken error
}

// DialInformer connects to the informer at path (BESTER_INFORMER, or
// Request.Informer). wire.CodecAuto is taken as CBOR.
func DialInformer(path string, codec wire.Codec) (*Informer, error) {
	if path == "" {
		return nil, errors.New("informer: no socket path (the server has no informer configured)")
	}
	if codec == wire.CodecAuto {
		codec = wire.CodecCBOR
	}
	conn, err := net.DialTimeout("unix", path, InformerTimeout)
	if err != nil {
		return nil, fmt.Errorf("informer: dial %s: %w", path, err)
	}
	return &Informer{conn: conn, codec: codec}, nil
}

// ListClients returns the usernames connected to this server.
func (in *Informer) ListClients() ([]string, error) {
	var users []string
	if err := in.Query(wire.InformerListClients, nil, &users); err != nil {
		return nil, err
	}
	return users, nil
}

// IsClient tells whether user is connected to this server.
func (in *Informer) IsClient(user string) (bool, error) {
	var ok bool
	if err := in.Query(wire.InformerIsClient, user, &ok); err != nil {
		return false, err
	}
	return ok, nil
}

// ServerInfo returns the server's description: name, client count,
// listeners, handlers and their state.
func (in *Informer) ServerInfo() (map[string]any, error) {
	var info map[string]any
	if err := in.Query(wire.InformerServerInfo, nil, &info); err != nil {
		return nil, err
	}
	return info, nil
}

// Query sends one informer command of type typ with data and decodes the
// answer's data into out (skipped when out is nil). It is the general form
// of the typed calls, for query types this package does not name.
func (in *Informer) Query(typ string, data, out any) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.broken != nil {
		return in.broken
	}
	if err := in.write(typ, data, time.Now().Add(InformerTimeout)); err != nil {
		return err
	}
	body, err := wire.ReadFrame(in.conn, wire.DefaultMaxFrame, nil)
	if err != nil {
		return in.fail(fmt.Errorf("informer %s: read answer: %w", typ, err))
	}
	var resp struct {
		Status string        `cbor:"status" json:"status"`
		Data   wire.RawValue `cbor:"data" json:"data"`
	}
	if err := in.codec.UnmarshalMap(body, &resp); err != nil {
		return in.fail(fmt.Errorf("informer %s: decode answer: %w", typ, err))
	}
	if resp.Status != wire.InformerOK {
		return fmt.Errorf("informer %s: %w: status %q: %s", typ, ErrInformerRefused,
			resp.Status, in.describe(resp.Data))
	}
	if out == nil || len(resp.Data) == 0 {
		return nil
	}
	if err := in.codec.Unmarshal(resp.Data, out); err != nil {
		return fmt.Errorf("informer %s: decode answer data: %w", typ, err)
	}
	return nil
}

// Close sends quit, without waiting for an answer, and closes the
// connection.
func (in *Informer) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.broken == nil {
		_ = in.write(wire.InformerQuit, nil, time.Now().Add(quitTimeout))
	}
	in.broken = net.ErrClosed
	if err := in.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("informer: close: %w", err)
	}
	return nil
}

// write sends one request frame; the deadline covers the answer too.
func (in *Informer) write(typ string, data any, deadline time.Time) error {
	raw, err := encodeValue(in.codec, data)
	if err != nil {
		return fmt.Errorf("informer %s: encode data: %w", typ, err)
	}
	body, err := in.codec.Marshal(wire.InformerRequest{
		Command: wire.InformerCommand{Type: typ, Data: raw},
	})
	if err != nil {
		return fmt.Errorf("informer %s: encode request: %w", typ, err)
	}
	if err := in.conn.SetDeadline(deadline); err != nil {
		return in.fail(fmt.Errorf("informer %s: set deadline: %w", typ, err))
	}
	if err := wire.WriteFrame(in.conn, body); err != nil {
		return in.fail(fmt.Errorf("informer %s: send: %w", typ, err))
	}
	return nil
}

// fail marks the connection unusable: after a half-done exchange the next
// answer could belong to the wrong question.
func (in *Informer) fail(err error) error {
	in.broken = err
	in.conn.Close()
	return err
}

// describe renders a failure's data for the error text.
func (in *Informer) describe(data wire.RawValue) string {
	var v any
	if len(data) == 0 || in.codec.Unmarshal(data, &v) != nil {
		return string(data)
	}
	return fmt.Sprint(v)
}
