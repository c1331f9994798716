package actors

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/tlsconf"
)

// peerCerts are the TLS files of a federation test, made for it in a
// directory of its own: a CA, K's server certificate (for loopback, named
// localhost), J's client certificate, and a CA that signed neither.
type peerCerts struct{ dir string }

func newPeerCerts(t *testing.T) *peerCerts {
	t.Helper()
	ca, err := tlsconf.NewCA("federation test CA", tlsconf.DevValidity)
	if err != nil {
		t.Fatal(err)
	}
	other, err := tlsconf.NewCA("another CA", tlsconf.DevValidity)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"ca.crt": ca.PEM, "other-ca.crt": other.PEM}
	for base, leaf := range map[string]tlsconf.Leaf{"k": tlsconf.LocalServer("K"), "j": {CommonName: "J", Client: true}} {
		cert, key, err := ca.Issue(leaf)
		if err != nil {
			t.Fatal(err)
		}
		files[base+".crt"], files[base+".key"] = cert, key
	}
	c := &peerCerts{dir: t.TempDir()}
	for name, data := range files {
		if err := os.WriteFile(c.path(name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// path is the absolute path of one of the files.
func (c *peerCerts) path(name string) string { return filepath.Join(c.dir, name) }

// peerTLS is a peer's tls block; attrs are its lines, such as `ca = "..."`.
func peerTLS(attrs ...string) string {
	return "  tls {\n    " + strings.Join(attrs, "\n    ") + "\n  }"
}

// A peer link whose TLS files cannot be read fails each attempt with the
// reason, logged at warn level only now and then, and backs off; messages
// for the peer get peer_unavailable, one report each.
func TestPeerTLSFilesUnreadable(t *testing.T) {
	certs := newPeerCerts(t)
	log := &logBuffer{}
	j := startServerWith(t, serverOptions{name: "J", log: log}, fedHandlers()+peerBlock("K", freeAddr(t), fedSecret,
		`  backoff_min = "5ms"`, `  backoff_max = "20ms"`, `  timeout = "500ms"`,
		peerTLS(fmt.Sprintf("ca = %q", certs.path("ca.crt")))))
	if err := os.Remove(certs.path("ca.crt")); err != nil { // after the configuration was checked
		t.Fatal(err)
	}
	tj := j.dial("T", wire.CodecJSON)
	ids := []string{"m1", "m2"}
	for _, id := range ids {
		if err := tj.Send("relay", id, map[string]any{"to": "G@K", "body": id}); err != nil {
			t.Fatal(err)
		}
	}
	collectReports(t, tj, wire.CodePeerUnavailable, ids...)
	echoWorks(t, tj, "h", "after")

	const reason = "TLS settings: read CA file"
	var st *PeerState
	eventually(t, "the reason in the peer's state", func() bool {
		st = j.peerState("K")
		return strings.Contains(st.LastError, reason)
	})
	if !st.TLS || st.State == stateUp || st.Connects != 0 {
		t.Fatalf("peer state %+v", st)
	}
	// The same failure again and again is a warning the first time and
	// every tenth attempt, a debug line otherwise.
	var failures, warned int
	eventually(t, "30 attempts", func() bool {
		failures, warned = 0, 0
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, "cannot connect to peer") && strings.Contains(line, reason) {
				failures++
				if strings.Contains(line, "[WARN]") {
					warned++
				}
			}
		}
		return failures >= 30
	})
	if warned == 0 || warned > failures/peerLogEvery+2 {
		t.Fatalf("%d of %d failures logged at warn level", warned, failures)
	}
}

// A plain peer off loopback is accepted where insecure_plaintext allows
// it, with a warning at start; the state says the link is not TLS.
func TestPeerInsecurePlaintext(t *testing.T) {
	const far = "192.0.2.1:2323" // TEST-NET-1: never answers
	log := &logBuffer{}
	j := startServerWith(t, serverOptions{name: "J", log: log},
		fedHandlers()+peerBlock("K", far, fedSecret, `  insecure_plaintext = true`))
	eventually(t, "the warning", func() bool {
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, "[WARN]") && strings.Contains(line, "INSECURE") &&
				strings.Contains(line, "in clear") && strings.Contains(line, far) {
				return true
			}
		}
		return false
	})
	if st := j.peerState("K"); st.TLS || st.Address != far {
		t.Fatalf("peer state %+v", st)
	}
}
