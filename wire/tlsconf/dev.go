package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DevValidity is how long development certificates are valid (one year).
const DevValidity = 365 * 24 * time.Hour

// CA is a certificate authority held in memory: the development CA that
// `bester certs dev` writes, and the throw-away CAs of tests.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// PEM is Cert in PEM, as a CA file holds it.
	PEM []byte
}

// NewCA makes a self-signed CA with an ECDSA P-256 key, valid from now for
// validFor.
func NewCA(name string, validFor time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key, PEM: pemBlock("CERTIFICATE", der)}, nil
}

// Leaf describes a certificate for CA.Issue to sign.
type Leaf struct {
	// CommonName is the subject's CN: for a client certificate, the
	// username by default.
	CommonName string
	// DNSNames, IPs and Emails are the subject alternative names.
	DNSNames []string
	IPs      []net.IP
	Emails   []string
	// Server and Client say what the certificate may be used for; a
	// certificate for a peer server is both.
	Server, Client bool
	// NotBefore and NotAfter bound its validity; zero values mean from a
	// minute ago for DevValidity.
	NotBefore, NotAfter time.Time
}

// Issue signs a new certificate with a fresh ECDSA P-256 key and returns
// both in PEM.
func (ca *CA) Issue(l Leaf) (certPEM, keyPEM []byte, err error) {
	if !l.Server && !l.Client {
		return nil, nil, errors.New("a certificate must be for a server, a client or both")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	if l.NotBefore.IsZero() {
		l.NotBefore = time.Now().Add(-time.Minute)
	}
	if l.NotAfter.IsZero() {
		l.NotAfter = l.NotBefore.Add(DevValidity)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial(),
		Subject:        pkix.Name{CommonName: l.CommonName},
		DNSNames:       l.DNSNames,
		IPAddresses:    l.IPs,
		EmailAddresses: l.Emails,
		NotBefore:      l.NotBefore,
		NotAfter:       l.NotAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
	}
	if l.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if l.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate for %q: %w", l.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER), nil
}

// KeyPEM is the CA's private key in PEM.
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	return pemBlock("PRIVATE KEY", der), nil
}

// LocalServer is the Leaf of a development server certificate: valid for
// localhost and the loopback addresses, for servers and, so that a peer
// server can present it too, for clients.
func LocalServer(name string) Leaf {
	return Leaf{CommonName: name, DNSNames: []string{"localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, Server: true, Client: true}
}

// WriteDev writes a development CA, a server certificate for this machine's
// loopback names and one client certificate per user into dir, and returns
// the paths written. It refuses to replace files that exist unless force
// is set. Private keys are written with mode 0600.
func WriteDev(dir string, users []string, force bool) ([]string, error) {
	ca, err := NewCA("Bester development CA", DevValidity)
	if err != nil {
		return nil, err
	}
	caKey, err := ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	files := []devFile{{"ca.crt", ca.PEM, 0o644}, {"ca.key", caKey, 0o600}}
	leaves := []struct {
		base string
		leaf Leaf
	}{{"server", LocalServer("localhost")}}
	for _, u := range users {
		if u == "" || filepath.Base(u) != u || u == "ca" || u == "server" {
			return nil, fmt.Errorf("user %q cannot name a certificate file; use a plain name other than ca and server", u)
		}
		leaves = append(leaves, struct {
			base string
			leaf Leaf
		}{u, Leaf{CommonName: u, Client: true}})
	}
	for _, l := range leaves {
		cert, key, err := ca.Issue(l.leaf)
		if err != nil {
			return nil, err
		}
		files = append(files, devFile{l.base + ".crt", cert, 0o644}, devFile{l.base + ".key", key, 0o600})
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if !force {
		for _, f := range files {
			if _, err := os.Lstat(filepath.Join(dir, f.name)); err == nil {
				return nil, fmt.Errorf("%s exists; remove it or use -force", filepath.Join(dir, f.name))
			}
		}
	}
	paths := make([]string, 0, len(files))
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := writeFile(path, f.data, f.mode); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// devFile is one file WriteDev writes.
type devFile struct {
	name string
	data []byte
	mode os.FileMode
}

// writeFile replaces path with data and mode. The data goes first into a
// temporary file of a random name that os.CreateTemp makes afresh with
// mode 0600, so that a key is never readable by others, not even for a
// moment, and a file or symbolic link planted beside path is neither
// followed nor reused; the rename then replaces path itself, never what a
// link there points to.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

// serial is a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil { // crypto/rand does not fail on Linux
		panic(err)
	}
	return n
}
