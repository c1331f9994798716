package config

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/internal/testpki"
	"github.com/bester-project/bester/wire/tlsconf"
)

// writeTLSFiles makes a CA and puts, in dir, ca.crt, server.crt and
// server.key (valid now), old.crt and old.key (expired), new.crt and
// new.key (not valid yet) and other.key (the key of another
// certificate).
func writeTLSFiles(t *testing.T, dir string) {
	t.Helper()
	pki := testpki.NewIn(t, "test CA", dir)
	past, future := time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour)
	for base, leaf := range map[string]tlsconf.Leaf{
		"server": tlsconf.LocalServer("J"),
		"old":    {CommonName: "J", Server: true, NotBefore: past, NotAfter: past.Add(time.Hour)},
		"new":    {CommonName: "J", Server: true, NotBefore: future, NotAfter: future.Add(time.Hour)},
		"other":  tlsconf.LocalServer("K"),
	} {
		pki.Issue(base, leaf)
	}
}

// loadWithTLSFiles writes src next to fresh TLS files and loads it.
func loadWithTLSFiles(t *testing.T, src string) (*Config, string, error) {
	t.Helper()
	return loadWith(t, src, writeTLSFiles)
}

func TestListenerTLS(t *testing.T) {
	cfg, path, err := loadWithTLSFiles(t, `
auth {
  file = "users.htpasswd"
}
listener "public" {
  network = "tcp4"
  address = "0.0.0.0:2443"
  tls {
    cert             = "server.crt"
    key              = "server.key"
    min_version      = "1.3"
    client_ca        = "ca.crt"
    client_auth      = "require"
    login            = "certificate"
    certificate_user = "email"
  }
}
listener "defaults" {
  address = "127.0.0.1:2444"
  tls {
    cert = "server.crt"
    key  = "server.key"
  }
}
listener "clear" {
  address            = ":2223"
  insecure_plaintext = true
}
`)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	dir := filepath.Dir(path)
	want := ListenerTLS{Cert: filepath.Join(dir, "server.crt"), Key: filepath.Join(dir, "server.key"),
		MinVersion: tls.VersionTLS13, ClientCA: filepath.Join(dir, "ca.crt"), ClientAuth: ClientAuthRequire,
		Login: LoginCertificate, CertificateUser: CertificateUserEmail}
	if got := cfg.Listeners[0].TLS; got == nil || *got != want {
		t.Errorf("public: got %+v, want %+v", got, want)
	}
	want = ListenerTLS{Cert: want.Cert, Key: want.Key, MinVersion: DefaultTLSMinVersion,
		ClientAuth: DefaultClientAuth, Login: DefaultLogin, CertificateUser: DefaultCertificateUser}
	if got := cfg.Listeners[1].TLS; got == nil || *got != want {
		t.Errorf("defaults: got %+v, want %+v", got, want)
	}
	if l := cfg.Listeners[2]; l.TLS != nil || !l.InsecurePlaintext || !l.PlaintextToNetwork() {
		t.Errorf("clear: %+v, want a plain listener allowed to carry passwords in clear", l)
	}

	sc, err := cfg.Listeners[0].TLS.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if sc.ClientAuth != tls.RequireAndVerifyClientCert || sc.ClientCAs == nil || sc.MinVersion != tls.VersionTLS13 ||
		len(sc.Certificates) != 1 || !sc.SessionTicketsDisabled {
		t.Errorf("server config %+v", sc)
	}
	if sc, err := cfg.Listeners[1].TLS.ServerConfig(); err != nil || sc.ClientAuth != tls.NoClientCert || sc.ClientCAs != nil {
		t.Errorf("default server config %+v, %v", sc, err)
	}

	w, err := Warnings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w, "Passwords in clear") || !strings.Contains(w, fmt.Sprintf("line %d", 27)) || strings.Count(w, "Warning:") != 1 {
		t.Errorf("want one warning for the clear listener at line 27, got:\n%s", w)
	}
}

