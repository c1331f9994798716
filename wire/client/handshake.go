package client

import (
	"context"
	"fmt"
	"net"
	"time"
)

// Handshake authenticates on a connection the caller opened itself (from
// a chosen source address, say) and returns the Client that owns it. It
// is Dial without the dialling: o.Network and o.Address only name the
// peer in errors (o.Address defaults to conn's remote address), and
// o.Timeout bounds the authentication. On error conn is closed.
func Handshake(ctx context.Context, conn net.Conn, o Options) (*Client, error) {
	if o.Address == "" {
		o.Address = conn.RemoteAddr().String()
	}
	o, err := o.withDefaults()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	c := newClient(conn, o)
	if err := c.authenticate(ctx, o, time.Now().Add(o.Timeout)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticate with %s as %q: %w", o.Address, o.Username, err)
	}
	return c, nil
}
