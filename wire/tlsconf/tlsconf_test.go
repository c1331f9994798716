package tlsconf_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/wire/tlsconf"
)

// TestDevFilesHandshake writes the development files and makes a mutual
// TLS connection over loopback with them: the server trusts the user's
// certificate and the client trusts the server's.
func TestDevFilesHandshake(t *testing.T) {
	dir := t.TempDir()
	paths, err := tlsconf.WriteDev(dir, []string{"T"}, false)
	if err != nil {
		t.Fatalf("WriteDev: %v", err)
	}
	if len(paths) != 6 {
		t.Fatalf("wrote %d files, want 6: %v", len(paths), paths)
	}
	for _, key := range []string{"ca.key", "server.key", "T.key"} {
		st, err := os.Stat(filepath.Join(dir, key))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, error %v; want 0600", key, st.Mode().Perm(), err)
		}
	}
	if _, err := tlsconf.WriteDev(dir, []string{"T"}, false); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second WriteDev without force: %v, want an error saying a file exists", err)
	}

	serverPair, err := tlsconf.LoadKeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := tlsconf.LoadPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{serverPair},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	names := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			names <- err.Error()
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			names <- err.Error()
			return
		}
		names <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		io.Copy(io.Discard, c)
	}()

	cfg, err := tlsconf.Client{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "T.crt"),
		Key: filepath.Join(dir, "T.key")}.Config(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), cfg)
	if err != nil {
		t.Fatalf("dial with the development files: %v", err)
	}
	defer c.Close()
	if got := <-names; got != "T" {
		t.Fatalf("server saw client %q, want T", got)
	}
}

func TestClientConfigErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("not pem"), 0o600)
	cases := map[string]tlsconf.Client{
		"no PEM certificate": {CA: empty},
		"read CA file":       {CA: filepath.Join(dir, "missing.pem")},
		"both":               {Cert: empty},
	}
	for want, c := range cases {
		if _, err := c.Config("localhost:1"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: error %v, want one containing %q", c, err, want)
		}
	}
}

func TestIssueValidity(t *testing.T) {
	ca, err := tlsconf.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-48 * time.Hour)
	certPEM, _, err := ca.Issue(tlsconf.Leaf{CommonName: "old", Client: true, NotBefore: past, NotAfter: past.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("verify an expired certificate: %v, want expired", err)
	}
}
