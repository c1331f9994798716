package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
)

// Client names the files a connecting side uses: the CAs it trusts and,
// for mutual TLS, its own certificate.
type Client struct {
	// CA is a PEM file of the certificate authorities whose server
	// certificates are trusted; empty means the system's.
	CA string
	// Cert and Key are a PEM certificate and its private key, presented
	// when the server asks for one; both or neither.
	Cert, Key string
	// ServerName is the name the server's certificate must carry; empty
	// means the host of the address dialled.
	ServerName string
}

// Enabled reports whether any TLS setting was given.
func (c Client) Enabled() bool { return c != Client{} }

// Config builds the client's *tls.Config for a connection to address
// (host:port). It refuses TLS versions below 1.2.
func (c Client) Config(address string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			host = address
		}
		cfg.ServerName = host
	}
	if c.CA != "" {
		pool, err := LoadPool(c.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	switch {
	case c.Cert != "" && c.Key != "":
		pair, err := LoadKeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	case c.Cert != "" || c.Key != "":
		return nil, errors.New("a client certificate needs both its certificate and its key file")
	}
	return cfg, nil
}

// LoadPool reads a PEM file of CA certificates. A file that holds none is
// an error, not an empty pool that would trust nothing in silence.
func LoadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// LoadKeyPair reads a PEM certificate (chain) and its private key, and
// parses the leaf so that its validity can be checked without parsing it
// again.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load certificate %s with key %s: %w", certFile, keyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("parse certificate %s: %w", certFile, err)
		}
	}
	return pair, nil
}
