package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
)

// peers checks the `peer` blocks and fills their defaults. self is this
// server's name, which no peer may have.
func (c *checker) peers(raws []rawPeer, self string) []Peer {
	seen := map[string]bool{}
	var out []Peer // nil without peers
	for i := range raws {
		r := &raws[i]
		switch {
		case r.Name == "" || strings.IndexFunc(r.Name, unicode.IsSpace) >= 0 || strings.ContainsAny(r.Name, ":@"):
			c.errorf(r.DefRange, "Invalid peer name",
				"A peer's name is its server name: non-empty, with no white space, ':' or '@', not %q.", r.Name)
		case r.Name == self:
			c.errorf(r.DefRange, "Invalid peer name",
				"%q is the name of this server (server.name); a server cannot be its own peer.", r.Name)
		case seen[r.Name]:
			c.errorf(r.DefRange, "Duplicate peer name", "Another peer is already named %q.", r.Name)
		}
		seen[r.Name] = true
		out = append(out, c.peer(r))
	}
	return out
}

// peer checks one `peer` block and fills its defaults.
func (c *checker) peer(r *rawPeer) Peer {
	p := Peer{
		Name:        r.Name,
		Address:     r.Address,
		Secret:      r.Secret,
		Codec:       DefaultPeerCodec,
		Timeout:     c.duration(r.Timeout, r.TimeoutRange, "timeout", DefaultPeerTimeout, positive),
		Queue:       c.count(r.Queue, r.QueueRange, "queue", DefaultPeerQueue, 1),
		MaxInFlight: c.count(r.MaxInFlight, r.MaxInFlightRange, "max_in_flight", DefaultPeerMaxInFlight, 1),
		BackoffMin:  c.duration(r.BackoffMin, r.BackoffMinRange, "backoff_min", DefaultPeerBackoffMin, positive),
		BackoffMax:  c.duration(r.BackoffMax, r.BackoffMaxRange, "backoff_max", DefaultPeerBackoffMax, positive),

		InsecurePlaintext: DefaultPeerInsecurePlaintext,
	}
	if r.TLS != nil {
		p.TLS = c.peerTLS(r.TLS)
	}
	if r.InsecurePlaintext != nil {
		p.InsecurePlaintext = *r.InsecurePlaintext
	}
	if c.required(r.Address, r.AddressRange, "address") {
		if problem := peerAddress(r.Address); problem != "" {
			c.errorf(r.AddressRange, `Invalid "address"`, "Address %q: %s.", r.Address, problem)
		} else {
			c.plaintextPeer(r, p)
		}
	}
	c.required(r.Secret, r.SecretRange, "secret")
	if r.Codec != nil {
		p.Codec = c.speakingCodec(*r.Codec, r.CodecRange, "peer", p.Codec)
	}
	if p.BackoffMin > 0 && p.BackoffMax > 0 && p.BackoffMin > p.BackoffMax {
		where, field := r.BackoffMaxRange, "backoff_max"
		if r.BackoffMax == nil {
			where, field = r.BackoffMinRange, "backoff_min"
		}
		c.errorf(where, fmt.Sprintf("Invalid %q", field),
			"backoff_min (%v) must not exceed backoff_max (%v).", p.BackoffMin, p.BackoffMax)
	}
	return p
}

// peerAddress checks a host:port to connect to: unlike a listener address,
// it needs a host and a port other than 0.
func peerAddress(address string) (problem string) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "it is not host:port (" + err.Error() + ")"
	}
	if host == "" {
		return "it names no host"
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "port " + strconv.Quote(port) + " is not a number from 1 to 65535"
	}
	return ""
}
