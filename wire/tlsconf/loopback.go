package tlsconf

import (
	"net/netip"
	"strings"
)

// LoopbackHost reports whether host, the host of a host:port address,
// names this machine only, so that what is sent to it in clear never
// crosses a network: an IP literal in 127.0.0.0/8, ::1, or "localhost".
// Any other name counts as remote even when it resolves to a loopback
// address today: its resolution is not ours to trust, and may change
// between a check and a dial.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
