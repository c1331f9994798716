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
	// firstBodyStep is the most memory, in bytes, a frame body is given
	// before any of it has arrived. Each step that fills at most doubles
	// it, so a body holds at most about twice what has arrived, whatever
	// its length prefix claims.
	firstBodyStep = 4 << 10
	// EnvelopeHeadroom is how much larger than max_frame a frame the
	// server writes may be: max_frame bounds a message's data, and a
	// request to a handler or a delivery wraps that data in an envelope
	// whose other fields are bounded (names by MaxNameLength). Readers of
	// what a server writes accept max_frame plus this.
	EnvelopeHeadroom = 64 << 10
	// MaxNameLength bounds, in bytes, the names an envelope carries:
	// usernames, server names and message types.
	MaxNameLength = 256
)

var (
	// ErrEmptyFrame is returned for a frame whose length prefix is zero.
	ErrEmptyFrame = errors.New("frame length is zero")
	// ErrFrameTooLarge is returned for a frame whose length prefix exceeds
	// the limit; no memory is allocated for it.
	ErrFrameTooLarge = errors.New("frame length exceeds the limit")
)

// ReadFrame reads one frame from r and returns its body. The length is
// checked against max before anything is allocated, and the body's memory
// grows with what arrives rather than with what the length claims (see
// ReadFrameGrow). buf is reused for the header and for the body when it is
// large enough, so the result may alias it, and a reader that passes the
// same buf each time allocates nothing. A stream that ends cleanly between
// frames gives io.EOF; one that ends inside a frame gives
// io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, max int, buf []byte) ([]byte, error) {
	return ReadFrameGrow(r, max, buf, nil)
}

// ReadFrameGrow is ReadFrame that tells grow about each body buffer it
// allocates. A body that does not fit in buf is read in steps: the first
// buffer holds up to 4 KiB (or cap(buf), if larger), and each one that
// fills is replaced by one twice its size, up to the frame's length. Before
// each allocation, grow is called with the size of the buffer it replaces
// (0 for the first) and the size of the new one; an error from grow ends
// the read and is returned as it is. grow may be nil.
func ReadFrameGrow(r io.Reader, max int, buf []byte, grow func(prev, next int) error) ([]byte, error) {
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
	if int(n) <= cap(buf) {
		body := buf[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, unexpectedEOF(err)
		}
		return body, nil
	}
	return readBodyInSteps(r, int(n), buf[:0], grow)
}

// readBodyInSteps reads an n-byte body that does not fit in buf, in
// buffers that grow only as they fill (see ReadFrameGrow).
func readBodyInSteps(r io.Reader, n int, buf []byte, grow func(prev, next int) error) ([]byte, error) {
	body, owned := buf, 0 // owned: the size of the buffer this call allocated, 0 while it is buf
	size := min(n, max(cap(buf), firstBodyStep))
	for {
		if cap(body) < size {
			if grow != nil {
				if err := grow(owned, size); err != nil {
					return nil, err
				}
			}
			next := make([]byte, len(body), size)
			copy(next, body)
			body, owned = next, size
		}
		if _, err := io.ReadFull(r, body[len(body):size]); err != nil {
			return nil, unexpectedEOF(err)
		}
		body = body[:size]
		if size == n {
			return body, nil
		}
		size = min(n, 2*size)
	}
}

// unexpectedEOF turns the io.EOF of a stream that ended inside a frame
// into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
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
