package wire

import "fmt"

// The environment a server gives a handler it starts (protocol §5). The
// server sets them and refuses a configured `env` that would override them;
// handlers, their SDK and their tests read them.
const (
	EnvSocket   = "BESTER_SOCKET"
	EnvType     = "BESTER_TYPE"
	EnvMode     = "BESTER_MODE"
	EnvCodec    = "BESTER_CODEC"
	EnvInformer = "BESTER_INFORMER"
)

// HandlerMode is how a server talks to a handler (protocol §5), as written
// in a handler's `mode` and in BESTER_MODE.
type HandlerMode string

// The two handler modes.
const (
	// ModeStream keeps persistent connections carrying pipelined requests
	// with ids; it is the default.
	ModeStream HandlerMode = "stream"
	// ModeOneshot is one connection per message whose only frame is the
	// client's data, as the original besterd did.
	ModeOneshot HandlerMode = "oneshot"
)

// ParseHandlerMode reads a mode as written in BESTER_MODE; empty means
// stream.
func ParseHandlerMode(s string) (HandlerMode, error) {
	switch HandlerMode(s) {
	case "", ModeStream:
		return ModeStream, nil
	case ModeOneshot:
		return ModeOneshot, nil
	}
	return "", fmt.Errorf("unknown handler mode %q (want stream or oneshot)", s)
}
