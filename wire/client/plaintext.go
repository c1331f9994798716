package client

import (
	"errors"
	"fmt"
	"net"

	"github.com/bester-project/bester/wire/tlsconf"
)

// ErrPasswordInClear is wrapped by the error of Dial and Handshake when
// the password would cross a network in clear and Options.InsecurePlaintext
// does not allow it. Nothing has been sent by then: a server that refuses
// plaintext passwords could only refuse once the password had crossed.
var ErrPasswordInClear = errors.New("refusing to send a password in clear")

// PasswordInClear reports whether Dial with o would send a password
// across a network in clear: a Password, no TLS, and a TCP address whose
// host is not loopback (tlsconf.LoopbackHost: a host name other than
// localhost counts as remote, whatever it resolves to).
func (o Options) PasswordInClear() bool {
	network := o.Network
	if network == "" {
		network = DefaultNetwork
	}
	return o.passwordInClearTo(network, o.Address)
}

// passwordInClearTo is PasswordInClear for a connection to address on
// network. An address that is not host:port is taken for a bare host
// (dialling it fails for want of a port).
func (o Options) passwordInClearTo(network, address string) bool {
	if o.Password == "" || o.TLS != nil {
		return false
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return false
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	return !tlsconf.LoopbackHost(host)
}

// refusePasswordInClear gives ErrPasswordInClear for a connection to
// address on network that would send the password in clear, unless
// o.InsecurePlaintext allows it.
func (o Options) refusePasswordInClear(network, address string) error {
	if o.InsecurePlaintext || !o.passwordInClearTo(network, address) {
		return nil
	}
	return fmt.Errorf("%w to %s, which is not a loopback address (127.0.0.0/8, ::1 or localhost): "+
		"connect with TLS (Options.TLS) or, on a network you trust, set Options.InsecurePlaintext",
		ErrPasswordInClear, address)
}
