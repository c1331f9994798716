package config

import (
	"crypto/x509"
	"fmt"
	"net"

	"github.com/hashicorp/hcl/v2"

	"github.com/bester-project/bester/wire/tlsconf"
)

// peerTLS checks a peer's `tls` block and reads its files, so that a file
// the server could not use is reported with its line at load, not at every
// connection attempt. Paths are resolved against the configuration's
// directory.
func (c *checker) peerTLS(r *rawPeerTLS) *tlsconf.Client {
	t := &tlsconf.Client{
		CA:   c.tlsPath(r.CA, r.CARange, "ca"),
		Cert: c.tlsPath(r.Cert, r.CertRange, "cert"),
		Key:  c.tlsPath(r.Key, r.KeyRange, "key"),
	}
	if r.ServerName != nil && c.required(*r.ServerName, r.ServerNameRange, "server_name") {
		t.ServerName = *r.ServerName
	}
	if t.CA != "" {
		c.caPool(t.CA, r.CARange, "ca")
	}
	switch {
	case r.Cert != nil && r.Key == nil:
		c.errorf(r.CertRange, `Missing "key"`, `A client certificate needs its private key: add "key" next to "cert".`)
	case r.Key != nil && r.Cert == nil:
		c.errorf(r.KeyRange, `Missing "cert"`, `A private key needs its certificate: add "cert" next to "key".`)
	case t.Cert != "" && t.Key != "":
		if _, err := tlsconf.LoadKeyPair(t.Cert, t.Key); err != nil {
			c.errorf(r.CertRange, `Invalid "cert"`, "%s.", capitalize(err.Error()))
		}
	}
	return t
}

// caPool reads the CA file at path, reporting at r why it cannot be
// used; nil then.
func (c *checker) caPool(path string, r hcl.Range, field string) *x509.CertPool {
	pool, err := tlsconf.LoadPool(path)
	if err != nil {
		c.errorf(r, fmt.Sprintf("Invalid %q", field), "%s.", capitalize(err.Error()))
	}
	return pool
}

// tlsPath resolves an optional file attribute of a tls block; absent or
// empty, it is "".
func (c *checker) tlsPath(v *string, r hcl.Range, field string) string {
	if v == nil || !c.required(*v, r, field) {
		return ""
	}
	return under(c.dir, *v)
}

// plaintextPeer refuses a peer whose secret would cross a network in
// clear, unless insecure_plaintext allows it, and an insecure_plaintext
// that allows nothing. address is known to be a valid host:port.
func (c *checker) plaintextPeer(r *rawPeer, p Peer) {
	switch {
	case p.TLS != nil && p.InsecurePlaintext:
		c.errorf(r.InsecurePlaintextRange, `Invalid "insecure_plaintext"`,
			`Peer %q has a tls block, so nothing is sent in clear: remove insecure_plaintext, or the tls block.`, p.Name)
	case p.InsecurePlaintext && !p.PlaintextToNetwork():
		c.errorf(r.InsecurePlaintextRange, `Unused "insecure_plaintext"`,
			`Peer %q is at %q, a loopback address, so nothing crosses a network in clear to it: remove insecure_plaintext.`, p.Name, p.Address)
	case p.PlaintextToNetwork() && !p.InsecurePlaintext:
		c.errorf(r.AddressRange, `Peer without "tls"`,
			`Peer %q is at %q, which is not a loopback address (127.0.0.0/8, ::1 or localhost), and has no tls block: `+
				`its secret and messages would cross the network in clear. Add a tls block, for example `+
				`tls { ca = "certs/ca.crt" }, or allow it with insecure_plaintext = true.`, p.Name, p.Address)
	}
}

// PlaintextToNetwork reports whether p is reached without TLS at an
// address that is not loopback: its secret and messages would cross a
// network in clear, which only insecure_plaintext allows.
func (p Peer) PlaintextToNetwork() bool {
	host, _, err := net.SplitHostPort(p.Address)
	return p.TLS == nil && err == nil && !tlsconf.LoopbackHost(host)
}
