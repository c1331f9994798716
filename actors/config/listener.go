package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/bester-project/bester/wire"
)

// listeners checks the `listener` blocks and fills their defaults.
func (c *checker) listeners(raws []rawListener, runtimeDir string) []Listener {
	if len(raws) == 0 {
		c.errorf(c.start, `Missing "listener" block`,
			`At least one "listener" block is required, for example a block listener "local" holding network = "tcp4" and address = "127.0.0.1:2223", one argument per line.`)
	}
	seen := map[string]bool{}
	out := make([]Listener, 0, len(raws))
	for _, r := range raws {
		l := Listener{Name: r.Name, Network: DefaultNetwork, Address: r.Address, Codec: DefaultListenerCodec,
			InsecurePlaintext: DefaultInsecurePlaintext}
		switch {
		case r.Name == "":
			c.errorf(r.DefRange, "Invalid listener name", "A listener needs a non-empty name.")
		case seen[r.Name]:
			c.errorf(r.DefRange, "Duplicate listener name", "Another listener is already named %q.", r.Name)
		}
		seen[r.Name] = true

		if r.Network != nil {
			l.Network = *r.Network
			if !isTCP(l.Network) && l.Network != networkUnix {
				c.errorf(r.NetworkRange, `Invalid "network"`,
					"Unknown network %q; use tcp, tcp4, tcp6 or unix.", l.Network)
			}
		}
		if c.required(r.Address, r.AddressRange, "address") {
			switch {
			case l.Network == networkUnix:
				l.Address = c.socketPath(runtimeDir, r.Address, r.AddressRange, "address")
			case isTCP(l.Network):
				if _, problem := splitTCPAddress(l.Network, r.Address); problem != "" {
					c.errorf(r.AddressRange, `Invalid "address"`, "Address %q: %s.", r.Address, problem)
				}
			}
		}
		if r.Codec != nil {
			codec, err := parseCodec(*r.Codec)
			if err != nil {
				c.errorf(r.CodecRange, `Invalid "codec"`, "%s.", capitalize(err.Error()))
			}
			l.Codec = codec
		}
		if r.TLS != nil {
			l.TLS = c.listenerTLS(r.TLS, l.Network)
		}
		if r.InsecurePlaintext != nil {
			l.InsecurePlaintext = *r.InsecurePlaintext
			switch {
			case l.InsecurePlaintext && r.TLS != nil:
				c.errorf(r.InsecurePlaintextRange, `Invalid "insecure_plaintext"`,
					"Listener %q has a tls block, so nothing crosses it in clear; remove insecure_plaintext.", l.Name)
			case l.InsecurePlaintext && l.local():
				c.errorf(r.InsecurePlaintextRange, `Unused "insecure_plaintext"`,
					"Listener %q is reached only from this machine (%s %q), so nothing crosses a network in clear on it; remove insecure_plaintext.",
					l.Name, l.Network, r.Address)
			}
		}
		out = append(out, l)
	}
	return out
}

// parseCodec reads a codec name that was written in the file. Unlike
// wire.ParseCodec it refuses an empty name: writing `codec = ""` is a
// mistake, not a request for the default.
func parseCodec(name string) (wire.Codec, error) {
	if name == "" {
		return wire.CodecAuto, errors.New("the codec must not be empty; use auto, cbor or json")
	}
	codec, err := wire.ParseCodec(name)
	if err != nil {
		return wire.CodecAuto, fmt.Errorf("unknown codec %q; use auto, cbor or json", name)
	}
	return codec, nil
}

// speakingCodec checks the codec of a link this server opens (to a handler
// or a peer): it must be concrete, since the server speaks first and
// nothing tells it what the other end expects. It returns def on error.
func (c *checker) speakingCodec(name string, rng hcl.Range, what string, def wire.Codec) wire.Codec {
	codec, err := parseCodec(name)
	switch {
	case err != nil:
		c.errorf(rng, `Invalid "codec"`, "%s.", capitalize(err.Error()))
	case codec == wire.CodecAuto:
		c.errorf(rng, `Invalid "codec"`,
			`A %s's codec must be "cbor" or "json": this server speaks first, so it cannot detect it.`, what)
	default:
		return codec
	}
	return def
}

// capitalize starts a sentence of an error detail with a capital letter.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
