package client

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/bester-project/bester/wire"
)

// Defaults for the zero values of Options.
const (
	// DefaultNetwork is the network dialled when Options.Network is empty.
	DefaultNetwork = "tcp"
	// DefaultTimeout bounds dialling plus authentication (10 s).
	DefaultTimeout = 10 * time.Second
	// DefaultBufferSize is the size in bytes of each of the read and write
	// buffers (8 KiB): room for a burst of small pipelined messages without
	// making thousands of idle clients expensive.
	DefaultBufferSize = 8 << 10
)

// closeFlushTimeout bounds how long Close waits to write what Send and
// Queue left buffered (1 s).
const closeFlushTimeout = time.Second

// Options say where and how to connect. The zero value of each field
// means its default.
type Options struct {
	// Network is "tcp" (default), "tcp4", "tcp6" or "unix".
	Network string
	// Address is host:port, or a socket path for "unix".
	Address string
	// Codec is wire.CodecCBOR (default when zero) or wire.CodecJSON.
	Codec wire.Codec
	// TLS, when set, makes the connection TLS (protocol §8); nil means
	// plain. An empty ServerName is taken from the host of Address, as
	// crypto/tls.Dial does. wire/tlsconf builds one from PEM files.
	TLS *tls.Config
	// Username and Password authenticate the client (protocol §3). With
	// an empty Username and a client certificate in TLS, the certificate
	// stands for them: the first message carries no authentication and
	// the server takes the username from the certificate.
	Username, Password string
	// Timeout bounds dialling, the TLS handshake and authentication;
	// default DefaultTimeout.
	Timeout time.Duration
	// MaxFrame is the server's max_frame: the largest body, in bytes,
	// written; default wire.DefaultMaxFrame. Deliveries of up to MaxFrame
	// plus wire.EnvelopeHeadroom are read: they wrap data of up to
	// max_frame in their envelope.
	MaxFrame int
	// BufferSize is the size in bytes of each of the read and write
	// buffers; default DefaultBufferSize.
	BufferSize int
	// InsecurePlaintext allows a Password to go without TLS to a TCP
	// address that is not loopback, across the network in clear. Without
	// it Dial and Handshake refuse such a connection before the password
	// leaves (ErrPasswordInClear). It changes nothing for TLS or UNIX
	// sockets; set it only on a network you trust.
	InsecurePlaintext bool
}

// withDefaults fills the zero fields and checks the others, so that a
// mistake is reported before anything is dialled.
func (o Options) withDefaults() (Options, error) {
	switch o.Network {
	case "":
		o.Network = DefaultNetwork
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return o, fmt.Errorf("network %q: want tcp, tcp4, tcp6 or unix", o.Network)
	}
	if o.Address == "" {
		return o, fmt.Errorf("no address to dial")
	}
	switch o.Codec {
	case wire.CodecAuto:
		o.Codec = wire.CodecCBOR
	case wire.CodecCBOR, wire.CodecJSON:
	default:
		return o, fmt.Errorf("codec %d: want cbor or json", o.Codec)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	switch {
	case o.MaxFrame == 0:
		o.MaxFrame = wire.DefaultMaxFrame
	case o.MaxFrame < 0 || uint64(o.MaxFrame) > math.MaxUint32:
		return o, fmt.Errorf("max frame %d: want 1 to %d bytes", o.MaxFrame, uint64(math.MaxUint32))
	}
	if o.BufferSize <= 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.TLS != nil && o.TLS.ServerName == "" && !o.TLS.InsecureSkipVerify {
		host, _, err := net.SplitHostPort(o.Address)
		if err != nil {
			return o, fmt.Errorf("TLS to %q: no server name to check the certificate against: set TLS.ServerName", o.Address)
		}
		o.TLS = o.TLS.Clone()
		o.TLS.ServerName = host
	}
	return o, nil
}

// certificateLogin reports whether the client certificate stands for the
// username and password.
func (o Options) certificateLogin() bool {
	return o.Username == "" && o.TLS != nil && (len(o.TLS.Certificates) > 0 || o.TLS.GetClientCertificate != nil)
}

// login says who the client logs in as, for errors.
func (o Options) login() string {
	if o.certificateLogin() {
		return "by certificate"
	}
	return fmt.Sprintf("as %q", o.Username)
}
