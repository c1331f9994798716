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
// peer in errors and, with o.TLS, give the default server name (o.Address
// defaults to conn's remote address); o.Timeout bounds the TLS handshake
// and the authentication. A password that would cross a network in clear
// to conn's remote address is refused before it is written, as by Dial.
// On error conn is closed.
func Handshake(ctx context.Context, conn net.Conn, o Options) (*Client, error) {
	if o.Address == "" {
		o.Address = conn.RemoteAddr().String()
	}
	o, err := o.withDefaults()
	if err == nil {
		// The socket's own peer, not o's names, says where the
		// password would go.
		err = o.refusePasswordInClear(conn.RemoteAddr().Network(), conn.RemoteAddr().String())
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	return start(ctx, conn, o, time.Now().Add(o.Timeout))
}
