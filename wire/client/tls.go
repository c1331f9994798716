package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// handshakeTLS wraps conn in TLS with o.TLS and makes the handshake
// before deadline, giving up early when ctx ends. The caller closes conn
// on error.
func handshakeTLS(ctx context.Context, conn net.Conn, o Options, deadline time.Time) (*tls.Conn, error) {
	// The deadline, not only ctx, bounds the handshake, so that a server
	// that never answers gives the same timeout error as one that never
	// authenticates.
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("set deadline: %w", err)
	}
	tc := tls.Client(conn, o.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("tls handshake with %s: %w", o.Address, err)
	}
	return tc, nil
}
