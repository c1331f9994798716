package config

import (
	"net"
	"strconv"

	"github.com/bester-project/bester/wire/tlsconf"
)

// Listener networks accepted in `network`.
const (
	networkTCP  = "tcp"
	networkTCP4 = "tcp4"
	networkTCP6 = "tcp6"
	networkUnix = "unix"
)

// isTCP tells whether a network listens on a TCP address.
func isTCP(network string) bool {
	return network == networkTCP || network == networkTCP4 || network == networkTCP6
}

// splitTCPAddress checks a host:port listener address. The host may be
// empty (every interface); the port must be a number from 0 to 65535.
func splitTCPAddress(network, address string) (host string, problem string) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", "it is not host:port (" + err.Error() + ")"
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "port " + strconv.Quote(port) + " is not a number from 0 to 65535"
	}
	if ip := net.ParseIP(host); ip != nil {
		is4 := ip.To4() != nil
		if network == networkTCP4 && !is4 {
			return "", host + " is not an IPv4 address, as network \"tcp4\" needs"
		}
		if network == networkTCP6 && is4 {
			return "", host + " is not an IPv6 address, as network \"tcp6\" needs"
		}
	}
	return host, ""
}

// remote reports whether l is a TCP listener that other machines can
// reach: its host is not a loopback address. An address that does not
// parse (an error reported already) counts as not remote.
func (l Listener) remote() bool {
	if !isTCP(l.Network) {
		return false
	}
	host, problem := splitTCPAddress(l.Network, l.Address)
	return problem == "" && !tlsconf.LoopbackHost(host)
}

// local reports whether only this machine can reach l: a unix socket,
// or a TCP listener on a loopback address. An address that does not
// parse (an error reported already) counts as neither local nor remote.
func (l Listener) local() bool {
	if !isTCP(l.Network) {
		return l.Network == networkUnix
	}
	host, problem := splitTCPAddress(l.Network, l.Address)
	return problem == "" && tlsconf.LoopbackHost(host)
}

// PlaintextToNetwork reports whether l is a remote listener without TLS:
// passwords and peer secrets would cross a network in clear on it, which
// only insecure_plaintext allows.
func (l Listener) PlaintextToNetwork() bool { return l.TLS == nil && l.remote() }
