package actors

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
	"github.com/bester-project/bester/wire/tlsconf"
)

// clientHello is a first message with scope client and no credentials,
// as a client that logs in by certificate may send it.
var clientHello = map[string]any{"header": map[string]any{"scope": "client"}}

// On a listener with login = "certificate", a verified client certificate
// names the user: no password is checked, a username that is not the
// certificate's is refused, and so is a certificate without a name. A
// client without a certificate (client_auth = "request") logs in by
// password.
func TestTLSCertificateLogin(t *testing.T) {
	pki := newPKI(t, "test CA")
	pki.user("T")
	pki.Issue("nameless", tlsconf.Leaf{Client: true})
	pki.Issue("long", tlsconf.Leaf{CommonName: strings.Repeat("x", wire.MaxNameLength+1), Client: true})
	pki.issueTwoCommonNames("twice", "G", "T")
	auth, _ := htpasswdAuth(t, "T", "correct horse", "G", "battery staple")
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log}, auth+pki.listener(pki.clientAuth("request", "certificate")...))

	t.Run("certificate alone", func(t *testing.T) {
		for i, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
			r := ts.rawTLS(t, pki.tlsConfig(ts, "T"), codec)
			r.send(clientHello)
			wantGood(t, r.expectReport(wire.IDAuth))
			r.dummy("ping")
			if n := len(ts.registry.lookup("T", nil)); n != i+1 { // each connection, not just the first
				t.Fatalf("%s: T has %d connections registered, want %d", codec, n, i+1)
			}
		}
	})
	t.Run("credentials too", func(t *testing.T) {
		// The username must be the certificate's; the password is not checked.
		c := ts.dialTLSOpts(pki.tlsConfig(ts, "T"), client.Options{Username: "T", Password: "wrong"})
		if err := c.Send(wire.TypeDummy, "d", nil); err != nil {
			t.Fatal(err)
		}
		if in := recv(t, c); in.Kind != client.KindDummy {
			t.Fatalf("want the dummy reply, got %s", in.Raw)
		}
	})
	for _, tc := range []struct{ name, cert, want string }{
		{"another username", "T", `username "G" is not the name of the client certificate, "T"`},
		{"no common name", "nameless", "names no usable user: its common_name is empty"},
		{"name too long", "long", "names no usable user: its common_name is longer than 256 bytes"},
		{"two common names", "twice", "names no usable user: its subject has 2 common names, not one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.rawTLS(t, pki.tlsConfig(ts, tc.cert), wire.CodecJSON)
			r.send(authMsg("G", "battery staple"))
			rep := r.expectReport(wire.IDAuth)
			wantBad(t, rep, wire.CodeUnauthorized)
			if !strings.Contains(rep.Header.Detail, tc.want) {
				t.Fatalf("detail %q, want %q", rep.Header.Detail, tc.want)
			}
			r.expectClosed()
		})
	}
	t.Run("no certificate", func(t *testing.T) {
		ts.dialTLSOpts(pki.tlsConfig(ts, ""), client.Options{Username: "G", Password: "battery staple"})
		r := ts.rawTLS(t, pki.tlsConfig(ts, ""), wire.CodecJSON)
		r.send(authMsg("T", "wrong"))
		r.wantUnauthorized()
		r = ts.rawTLS(t, pki.tlsConfig(ts, ""), wire.CodecJSON)
		r.send(clientHello)
		r.wantUnauthorized()
	})
	t.Run("no scope", func(t *testing.T) {
		r := ts.rawTLS(t, pki.tlsConfig(ts, "T"), wire.CodecJSON)
		r.send(map[string]any{"header": map[string]any{}})
		r.wantUnauthorized()
	})
	if !strings.Contains(log.String(), "authentication failed") {
		t.Error("refused certificate logins were not logged")
	}
}

// certificate_user chooses the common name, the first email address or
// the first DNS name of the certificate.
func TestTLSCertificateUser(t *testing.T) {
	pki := newPKI(t, "test CA")
	pki.Issue("alice", tlsconf.Leaf{CommonName: "Alice", Emails: []string{"alice@example.org", "a@example.org"},
		DNSNames: []string{"alice.example.org"}, Client: true})
	for which, user := range map[string]string{"common_name": "Alice", "email": "alice@example.org", "dns": "alice.example.org"} {
		t.Run(which, func(t *testing.T) {
			ts := startServer(t, pki.listener(append(pki.clientAuth("require", "certificate"),
				`    certificate_user = "`+which+`"`)...))
			r := ts.rawTLS(t, pki.tlsConfig(ts, "alice"), wire.CodecCBOR)
			r.send(clientHello)
			wantGood(t, r.expectReport(wire.IDAuth))
			if names := ts.registry.names(); len(names) != 1 || names[0] != user {
				t.Fatalf("logged in as %v, want %s", names, user)
			}
		})
	}
}

