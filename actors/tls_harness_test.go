package actors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/bester-project/bester/internal/testpki"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
	"github.com/bester-project/bester/wire/tlsconf"
)

// testPKI is a certificate authority made for one test and the files it
// issued (testpki), with a server certificate for server J on loopback:
// server.crt and server.key.
type testPKI struct{ *testpki.PKI }

// newPKI makes a CA named name and a server certificate for J.
func newPKI(t testing.TB, name string) *testPKI {
	t.Helper()
	p := &testPKI{testpki.New(t, name)}
	p.Issue("server", tlsconf.LocalServer("J"))
	return p
}

// user issues a client certificate whose common name is name, as
// name.crt and name.key.
func (p *testPKI) user(name string) {
	p.T.Helper()
	p.Issue(name, tlsconf.Leaf{CommonName: name, Client: true})
}

// listener is a listener block named "tls" on a free loopback port that
// serves the PKI's server certificate; lines go into its tls block.
func (p *testPKI) listener(lines ...string) string {
	return fmt.Sprintf(`
listener "tls" {
  network = "tcp4"
  address = "127.0.0.1:0"
  tls {
    cert = %q
    key  = %q
%s
  }
}
`, p.Path("server.crt"), p.Path("server.key"), strings.Join(lines, "\n"))
}

// clientAuth is the tls block lines that ask for client certificates of
// the PKI's CA (mode is request or require), and log clients in by them
// when login is "certificate".
func (p *testPKI) clientAuth(mode, login string) []string {
	return []string{fmt.Sprintf("    client_ca   = %q", p.Path("ca.crt")),
		fmt.Sprintf("    client_auth = %q", mode), fmt.Sprintf("    login       = %q", login)}
}

// tlsConfig is a client's TLS settings for ts's "tls" listener: trusting
// the PKI's CA and presenting the certificate base.crt, unless base is
// empty.
func (p *testPKI) tlsConfig(ts *testServer, base string) *tls.Config {
	p.T.Helper()
	files := tlsconf.Client{CA: p.Path("ca.crt")}
	if base != "" {
		files.Cert, files.Key = p.Path(base+".crt"), p.Path(base+".key")
	}
	cfg, err := files.Config(ts.Addr("tls").String())
	if err != nil {
		p.T.Fatal(err)
	}
	return cfg
}

// dialTLS opens a TLS connection to ts's "tls" listener with cfg and
// completes the handshake (which, in TLS 1.3, a server that refuses the
// client's certificate answers only afterwards).
func (ts *testServer) dialTLS(cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: waitLong}
	return tls.DialWithDialer(d, "tcp4", ts.Addr("tls").String(), cfg)
}

// dialTLSClient logs in on ts's "tls" listener over TLS with cfg as user
// (with password "pw", which open authentication ignores).
func (ts *testServer) dialTLSClient(cfg *tls.Config, user string, codec wire.Codec) *client.Client {
	ts.t.Helper()
	return ts.dialTLSOpts(cfg, client.Options{Codec: codec, Username: user, Password: "pw"})
}

// dialTLSOpts logs in on ts's "tls" listener over TLS with cfg as o says.
func (ts *testServer) dialTLSOpts(cfg *tls.Config, o client.Options) *client.Client {
	ts.t.Helper()
	conn, err := ts.dialTLS(cfg)
	if err != nil {
		ts.t.Fatalf("TLS handshake as %s: %v", o.Username, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	c, err := client.Handshake(ctx, conn, o)
	if err != nil {
		ts.t.Fatalf("log in as %s over TLS: %v", o.Username, err)
	}
	ts.t.Cleanup(func() { c.Close() })
	return c
}

// rawTLS is a rawConn over a TLS connection to ts's "tls" listener.
func (ts *testServer) rawTLS(t *testing.T, cfg *tls.Config, codec wire.Codec) *rawConn {
	t.Helper()
	conn, err := ts.dialTLS(cfg)
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn, codec: codec}
}

// parseCert parses a PEM certificate.
func parseCert(t testing.TB, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// mustPool loads a PEM file of CA certificates.
func mustPool(t testing.TB, path string) *x509.CertPool {
	t.Helper()
	pool, err := tlsconf.LoadPool(path)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}
