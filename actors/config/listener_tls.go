package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/bester-project/bester/wire/tlsconf"
)

// tlsVersions are the min_version values and what they mean.
var tlsVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// listenerTLS checks a listener's `tls` block, fills its defaults and
// loads its files, so that a certificate that cannot be used stops the
// server at start with the file and line that name it.
func (c *checker) listenerTLS(r *rawListenerTLS, network string) *ListenerTLS {
	t := &ListenerTLS{MinVersion: DefaultTLSMinVersion, ClientAuth: DefaultClientAuth,
		Login: DefaultLogin, CertificateUser: DefaultCertificateUser}
	if network == networkUnix {
		c.errorf(r.DefRange, `Unexpected "tls" block`,
			"A unix listener cannot use TLS: its socket file's permissions already keep other users out. Remove the tls block or listen on TCP.")
		return t
	}
	if r.MinVersion != nil {
		v, ok := tlsVersions[*r.MinVersion]
		if !ok {
			c.errorf(r.MinVersionRange, `Invalid "min_version"`, `Unknown TLS version %q; use "1.2" or "1.3".`, *r.MinVersion)
		}
		t.MinVersion = v
	}
	if r.ClientAuth != nil {
		t.ClientAuth = ClientAuth(*r.ClientAuth)
		if t.ClientAuth != ClientAuthNone && t.ClientAuth != ClientAuthRequest && t.ClientAuth != ClientAuthRequire {
			c.errorf(r.ClientAuthRange, `Invalid "client_auth"`, "Unknown client_auth %q; use none, request or require.", *r.ClientAuth)
		}
	}
	if r.Login != nil {
		t.Login = Login(*r.Login)
		if t.Login != LoginPassword && t.Login != LoginCertificate {
			c.errorf(r.LoginRange, `Invalid "login"`, "Unknown login %q; use password or certificate.", *r.Login)
		}
	}
	if r.CertificateUser != nil {
		t.CertificateUser = CertificateUser(*r.CertificateUser)
		switch t.CertificateUser {
		case CertificateUserCommonName, CertificateUserEmail, CertificateUserDNS:
		default:
			c.errorf(r.CertificateUserRange, `Invalid "certificate_user"`,
				"Unknown certificate_user %q; use common_name, email or dns.", *r.CertificateUser)
		}
	}
	c.tlsCombination(r, t)
	c.tlsFiles(r, t)
	return t
}

// tlsCombination refuses settings that would be ignored or could not
// work together: a client CA nobody is asked to match, a client
// certificate asked for with no CA to check it, a certificate login
// without certificates.
func (c *checker) tlsCombination(r *rawListenerTLS, t *ListenerTLS) {
	asks := t.ClientAuth == ClientAuthRequest || t.ClientAuth == ClientAuthRequire
	switch {
	case asks && r.ClientCA == nil:
		c.errorf(r.ClientAuthRange, `Missing "client_ca"`,
			`client_auth = %q needs "client_ca", the CAs a client certificate must chain to.`, t.ClientAuth)
	case !asks && r.ClientCA != nil:
		c.errorf(r.ClientCARange, `Unused "client_ca"`,
			`"client_ca" is set but client_auth is "none", so no client certificate is asked for. Set client_auth = "request" or "require", or remove client_ca.`)
	}
	if t.Login == LoginCertificate && !asks {
		c.errorf(r.LoginRange, `Invalid "login"`,
			`login = "certificate" needs client certificates: set client_auth = "request" (clients without one log in by password) or "require".`)
	}
	if r.CertificateUser != nil && t.Login != LoginCertificate {
		c.errorf(r.CertificateUserRange, `Unused "certificate_user"`,
			`"certificate_user" names the username of a certificate login; set login = "certificate" or remove it.`)
	}
}

// tlsFiles resolves the block's paths and checks that they load.
func (c *checker) tlsFiles(r *rawListenerTLS, t *ListenerTLS) {
	certOK := c.required(r.Cert, r.CertRange, "cert")
	keyOK := c.required(r.Key, r.KeyRange, "key")
	t.Cert, t.Key = under(c.dir, r.Cert), under(c.dir, r.Key)
	if certOK && keyOK {
		if _, err := validKeyPair(t.Cert, t.Key, time.Now()); err != nil {
			c.errorf(r.CertRange, `Invalid "cert"`, "The certificate cannot be used: %v.", err)
		}
	}
	if r.ClientCA != nil && c.required(*r.ClientCA, r.ClientCARange, "client_ca") {
		t.ClientCA = under(c.dir, *r.ClientCA)
		if _, err := t.clientCAs(); err != nil {
			c.errorf(r.ClientCARange, `Invalid "client_ca"`, "The client CA file cannot be used: %v.", err)
		}
	}
}

// ServerConfig reads the listener's files and returns the settings of a
// TLS server that uses them. It refuses a certificate that is not valid
// now. Session tickets are off: a resumed TLS 1.3 session still makes a
// key exchange and was measured no faster than a full handshake, while
// tickets cost a message after every handshake and a ticket key, kept
// and rotated in memory, whose theft would expose the TLS 1.2 sessions it
// sealed (their tickets hold the session's master secret).
func (t *ListenerTLS) ServerConfig() (*tls.Config, error) {
	pair, err := validKeyPair(t.Cert, t.Key, time.Now())
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		Certificates:           []tls.Certificate{pair},
		MinVersion:             t.MinVersion,
		ClientAuth:             t.ClientAuth.tlsMode(),
		SessionTicketsDisabled: true,
	}
	if cfg.ClientCAs, err = t.clientCAs(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// validKeyPair loads a certificate and its key, and checks that the
// certificate is valid at now.
func validKeyPair(certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	pair, err := tlsconf.LoadKeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := validAt(pair.Leaf, now); err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate %s: %w", certFile, err)
	}
	return pair, nil
}

// clientCAs loads the client CA file; nil when there is none.
func (t *ListenerTLS) clientCAs() (*x509.CertPool, error) {
	if t.ClientCA == "" {
		return nil, nil
	}
	return tlsconf.LoadPool(t.ClientCA)
}

// validAt says why cert is not valid at now, if it is not.
func validAt(cert *x509.Certificate, now time.Time) error {
	switch {
	case now.After(cert.NotAfter):
		return fmt.Errorf("it expired at %s", cert.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(cert.NotBefore):
		return fmt.Errorf("it is not valid before %s", cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// tlsMode is the crypto/tls setting for a client_auth value.
func (a ClientAuth) tlsMode() tls.ClientAuthType {
	switch a {
	case ClientAuthRequest:
		return tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		return tls.RequireAndVerifyClientCert
	}
	return tls.NoClientCert
}
