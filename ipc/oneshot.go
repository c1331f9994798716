package ipc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/bester-project/bester/wire"
)

// oneshotReadTimeout bounds the wait for the single frame of a oneshot
// connection; the server writes it as soon as it connects.
const oneshotReadTimeout = 30 * time.Second

// serveOneshot reads one frame holding the client's data, answers it with
// one frame without an id, and closes (protocol §5, oneshot).
func (s *server) serveOneshot(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	o := s.opts
	conn.SetReadDeadline(time.Now().Add(oneshotReadTimeout))
	stopRead := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	body, err := wire.ReadFrame(conn, o.MaxFrame, nil) // the body is the client's data, no envelope
	stopRead()
	if err != nil {
		// A connection closed before its first byte is the server checking
		// that the handler accepts: not a failure.
		if ctx.Err() == nil && !errors.Is(err, io.EOF) {
			o.Logger.Warn("oneshot read failed; closing connection", "err", err)
		}
		return
	}
	req := &Request{Type: o.Type, Data: wire.RawValue(body), Codec: o.Codec, Informer: o.Informer}
	resp := invoke(ctx, s.h, req, o.Logger)
	var scratch bytes.Buffer
	b, _ := encodeAnswer(&scratch, resp, o.Codec, nil, o.MaxFrame+wire.EnvelopeHeadroom) // a rawanswer.HangUp closes below anyway
	conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := conn.Write(b); err != nil {
		o.Logger.Warn("oneshot write failed", "err", err)
	}
}
