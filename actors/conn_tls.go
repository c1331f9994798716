package actors

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/bester-project/bester/wire"
)

// Refused connections are closed gracefully: what the client sent and the
// server did not read would otherwise make the close a reset, which may
// destroy the refusal before the client reads it.
const (
	// lingerTime bounds how long a refused connection is read, and
	// discarded, after its refusal was written.
	lingerTime = time.Second
	// lingerBytes bounds what is read then.
	lingerBytes = 64 << 10
)

// handshake runs the TLS handshake of a connection on a TLS listener
// before its first frame, within limit, the first message's deadline,
// computing only while it holds one of the server's handshake slots. It
// returns why reading ends when the handshake fails.
func (r *connReader) handshake(tc *tls.Conn, limit time.Time) (reason string, ok bool) {
	tc.SetDeadline(limit)
	if r.draining.Load() { // as in next: drain may have set its deadline first
		tc.SetReadDeadline(time.Now())
	}
	sock := tc.NetConn().(*tlsSock)
	sock.startHandshake(r.handshakes, limit, r.leaving)
	err := tc.Handshake()
	sock.endHandshake()
	tc.SetWriteDeadline(time.Time{}) // from now on, the tlsSock bounds each write
	if err == nil {
		return "", true
	}
	return r.handshakeFailed(err), false
}

// handshakeFailed logs why a handshake failed, tells a client that spoke
// in clear to a TLS listener what went wrong, and returns the reason for
// readerDone. Clients that give up on the server's certificate, or are
// refused for theirs, are logged with the TLS error that says why.
func (r *connReader) handshakeFailed(err error) string {
	var plain tls.RecordHeaderError
	var ne net.Error
	log := r.logger()
	switch {
	case errors.As(err, &plain) && plain.Conn != nil:
		r.metrics.refuse(refusedWrongProtocol)
		r.strangerLogs.Warn(log, "plain text sent to a TLS listener, refused")
		writeRefusal(plain.Conn, r.plainCodec(plain.RecordHeader),
			wire.Errorf(wire.CodeUnauthorized, "listener %q speaks TLS only; connect with TLS", r.tls.name))
		lingerClose(plain.Conn)
		return "plain text on a TLS listener"
	case r.draining.Load():
		return "server draining"
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded):
		r.metrics.refuse(refusedTLSHandshake)
		r.strangerLogs.Warn(log, "TLS handshake not complete within auth_timeout, closing", "auth_timeout", r.authTimeout)
		return "TLS handshake timed out"
	case errors.Is(err, io.EOF):
		log.Debug("closed by the client during the TLS handshake")
		return "closed during the TLS handshake"
	}
	r.metrics.refuse(refusedTLSHandshake)
	r.strangerLogs.Warn(log, "TLS handshake failed", "error", err)
	return "TLS handshake failed"
}

// plainCodec is the codec to refuse a client in that spoke in clear to a
// TLS listener: the listener's, or the one its first body starts in,
// whose first byte the TLS layer read after the frame's length.
func (r *connReader) plainCodec(head [5]byte) wire.Codec {
	if codec := wire.Codec(r.codec.Load()); codec != wire.CodecAuto {
		return codec
	}
	if codec, err := wire.DetectCodec(head[wire.FrameHeaderSize:]); err == nil {
		return codec
	}
	return r.currentCodec()
}

// lingerClose ends the sending side of a refused connection and reads
// what the client still sends, for a moment, so that closing it does not
// reset it before the client has read its refusal.
func lingerClose(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, io.LimitReader(conn, lingerBytes))
}

// errTLSHello ends a connection on a plain listener whose first bytes are
// a TLS handshake record.
var errTLSHello = errors.New("a TLS handshake on a plain listener")

// helloSniffer recognises a TLS client on a plain listener by the frame
// header its first bytes make: the header of a handshake record of TLS
// 1.0 to 1.3 (0x16 0x03 0x01-0x04) followed by the high byte of the
// record's length. As a frame's length those four bytes claim at least
// 66,326 bytes, and past 16 MiB for any ClientHello of 256 bytes or more.
// They are taken for TLS only when that length is past the first frame's
// limit, where the frame would be refused as too large anyway: a
// listener whose max_auth_frame (or max_frame, with allow_legacy_peers)
// allows more reads them as a frame.
type helloSniffer struct {
	head  [wire.FrameHeaderSize]byte
	n     int
	limit int  // the first frame's largest body, in bytes
	done  bool // the frame header was seen (or need not be)
}

// isTLS takes the next bytes read and reports whether the first four
// make a TLS record's header that claims, as a frame's length, more than
// the limit.
func (h *helloSniffer) isTLS(p []byte) bool {
	h.n += copy(h.head[h.n:], p)
	if h.n < len(h.head) {
		return false
	}
	h.done = true
	record := h.head[0] == 0x16 && h.head[1] == 0x03 && h.head[2] >= 0x01 && h.head[2] <= 0x04
	return record && int64(binary.LittleEndian.Uint32(h.head[:])) > int64(h.limit)
}

// protocolVersionAlert is a TLS record holding a fatal protocol_version
// alert, in clear as before a handshake: a TLS client prints it as a
// clear error, where a Bester report would be noise to it.
var protocolVersionAlert = []byte{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46}

// refuseTLS answers a TLS client on a plain listener with a TLS alert,
// logs it, and returns the reason for readerDone.
func (r *connReader) refuseTLS() string {
	r.metrics.refuse(refusedWrongProtocol)
	r.strangerLogs.Warn(r.logger(), "TLS handshake sent to a plain listener, refused with a TLS alert")
	r.conn.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
	r.conn.Write(protocolVersionAlert)
	lingerClose(r.conn)
	return "TLS on a plain listener"
}

// closeSocket closes a connection's socket at once: for TLS without the
// close_notify alert, a write that could wait on a client that does not
// read.
func closeSocket(conn net.Conn) error {
	if tc, ok := conn.(*tls.Conn); ok {
		return tc.NetConn().Close()
	}
	return conn.Close()
}
