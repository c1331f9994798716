package ipc

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/bester-project/bester/wire"
)

// DefaultMaxInFlight is how many requests of one stream connection are
// handled at the same time when Options.MaxInFlight is zero. Beyond it the
// connection stops reading, which pushes back on the server.
const DefaultMaxInFlight = 256

// Options are the settings of ServeConfig. Zero fields take the defaults
// noted on each, so that only Socket is required.
type Options struct {
	// Socket is the path of the UNIX socket to listen on. Required.
	Socket string
	// Type is the message type this handler serves; oneshot requests carry
	// it in Request.Type since their frame does not.
	Type string
	// Mode is stream (default) or oneshot.
	Mode wire.HandlerMode
	// Codec encodes every frame; the zero value (wire.CodecAuto) means CBOR.
	// A handler cannot detect its codec, so auto is not accepted otherwise.
	Codec wire.Codec
	// MaxFrame is the server's max_frame, in bytes; zero means
	// wire.DefaultMaxFrame. Frames of up to MaxFrame plus
	// wire.EnvelopeHeadroom are read and written: a request wraps data of
	// up to max_frame in its envelope.
	MaxFrame int
	// MaxInFlight bounds the concurrent requests of one stream connection;
	// zero means DefaultMaxInFlight.
	MaxInFlight int
	// Informer is the path of the server's informer socket, passed on in
	// Request.Informer; empty when the server has none.
	Informer string
	// Logger receives connection errors and recovered panics; nil discards
	// them.
	Logger *slog.Logger
}

// OptionsFromEnv reads the environment of a started handler. It is what
// Serve uses; call it directly to adjust the result before ServeConfig.
func OptionsFromEnv() (Options, error) {
	o := Options{
		Socket:   os.Getenv(wire.EnvSocket),
		Type:     os.Getenv(wire.EnvType),
		Informer: os.Getenv(wire.EnvInformer),
	}
	if o.Socket == "" {
		return o, fmt.Errorf("%s is not set: the handler does not know where to listen", wire.EnvSocket)
	}
	var err error
	if o.Mode, err = wire.ParseHandlerMode(os.Getenv(wire.EnvMode)); err != nil {
		return o, fmt.Errorf("%s: %w", wire.EnvMode, err)
	}
	if o.Codec, err = parseHandlerCodec(os.Getenv(wire.EnvCodec)); err != nil {
		return o, fmt.Errorf("%s: %w", wire.EnvCodec, err)
	}
	return o, nil
}

// parseHandlerCodec accepts the concrete codecs only: empty means CBOR, the
// default of protocol §2 for handlers.
func parseHandlerCodec(name string) (wire.Codec, error) {
	if name == "" {
		return wire.CodecCBOR, nil
	}
	c, err := wire.ParseCodec(name)
	if err != nil {
		return c, err
	}
	if c == wire.CodecAuto {
		return c, fmt.Errorf("codec %q cannot be used by a handler (want cbor or json)", name)
	}
	return c, nil
}

// withDefaults checks o and fills in its zero fields.
func (o Options) withDefaults() (Options, error) {
	if o.Socket == "" {
		return o, fmt.Errorf("no socket path given")
	}
	var err error
	if o.Mode, err = wire.ParseHandlerMode(string(o.Mode)); err != nil {
		return o, err
	}
	switch o.Codec {
	case wire.CodecAuto:
		o.Codec = wire.CodecCBOR
	case wire.CodecCBOR, wire.CodecJSON:
	default:
		return o, fmt.Errorf("unknown codec %d", o.Codec)
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = wire.DefaultMaxFrame
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
