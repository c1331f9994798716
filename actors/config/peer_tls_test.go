package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bester-project/bester/internal/testpki"
	"github.com/bester-project/bester/wire/tlsconf"
)

// writePeerCerts writes a CA, and a client certificate J with its key,
// into dir/certs, plus a key of another certificate: K's.
func writePeerCerts(t *testing.T, dir string) {
	t.Helper()
	certs := filepath.Join(dir, "certs")
	if err := os.Mkdir(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	pki := testpki.NewIn(t, "test CA", certs)
	pki.Issue("j", tlsconf.Leaf{CommonName: "J", Client: true, Server: true})
	pki.Issue("k", tlsconf.Leaf{CommonName: "K", Client: true, Server: true})
}

// loadWithCerts writes src next to the files of writePeerCerts and loads it.
func loadWithCerts(t *testing.T, src string) (*Config, string, error) {
	t.Helper()
	path := write(t, src)
	dir := filepath.Dir(path)
	writePeerCerts(t, dir)
	cfg, err := Load(path)
	return cfg, dir, err
}

// A peer's tls block gives absolute paths and the server name; peers on
// loopback need none, and insecure_plaintext lets a plain peer elsewhere
// through.
func TestPeerTLS(t *testing.T) {
	src := okBase + `
peer "K" {
  address = "k.example.net:2443"
  secret  = "s"
  tls {
    ca          = "certs/ca.crt"
    server_name = "bester-k"
    cert        = "certs/j.crt"
    key         = "certs/j.key"
  }
}
peer "L" {
  address = "l.example.net:2443"
  secret  = "s"
  tls {}
}
peer "M" {
  address            = "m.example.net:2443"
  secret             = "s"
  insecure_plaintext = true #!
}
peer "N1" {
  address = "127.0.0.2:2443"
  secret  = "s"
}
peer "N2" {
  address = "[::1]:2443"
  secret  = "s"
}
peer "N3" {
  address = "LocalHost:2443"
  secret  = "s"
}
`
	cfg, dir, err := loadWithCerts(t, src)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	certs := filepath.Join(dir, "certs")
	want := map[string]*tlsconf.Client{
		"K": {CA: filepath.Join(certs, "ca.crt"), ServerName: "bester-k",
			Cert: filepath.Join(certs, "j.crt"), Key: filepath.Join(certs, "j.key")},
		"L": {},
	}
	for _, p := range cfg.Peers {
		if !reflect.DeepEqual(p.TLS, want[p.Name]) {
			t.Errorf("peer %s: TLS %+v, want %+v", p.Name, p.TLS, want[p.Name])
		}
		if p.InsecurePlaintext != (p.Name == "M") {
			t.Errorf("peer %s: insecure_plaintext %v", p.Name, p.InsecurePlaintext)
		}
	}
	for _, p := range cfg.Peers {
		if p.PlaintextToNetwork() != (p.Name == "M") {
			t.Errorf("peer %s: PlaintextToNetwork %v", p.Name, p.PlaintextToNetwork())
		}
	}
	w, err := Warnings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	at := fmt.Sprintf(`line %d, in peer "M"`, markedLine(t, src))
	if !strings.Contains(w, "Peer secret in clear") || !strings.Contains(w, at) || strings.Count(w, "Warning:") != 1 {
		t.Errorf("want one warning, for peer M's insecure_plaintext (%s), got:\n%s", at, w)
	}
	// What the loaded settings name is usable as they are.
	if _, err := cfg.Peers[0].TLS.Config(cfg.Peers[0].Address); err != nil {
		t.Fatalf("the checked settings do not make a TLS configuration: %v", err)
	}
}

// A certificate with another certificate's key is refused at load, at the
// line of cert.
func TestPeerTLSKeyMismatch(t *testing.T) {
	src := okBase + `
peer "K" {
  address = "127.0.0.1:2443"
  secret  = "s"
  tls {
    cert = "certs/j.crt" #!
    key  = "certs/k.key"
  }
}
`
	_, _, err := loadWithCerts(t, src)
	if err == nil {
		t.Fatal("a certificate with the wrong key was accepted")
	}
	msg := flat(err.Error())
	for _, want := range []string{fmt.Sprintf("bester.hcl line %d", markedLine(t, src)), `Invalid "cert"`, "j.crt", "private key does not match"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}