func TestListenerTLSErrors(t *testing.T) {
	const auth = "auth {\n  file = \"users.htpasswd\"\n}\n"
	tlsListener := func(lines ...string) string {
		return auth + "listener \"l\" {\n  address = \"127.0.0.1:2443\"\n  tls {\n" + strings.Join(lines, "\n") + "\n  }\n}\n"
	}
	const cert = "    cert = \"server.crt\"\n    key = \"server.key\""
	cases := []struct {
		name  string
		src   string // the line with the problem is marked "#!"
		field string // must appear in the message
		also  string // further text the message must hold
	}{
		{"unix listener", auth + "listener \"u\" {\n  network = \"unix\"\n  address = \"u.sock\"\n  tls { #!\n" + cert + "\n  }\n}\n", "tls", "unix listener cannot use TLS"},
		{"no cert", auth + "listener \"l\" {\n  address = \"127.0.0.1:2443\"\n  tls { #!\n    key = \"server.key\"\n  }\n}\n", "cert", "required"},
		{"cert file missing", tlsListener("    cert = \"nope.crt\" #!", "    key = \"server.key\""), "cert", "nope.crt"},
		{"key of another certificate", tlsListener("    cert = \"server.crt\" #!", "    key = \"other.key\""), "cert", "private key does not match"},
		{"expired", tlsListener("    cert = \"old.crt\" #!", "    key = \"old.key\""), "cert", "expired"},
		{"not valid yet", tlsListener("    cert = \"new.crt\" #!", "    key = \"new.key\""), "cert", "not valid before"},
		{"min_version", tlsListener(cert, "    min_version = \"1.1\" #!"), "min_version", `"1.2" or "1.3"`},
		{"client_auth", tlsListener(cert, "    client_auth = \"maybe\" #!"), "client_auth", "none, request or require"},
		{"require without CA", tlsListener(cert, "    client_auth = \"require\" #!"), "client_ca", "needs"},
		{"CA without client_auth", tlsListener(cert, "    client_ca = \"ca.crt\" #!"), "client_ca", `client_auth is "none"`},
		{"CA file without PEM", tlsListener(cert, "    client_ca = \"users.htpasswd\" #!", "    client_auth = \"request\""), "client_ca", "no PEM certificate"},
		{"login", tlsListener(cert, "    login = \"token\" #!"), "login", "password or certificate"},
		{"certificate login without client_auth", tlsListener(cert, "    login = \"certificate\" #!"), "login", "needs client certificates"},
		{"certificate_user", tlsListener(cert, "    client_ca = \"ca.crt\"", "    client_auth = \"request\"", "    login = \"certificate\"", "    certificate_user = \"uid\" #!"), "certificate_user", "common_name, email or dns"},
		{"certificate_user with password login", tlsListener(cert, "    certificate_user = \"dns\" #!"), "certificate_user", `set login = "certificate"`},
		{"insecure_plaintext with tls", auth + "listener \"l\" {\n  address = \"0.0.0.0:2443\"\n  insecure_plaintext = true #!\n  tls {\n" + cert + "\n  }\n}\n", "insecure_plaintext", "has a tls block"},
		{"insecure_plaintext on loopback", auth + "listener \"l\" {\n  address = \"127.0.0.1:2223\"\n  insecure_plaintext = true #!\n}\n", "Unused \"insecure_plaintext\"", "only from this machine"},
		{"insecure_plaintext on a unix socket", auth + "listener \"u\" {\n  network = \"unix\"\n  address = \"u.sock\"\n  insecure_plaintext = true #!\n}\n", "Unused \"insecure_plaintext\"", "only from this machine"},
		{"plain on all interfaces", auth + "listener \"l\" {\n  address = \":2223\" #!\n}\n", "address", "would cross the network in clear"},
		{"plain on 0.0.0.0", auth + "listener \"l\" {\n  network = \"tcp4\"\n  address = \"0.0.0.0:2223\" #!\n}\n", "address", "insecure_plaintext = true"},
		{"plain on ::", auth + "listener \"l\" {\n  network = \"tcp6\"\n  address = \"[::]:2223\" #!\n}\n", "address", "no tls block"},
		{"plain on a name", auth + "listener \"l\" {\n  address = \"example.com:2223\" #!\n}\n", "address", "not a loopback address"},
		{"plain, override false", auth + "listener \"l\" {\n  address = \"10.0.0.1:2223\" #!\n  insecure_plaintext = false\n}\n", "address", "in clear"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, path, err := loadWithTLSFiles(t, c.src)
			wantOneError(t, path, c.src, err, c.field, c.also)
		})
	}
}

// Loopback, unix and TLS listeners need no override in htpasswd mode.
func TestListenersWithoutPlaintextOverride(t *testing.T) {
	_, _, err := loadWithTLSFiles(t, `
auth {
  file = "users.htpasswd"
}
listener "loopback" {
  address = "127.0.0.1:2223"
}
listener "localhost" {
  network = "tcp6"
  address = "localhost:2224"
}
listener "unix" {
  network = "unix"
  address = "client.sock"
}
listener "public" {
  address = ":2443"
  tls {
    cert = "server.crt"
    key  = "server.key"
  }
}
`)
	if err != nil {
		t.Fatal(err)
	}
}
