package ipc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/bester-project/bester/ipc/internal/rawanswer"
	"github.com/bester-project/bester/wire"
)

// errNoResponse is answered when a handler returns neither a response nor an
// error, so that the sender still gets a report.
var errNoResponse = errors.New("handler returned no response")

// invoke calls h and turns an error, a nil response or a panic into a
// failure response, so that one bad request never takes the process down.
func invoke(ctx context.Context, h HandlerFunc, req *Request, log *slog.Logger) (resp *Response) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("handler panicked", "type", req.Type, "id", req.ID,
				"panic", p, "stack", string(debug.Stack()))
			resp = failure(fmt.Errorf("handler panicked: %v", p))
		}
	}()
	resp, err := h(ctx, req)
	switch {
	case err != nil:
		return failure(err)
	case resp == nil:
		return failure(errNoResponse)
	}
	return resp
}

// failure is the response for an error: status "1", data the error text.
func failure(err error) *Response {
	return &Response{Status: FailStatus, Data: err.Error()}
}

// encodeAnswer turns r into the bytes to write, encoded in scratch (and
// valid until its next use): a whole frame, or for a rawanswer.HangUp the
// raw bytes and hangUp set. id is nil in oneshot mode. A response that
// cannot be encoded, or is larger than max, is replaced by a failure.
func encodeAnswer(scratch *bytes.Buffer, r *Response, c wire.Codec, id *uint64, max int) (out []byte, hangUp bool) {
	switch raw := r.Data.(type) {
	case rawanswer.HangUp:
		return raw, true
	case rawanswer.Frame:
		return wire.AppendFrame(nil, raw), false
	}
	scratch.Reset()
	err := appendResponse(scratch, r, c, id)
	if n := scratch.Len() - wire.FrameHeaderSize; err == nil && n > max {
		err = fmt.Errorf("response of %d bytes exceeds the %d-byte frame limit", n, max)
	}
	if err != nil {
		// A failure's data is a plain string, which always encodes.
		scratch.Reset()
		appendResponse(scratch, failure(err), c, id)
	}
	return scratch.Bytes(), false
}

// appendResponse encodes r as a wire.HandlerResponse in codec c, as one
// frame at the end of buf. Nothing it builds outlives it.
func appendResponse(buf *bytes.Buffer, r *Response, c wire.Codec, id *uint64) error {
	msg := wire.HandlerResponse{ID: id, Header: wire.ResponseHeader{Status: r.Status}}
	if msg.Header.Status == "" {
		msg.Header.Status = wire.HandlerStatusOK
	}
	var err error
	var cmd wire.Command
	var cmdData [128]byte
	if r.Command != nil {
		cmd.Type = r.Command.Type
		if cmd.Data, err = appendValue(c, cmdData[:0], r.Command.Data); err != nil {
			return fmt.Errorf("encode command data: %w", err)
		}
		msg.Header.Command = &cmd
	}
	if msg.Data, err = encodeValue(c, r.Data); err != nil {
		return fmt.Errorf("encode response data: %w", err)
	}
	if err := c.AppendResponseFrame(buf, &msg); err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return nil
}

// appendValue is encodeValue appending to b.
func appendValue(c wire.Codec, b []byte, v any) (wire.RawValue, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case wire.RawValue:
		return t, nil
	}
	return c.AppendMarshal(b, v)
}

// encodeValue encodes v in codec c, passing a wire.RawValue through.
func encodeValue(c wire.Codec, v any) (wire.RawValue, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case wire.RawValue:
		return t, nil
	}
	b, err := c.Marshal(v)
	if err != nil {
		return nil, err
	}
	return wire.RawValue(b), nil
}
