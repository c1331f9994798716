// Package testpki makes a certificate authority for one test and writes
// it, and the certificates it issues, as PEM files in the test's own
// temporary directory: the files a server or client is configured with.
// Private keys exist only there, never in the repository.
package testpki

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bester-project/bester/wire/tlsconf"
)

// PKI is a CA and the directory of its files: ca.crt, and a NAME.crt and
// NAME.key for each certificate issued.
type PKI struct {
	T   testing.TB
	Dir string
	CA  *tlsconf.CA
}

// New makes a CA named name and writes its certificate as ca.crt into a
// temporary directory of the test's.
func New(t testing.TB, name string) *PKI {
	t.Helper()
	return NewIn(t, name, t.TempDir())
}

// NewIn is New writing into dir, for files that must sit beside others,
// such as a configuration file's.
func NewIn(t testing.TB, name, dir string) *PKI {
	t.Helper()
	ca, err := tlsconf.NewCA(name, tlsconf.DevValidity)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{T: t, Dir: dir, CA: ca}
	p.Write("ca.crt", ca.PEM)
	return p
}

// Path is the absolute path of one of the PKI's files.
func (p *PKI) Path(name string) string { return filepath.Join(p.Dir, name) }

// Write puts data into the PKI's directory as name, readable by its owner
// only.
func (p *PKI) Write(name string, data []byte) {
	p.T.Helper()
	if err := os.WriteFile(p.Path(name), data, 0o600); err != nil {
		p.T.Fatal(err)
	}
}

// Issue signs leaf and writes it as base.crt and base.key.
func (p *PKI) Issue(base string, leaf tlsconf.Leaf) {
	p.T.Helper()
	cert, key, err := p.CA.Issue(leaf)
	if err != nil {
		p.T.Fatal(err)
	}
	p.Write(base+".crt", cert)
	p.Write(base+".key", key)
}
