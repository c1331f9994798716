package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// FrameHeaderSize is the size in bytes of a frame's length prefix.
	FrameHeaderSize = 4
	// DefaultMaxFrame is the largest body, in bytes, accepted when the
	// configuration does not say otherwise (1 MiB).
	DefaultMaxFrame = 1 << 20
)

var (
	// ErrEmptyFrame is returned for a frame whose length prefix is zero.
	ErrEmptyFrame = errors.New("frame length is zero")
	// ErrFrameTooLarge is returned for a frame whose length prefix exceeds
	// the limit; no memory is allocated for it.
	ErrFrameTooLarge = errors.New("frame length exceeds the limit")
)

// ReadFrame reads one frame from r and returns its body. The length is
// checked against max before anything is allocated. buf is reused for the
// header and for the body when it is large enough, so the result may alias
// it, and a reader that passes the same buf each time allocates nothing.
// A stream that ends cleanly between frames gives io.EOF; one that ends
// inside a frame gives io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, max int, buf []byte) ([]byte, error) {
	// The header goes into buf when it can: a local array would escape
	// through the io.Reader call and cost an allocation per frame.
	hdr := buf[:0]
	if cap(hdr) < FrameHeaderSize {
		hdr = make([]byte, 0, FrameHeaderSize)
	}
	hdr = hdr[:FrameHeaderSize]
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr)
	switch {
	case n == 0:
		return nil, ErrEmptyFrame
	case uint64(n) > uint64(max):
		return nil, fmt.Errorf("%w: %d > %d bytes", ErrFrameTooLarge, n, max)
	}
	body := buf[:0]
	if cap(body) < int(n) {
		body = make([]byte, n)
	}
	body = body[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}

// AppendFrame appends body, prefixed with its length, to dst.
func AppendFrame(dst, body []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}

// WriteFrame writes body as one frame with a single Write call.
func WriteFrame(w io.Writer, body []byte) error {
	_, err := w.Write(AppendFrame(make([]byte, 0, FrameHeaderSize+len(body)), body))
	return err
}

// FrameErrorCode maps an error from ReadFrame to the status code a peer is
// told before its connection is closed.
func FrameErrorCode(err error) ErrorCode {
	if errors.Is(err, ErrFrameTooLarge) {
		return CodeFrameTooLarge
	}
	return CodeBadFrame
}
