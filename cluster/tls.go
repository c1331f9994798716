package cluster

import (
	"crypto/tls"
	"crypto/x509"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// MemberTLS is mutual TLS between members. Without it protoactor's remote
// layer speaks plaintext gRPC, and anything that reaches a member's port
// can send any message to any of its named actors.
type MemberTLS struct {
	// Certificate is presented both to members that dial this one and to
	// the members it dials, so it must be valid for the advertised host
	// and for client authentication.
	Certificate tls.Certificate
	// CAs are the authorities that signed the members' certificates: a
	// peer whose certificate they do not verify is refused both ways.
	CAs *x509.CertPool
}

// credentials are the gRPC server's and the dialler's transport
// credentials for m.
func (m *MemberTLS) credentials() (grpc.ServerOption, grpc.DialOption) {
	server := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{m.Certificate},
		ClientCAs:    m.CAs,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	client := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{m.Certificate},
		RootCAs:      m.CAs,
	}
	return grpc.Creds(credentials.NewTLS(server)), grpc.WithTransportCredentials(credentials.NewTLS(client))
}
