package actors

import (
	"crypto/tls"
	"errors"
	"math/big"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/tlsconf"
)

// replace puts data into the PKI's directory as name the way a
// certificate should be replaced: written aside, then renamed into place,
// so that nobody reads half a file.
func (p *testPKI) replace(name string, data []byte) {
	p.T.Helper()
	tmp := p.Path(name + ".new")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		p.T.Fatal(err)
	}
	if err := os.Rename(tmp, p.Path(name)); err != nil {
		p.T.Fatal(err)
	}
}

// replaceServer replaces server.crt and server.key with a new
// certificate of ca for J, and returns its serial number.
func (p *testPKI) replaceServer(ca *tlsconf.CA) *big.Int {
	p.T.Helper()
	cert, key, err := ca.Issue(tlsconf.LocalServer("J"))
	if err != nil {
		p.T.Fatal(err)
	}
	p.replace("server.key", key)
	p.replace("server.crt", cert)
	return parseCert(p.T, cert).SerialNumber
}

// serverSerial makes a new TLS connection to ts's "tls" listener and
// returns the serial number of the certificate it was shown.
func serverSerial(t *testing.T, ts *testServer, cfg *tls.Config) *big.Int {
	t.Helper()
	conn, err := ts.dialTLS(cfg)
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

// A reload (SIGHUP) gives new connections the new certificate and leaves
// open ones as they are; a changed file is noticed without one. A file
// that does not load keeps the old certificate and is logged, with the
// reason: once per change when noticed, as a rejected reload on SIGHUP.
func TestTLSReload(t *testing.T) {
	pki := newPKI(t, "first CA")
	second, err := tlsconf.NewCA("second CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pki.Write("both.crt", append(append([]byte{}, pki.CA.PEM...), second.PEM...))
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log}, pki.listener())
	trustBoth := pki.tlsConfig(ts, "")
	trustBoth.RootCAs = mustPool(t, pki.Path("both.crt"))

	open := ts.rawTLS(t, trustBoth, wire.CodecJSON)
	open.login("T")
	first := open.conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber

	// SIGHUP.
	next := pki.replaceServer(second)
	ts.Reload()
	if got := serverSerial(t, ts, trustBoth); got.Cmp(next) != 0 {
		t.Fatalf("after the reload a new connection got certificate %v, want %v", got, next)
	}
	open.dummy("after reload")
	if got := open.conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(first) != 0 {
		t.Fatalf("the open connection's certificate changed to %v", got)
	}
	wantLogged(t, log, "reload: TLS files tls")

	// A broken file on SIGHUP rejects the reload.
	pki.replace("server.crt", []byte("not a certificate"))
	ts.Reload()
	wantLogged(t, log, "reload rejected, the running configuration stays")
	wantLogged(t, log, "failed to find any PEM data")
	if got := serverSerial(t, ts, trustBoth); got.Cmp(next) != 0 {
		t.Fatalf("after a broken reload a new connection got certificate %v, want the old %v", got, next)
	}

	// A changed file, without SIGHUP.
	third := pki.replaceServer(pki.CA)
	eventually(t, "a new connection gets the changed certificate", func() bool {
		return serverSerial(t, ts, trustBoth).Cmp(third) == 0
	})

	// A key that is not the certificate's, without SIGHUP: logged once,
	// however many handshakes look.
	failures := func() int { return strings.Count(log.String(), "cannot use the new TLS files") }
	before := failures()
	cert, _, err := pki.CA.Issue(tlsconf.LocalServer("J"))
	if err != nil {
		t.Fatal(err)
	}
	pki.replace("server.crt", cert)
	eventually(t, "a handshake finds the broken change", func() bool {
		serverSerial(t, ts, trustBoth)
		return failures() > before
	})
	wantLogged(t, log, "private key does not match public key")
	for deadline := time.Now().Add(3 * tlsCheckInterval); time.Now().Before(deadline); {
		if got := serverSerial(t, ts, trustBoth); got.Cmp(third) != 0 {
			t.Fatalf("a new connection got certificate %v, want the last good one, %v", got, third)
		}
		time.Sleep(tlsCheckInterval / 4)
	}
	if n := failures() - before; n != 1 {
		t.Fatalf("one broken change was logged %d times", n)
	}
	open.dummy("at the end")
}

