package actors

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
)

// certificateUser is the name a certificate login takes from the
// client's verified certificate. ok is false when there is no such login:
// the listener logs in by password, or the client presented no
// certificate (where client_auth is request), and then logs in by
// password. A certificate with no usable name is refused.
func (r *connReader) certificateUser() (user string, refusal *wire.Error, ok bool) {
	if r.tls == nil || r.tls.settings.Login != config.LoginCertificate {
		return "", nil, false
	}
	chains := r.conn.(*tls.Conn).ConnectionState().VerifiedChains
	if len(chains) == 0 {
		return "", nil, false
	}
	name, err := certificateName(chains[0][0], r.tls.settings.CertificateUser)
	if err != nil {
		return "", wire.Errorf(wire.CodeUnauthorized, "the client certificate names no usable user: %v", err), true
	}
	return name, nil, true
}

// loginByCertificate logs a client in as user, its certificate's name. A
// first message may still carry authentication: its username must then
// be user, and its password is not checked.
func (r *connReader) loginByCertificate(user string, creds *wire.Credentials) *wire.Error {
	if creds != nil && creds.Username != user {
		return wire.Errorf(wire.CodeUnauthorized,
			"username %q is not the name of the client certificate, %q", creds.Username, user)
	}
	r.user = user
	return nil
}

// checkPeerCertificate refuses a peer server whose verified certificate,
// on a listener that logs in by certificate, names another server than
// the one it authenticated as.
func (r *connReader) checkPeerCertificate(peer string) *wire.Error {
	name, refusal, ok := r.certificateUser()
	switch {
	case !ok:
		return nil
	case refusal != nil:
		r.strangerLogs.Warn(r.logger(), "peer server refused: its certificate names no server", "peer", peer, "detail", refusal.Detail)
		return refusal
	case name != peer:
		r.strangerLogs.Warn(r.logger(), "peer server refused: its certificate names another server", "peer", peer, "certificate", name)
		return wire.Errorf(wire.CodeUnauthorized, "the client certificate names %q, not peer %q", name, peer)
	}
	return nil
}

// certificateName reads the name certificate_user chooses from cert and
// checks that it can be a username.
func certificateName(cert *x509.Certificate, which config.CertificateUser) (string, error) {
	var name string
	switch which {
	case config.CertificateUserEmail:
		if len(cert.EmailAddresses) == 0 {
			return "", errors.New("it has no email address among its subject alternative names")
		}
		name = cert.EmailAddresses[0]
	case config.CertificateUserDNS:
		if len(cert.DNSNames) == 0 {
			return "", errors.New("it has no DNS name among its subject alternative names")
		}
		name = cert.DNSNames[0]
	default:
		// Go keeps the last of several; which one was meant is anyone's guess.
		if n := commonNames(cert.Subject); n > 1 {
			return "", fmt.Errorf("its subject has %d common names, not one", n)
		}
		name = cert.Subject.CommonName
	}
	switch {
	case name == "":
		return "", fmt.Errorf("its %s is empty", which)
	case len(name) > wire.MaxNameLength:
		return "", fmt.Errorf("its %s is longer than %d bytes", which, wire.MaxNameLength)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("its %s is not valid UTF-8", which)
	}
	return name, nil
}

// oidCommonName is the X.500 attribute type of a common name (CN).
var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// commonNames counts the common names among the attributes of subject,
// as parsed from a certificate.
func commonNames(subject pkix.Name) int {
	n := 0
	for _, attr := range subject.Names {
		if attr.Type.Equal(oidCommonName) {
			n++
		}
	}
	return n
}
