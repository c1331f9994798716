package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/internal/testpki"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
	"github.com/bester-project/bester/wire/tlsconf"
)

// testPKI is a CA made for one test (testpki), with a server certificate
// for the loopback names and a client certificate for the fake server's
// user.
type testPKI struct {
	*testpki.PKI
	server tls.Certificate
	pool   *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{PKI: testpki.New(t, "test CA")}
	p.Issue("server", tlsconf.LocalServer("localhost"))
	p.Issue(fakeUser, tlsconf.Leaf{CommonName: fakeUser, Client: true})
	var err error
	if p.server, err = tlsconf.LoadKeyPair(p.Path("server.crt"), p.Path("server.key")); err != nil {
		t.Fatal(err)
	}
	if p.pool, err = tlsconf.LoadPool(p.Path("ca.crt")); err != nil {
		t.Fatal(err)
	}
	return p
}

// serverTLS is the fake server's TLS: its certificate and, with
// clientAuth, the client certificates it asks for.
func (p *testPKI) serverTLS(clientAuth tls.ClientAuthType) func(*fakeServer) {
	return func(s *fakeServer) {
		s.tls = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: clientAuth}
	}
}

// clientTLS builds the client's TLS the way the command line does.
func (p *testPKI) clientTLS(t *testing.T, files tlsconf.Client, addr string) *tls.Config {
	t.Helper()
	cfg, err := files.Config(addr)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestDialTLS(t *testing.T) {
	p := newTestPKI(t)
	s := startFakeServer(t, "tcp", p.serverTLS(tls.NoClientCert))
	for _, codec := range codecs {
		c, err := client.Dial(context.Background(), client.Options{Address: s.addr(), Codec: codec,
			TLS:      p.clientTLS(t, tlsconf.Client{CA: p.Path("ca.crt")}, s.addr()),
			Username: fakeUser, Password: fakePassword, Timeout: testTimeout})
		if err != nil {
			t.Fatalf("%s: Dial over TLS: %v", codec, err)
		}
		if err := c.Send(typeEcho, "e-1", "over tls"); err != nil {
			t.Fatal(err)
		}
		if in := receive(t, c); in.Kind != wire.MessageTypeReceived {
			t.Fatalf("%s: got %+v, want the echo's delivery", codec, in)
		}
		if in := receive(t, c); in.ID != "e-1" || in.Err() != nil {
			t.Fatalf("%s: got %+v, want a good report for e-1", codec, in)
		}
		c.Close()
	}
}

// TestDialTLSServerNameFromAddress gives a TLS config without a server
// name: the host of the address is checked, as crypto/tls.Dial does.
func TestDialTLSServerNameFromAddress(t *testing.T) {
	p := newTestPKI(t)
	s := startFakeServer(t, "tcp", p.serverTLS(tls.NoClientCert))
	cfg := &tls.Config{RootCAs: p.pool}
	c, err := client.Dial(context.Background(), client.Options{Address: s.addr(), TLS: cfg,
		Username: fakeUser, Password: fakePassword, Timeout: testTimeout})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	c.Close()
	if cfg.ServerName != "" {
		t.Fatalf("Dial changed the caller's config: ServerName %q", cfg.ServerName)
	}
}

func TestDialTLSRefusesServer(t *testing.T) {
	p := newTestPKI(t)
	other := newTestPKI(t)
	s := startFakeServer(t, "tcp", p.serverTLS(tls.NoClientCert))
	unknownCA := func(err error) bool { return errors.As(err, new(x509.UnknownAuthorityError)) }
	cases := []struct {
		name  string
		files tlsconf.Client
		want  func(error) bool
	}{
		{"another CA", tlsconf.Client{CA: other.Path("ca.crt")}, unknownCA},
		{"the system's CAs", tlsconf.Client{}, unknownCA},
		{"another name", tlsconf.Client{CA: p.Path("ca.crt"), ServerName: "bester.example"}, func(err error) bool {
			return errors.As(err, new(x509.HostnameError)) && strings.Contains(err.Error(), "bester.example")
		}},
	}
	for _, tc := range cases {
		_, err := client.Dial(context.Background(), client.Options{Address: s.addr(),
			TLS:      p.clientTLS(t, tc.files, s.addr()),
			Username: fakeUser, Password: fakePassword, Timeout: testTimeout})
		if err == nil {
			t.Fatalf("%s: Dial succeeded", tc.name)
		}
		if !strings.HasPrefix(err.Error(), "tls handshake with "+s.addr()+": ") || !tc.want(err) {
			t.Errorf("%s: error %q, want the TLS handshake with the address refused for this reason", tc.name, err)
		}
	}
}

// TestTLSHandshakeTimeout opens a connection to a TCP listener that
// accepts and never answers, then lets Handshake make the TLS handshake:
// it gives up at Options.Timeout with the handshake named. The connection
// is open before the clock starts, so the speed of connecting plays no
// part; Dial goes through the same handshake, under a deadline that
// covers its connect too.
func TestTLSHandshakeTimeout(t *testing.T) {
	p := newTestPKI(t)
	s := startFakeServer(t, "tcp", func(s *fakeServer) { s.silent = true })
	conn, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = client.Handshake(context.Background(), conn, client.Options{
		TLS:      p.clientTLS(t, tlsconf.Client{CA: p.Path("ca.crt")}, s.addr()),
		Username: fakeUser, Password: fakePassword, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "tls handshake") {
		t.Fatalf("got %v, want a deadline error from the TLS handshake", err)
	}
	if d := time.Since(start); d > testTimeout/2 {
		t.Fatalf("Handshake took %v", d)
	}
}

func TestDialTLSHandshakeCancelled(t *testing.T) {
	p := newTestPKI(t)
	s := startFakeServer(t, "tcp", func(s *fakeServer) { s.silent = true })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := client.Dial(ctx, client.Options{Address: s.addr(),
		TLS:      p.clientTLS(t, tlsconf.Client{CA: p.Path("ca.crt")}, s.addr()),
		Username: fakeUser, Password: fakePassword, Timeout: testTimeout})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// TestDialCertificateLogin logs in with a client certificate and no
// username: the first message has scope client and no authentication.
func TestDialCertificateLogin(t *testing.T) {
	p := newTestPKI(t)
	s := startFakeServer(t, "tcp", p.serverTLS(tls.RequireAndVerifyClientCert))
	withCert := tlsconf.Client{CA: p.Path("ca.crt"), Cert: p.Path(fakeUser + ".crt"), Key: p.Path(fakeUser + ".key")}
	for _, codec := range codecs {
		c, err := client.Dial(context.Background(), client.Options{Address: s.addr(), Codec: codec,
			TLS: p.clientTLS(t, withCert, s.addr()), Timeout: testTimeout})
		if err != nil {
			t.Fatalf("%s: Dial by certificate: %v", codec, err)
		}
		c.Close()
		if h := <-s.logins; h.Scope != wire.ScopeClient || h.Authentication != nil {
			t.Fatalf("%s: first header %+v, want scope client and no authentication", codec, h)
		}
	}

	// A username beside the certificate is sent, for the server to match.
	c, err := client.Dial(context.Background(), client.Options{Address: s.addr(),
		TLS: p.clientTLS(t, withCert, s.addr()), Username: fakeUser, Timeout: testTimeout})
	if err != nil {
		t.Fatalf("Dial by certificate with a username: %v", err)
	}
	c.Close()
	if h := <-s.logins; h.Authentication == nil || h.Authentication.Username != fakeUser {
		t.Fatalf("first header %+v, want the username %s", h, fakeUser)
	}

	// Without a certificate the server ends the handshake; the error
	// says so.
	_, err = client.Dial(context.Background(), client.Options{Address: s.addr(),
		TLS:      p.clientTLS(t, tlsconf.Client{CA: p.Path("ca.crt")}, s.addr()),
		Username: fakeUser, Password: fakePassword, Timeout: testTimeout})
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("Dial without a certificate: %v, want the server's certificate required alert", err)
	}
}

// TestHandshakeTLS opens the connection itself, as the load generator
// does from a chosen source address, and lets Handshake add TLS.
func TestHandshakeTLS(t *testing.T) {
	p := newTestPKI(t)
	s := startFakeServer(t, "tcp", p.serverTLS(tls.NoClientCert))
	conn, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Handshake(context.Background(), conn, client.Options{Username: fakeUser, Password: fakePassword,
		TLS: &tls.Config{RootCAs: p.pool}, Timeout: testTimeout})
	if err != nil {
		t.Fatalf("Handshake over TLS: %v", err)
	}
	defer c.Close()
	if err := c.Send(wire.TypeDummy, "d", nil); err != nil {
		t.Fatal(err)
	}
	if in := receive(t, c); in.Kind != client.KindDummy {
		t.Fatalf("got %+v, want a dummy reply", in)
	}
}