// Removing a CA from client_ca and reloading refuses its certificates to
// new connections; connections open already stay, and certificates of
// the CAs that are left still log in.
func TestTLSRevokeClientCA(t *testing.T) {
	pki := newPKI(t, "kept CA")
	pki.user("G")
	dropped := newPKI(t, "dropped CA")
	dropped.user("T")
	pki.Write("T.crt", readFile(t, dropped.Path("T.crt")))
	pki.Write("T.key", readFile(t, dropped.Path("T.key")))
	pki.Write("clients.crt", append(append([]byte{}, pki.CA.PEM...), dropped.CA.PEM...))
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log}, pki.listener(
		`    client_ca   = "`+pki.Path("clients.crt")+`"`,
		`    client_auth = "require"`,
		`    login       = "certificate"`))

	open := ts.rawTLS(t, pki.tlsConfig(ts, "T"), wire.CodecCBOR)
	open.send(clientHello)
	wantGood(t, open.expectReport(wire.IDAuth))

	pki.replace("clients.crt", pki.CA.PEM)
	ts.Reload()
	err := tlsLogin(ts, presentAnyway(pki.tlsConfig(ts, "T")))
	if err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Fatalf("T's certificate after its CA was dropped: %v, want unknown certificate authority", err)
	}
	wantLogged(t, log, "TLS handshake failed", "signed by unknown authority")
	open.dummy("still open")
	g := ts.rawTLS(t, pki.tlsConfig(ts, "G"), wire.CodecCBOR)
	g.send(clientHello)
	wantGood(t, g.expectReport(wire.IDAuth))
}

// A key file whose permissions alone are fixed is read again without
// SIGHUP: chmod changes neither its content nor its inode, only its
// change time. (Run by root, the unreadable key loads anyway; the chmod
// still has to make a handshake read the files again.)
func TestTLSReloadAfterChmod(t *testing.T) {
	pki := newPKI(t, "test CA")
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log}, pki.listener())
	cfg := pki.tlsConfig(ts, "")
	loads := func() int { return strings.Count(log.String(), "TLS files loaded for new connections") }
	looks := func() int { return loads() + strings.Count(log.String(), "cannot use the new TLS files") }

	// A new certificate and key, the key unreadable but to root.
	before := looks()
	cert, key, err := pki.CA.Issue(tlsconf.LocalServer("J"))
	if err != nil {
		t.Fatal(err)
	}
	keyPath := pki.Path("server.key")
	pki.replace("server.key", key)
	if err := os.Chmod(keyPath, 0); err != nil {
		t.Fatal(err)
	}
	pki.replace("server.crt", cert)
	eventually(t, "a handshake reads the new files", func() bool {
		serverSerial(t, ts, cfg)
		return looks() > before
	})
	if _, err := os.ReadFile(keyPath); errors.Is(err, os.ErrPermission) {
		wantLogged(t, log, "cannot use the new TLS files", "permission denied")
	}

	before = loads()
	unreadable := changeTime(t, keyPath)
	for changeTime(t, keyPath) == unreadable { // until the clock the file system stamps with moved on
		if err := os.Chmod(keyPath, 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	next := parseCert(t, cert).SerialNumber
	eventually(t, "a handshake after the chmod reads the files again", func() bool {
		return serverSerial(t, ts, cfg).Cmp(next) == 0 && loads() > before
	})
}

// changeTime is the change time stat gives path, in Unix nanoseconds.
func changeTime(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ctim.Nano()
}