func TestCertificateName(t *testing.T) {
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "T"}, EmailAddresses: []string{"t@example.org"}}
	twoCommonNames := &x509.Certificate{Subject: pkix.Name{CommonName: "T", Names: []pkix.AttributeTypeAndValue{
		{Type: oidCommonName, Value: "G"}, {Type: oidCommonName, Value: "T"}}}, EmailAddresses: []string{"t@example.org"}}
	for _, tc := range []struct {
		which config.CertificateUser
		cert  *x509.Certificate
		name  string
		fails string
	}{
		{config.CertificateUserCommonName, cert, "T", ""},
		{config.CertificateUserEmail, cert, "t@example.org", ""},
		{config.CertificateUserDNS, cert, "", "no DNS name"},
		{config.CertificateUserEmail, &x509.Certificate{}, "", "no email address"},
		{config.CertificateUserCommonName, &x509.Certificate{Subject: pkix.Name{CommonName: "\xff"}}, "", "not valid UTF-8"},
		{config.CertificateUserDNS, &x509.Certificate{DNSNames: []string{strings.Repeat("d", 257)}}, "", "longer than 256 bytes"},
		{config.CertificateUserCommonName, twoCommonNames, "", "2 common names"},
		{config.CertificateUserEmail, twoCommonNames, "t@example.org", ""},
	} {
		name, err := certificateName(tc.cert, tc.which)
		if name != tc.name || (tc.fails == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.fails) {
			t.Errorf("%s of %+v: %q, %v; want %q, error %q", tc.which, tc.cert.Subject, name, err, tc.name, tc.fails)
		}
	}
}

// A peer server that connects to a certificate-login listener with a
// certificate must present its own: one that names it. It still proves
// the shared secret. Without a certificate the secret is enough.
func TestTLSPeerCertificateName(t *testing.T) {
	pki := newPKI(t, "test CA")
	pki.Issue("K", tlsconf.LocalServer("K"))
	pki.Issue("X", tlsconf.LocalServer("X"))
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log},
		pki.listener(pki.clientAuth("request", "certificate")...)+peerBlock("K", freeAddr(t), fedSecret, fastPeer))

	for _, tc := range []struct {
		name, cert, secret, logged string
	}{
		{"its own certificate", "K", fedSecret, ""},
		{"no certificate", "", fedSecret, ""},
		{"another server's certificate", "X", fedSecret, "peer server refused: its certificate names another server"},
		{"its own certificate, wrong secret", "K", "guess", "peer server refused: wrong secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.rawTLS(t, pki.tlsConfig(ts, tc.cert), wire.CodecCBOR)
			r.send(serverHello("K", tc.secret))
			if tc.logged == "" {
				wantGood(t, r.expectReport(wire.IDAuth))
				return
			}
			r.wantUnauthorized()
			if !strings.Contains(log.String(), tc.logged) {
				t.Fatalf("no %q in the log", tc.logged)
			}
		})
	}
}

// With client_auth = "require", a client without a certificate does not
// get past the handshake; with one it logs in by password as usual.
func TestTLSRequireClientCertificate(t *testing.T) {
	pki := newPKI(t, "test CA")
	pki.user("T")
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log}, pki.listener(pki.clientAuth("require", "password")...))
	ts.dialTLSClient(pki.tlsConfig(ts, "T"), "G", wire.CodecJSON) // a password login with any certificate of the CA

	conn, err := ts.dialTLS(pki.tlsConfig(ts, ""))
	if err == nil { // TLS 1.3: the server refuses after the client's last handshake message
		_, err = client.Handshake(context.Background(), conn, client.Options{Username: "T", Password: "pw"})
	}
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("login without a certificate: %v, want the server's certificate required alert", err)
	}
	eventually(t, "the refusal is logged", func() bool {
		return strings.Contains(log.String(), "TLS handshake failed") && strings.Contains(log.String(), "didn't provide a certificate")
	})
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("refused by a timeout, not at once: %v", err)
	}
}

// issueTwoCommonNames signs a client certificate whose subject has two
// common names, first and last, as base.crt and base.key: tlsconf.Leaf
// makes only one.
func (p *testPKI) issueTwoCommonNames(base, first, last string) {
	p.T.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.T.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject: pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidCommonName, Value: first}, {Type: oidCommonName, Value: last}}},
		NotBefore:   time.Now().Add(-time.Minute),
		NotAfter:    time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA.Cert, key.Public(), p.CA.Key)
	if err != nil {
		p.T.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if cn := parseCert(p.T, certPEM).Subject.CommonName; cn != last {
		p.T.Fatalf("a subject with the common names %q and %q parses as %q", first, last, cn)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		p.T.Fatal(err)
	}
	p.Write(base+".crt", certPEM)
	p.Write(base+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}
