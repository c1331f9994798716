package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/wire/tlsconf"
)

// Environment variables that stand in for the TLS flags.
const (
	envTLS        = "BESTER_TLS"
	envCA         = "BESTER_CA"
	envCert       = "BESTER_CERT"
	envKey        = "BESTER_KEY"
	envServerName = "BESTER_SERVER_NAME"
	// envInsecurePlaintext stands in for -insecure-plaintext.
	envInsecurePlaintext = "BESTER_INSECURE_PLAINTEXT"
)

// tlsFlags are the flags that make a command's connections TLS, or let
// a password go without it; each call returns fresh flags.
func tlsFlags() []cli.Flag {
	return append(serverTLSFlags("-addr", "a server that asks for one (it can stand for -user and -password)"),
		&cli.BoolFlag{Name: "insecure-plaintext", Sources: cli.EnvVars(envInsecurePlaintext),
			Usage: "send the password without TLS to a server that is not on loopback, across the network in clear"})
}

// serverTLSFlags are the flags that make a command's connections TLS;
// addrFlag names the flag of the address, certFor says who asks for a
// client certificate and what it does.
func serverTLSFlags(addrFlag, certFor string) []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "tls", Sources: cli.EnvVars(envTLS),
			Usage: "connect with TLS (implied by -ca, -cert, -key and -server-name)"},
		&cli.StringFlag{Name: "ca", Sources: cli.EnvVars(envCA), TakesFile: true,
			Usage: "PEM file of the CAs trusted to sign the server's certificate (default: the system's)"},
		&cli.StringFlag{Name: "cert", Sources: cli.EnvVars(envCert), TakesFile: true,
			Usage: "PEM client certificate, for " + certFor},
		&cli.StringFlag{Name: "key", Sources: cli.EnvVars(envKey), TakesFile: true,
			Usage: "PEM private key of -cert"},
		&cli.StringFlag{Name: "server-name", Sources: cli.EnvVars(envServerName),
			Usage: "name the server's certificate must carry (default: the host of " + addrFlag + ")"},
	}
}

// tlsFiles is what the TLS flags of cmd name, and whether they ask for
// TLS at all.
func tlsFiles(cmd *cli.Command) (files tlsconf.Client, on bool) {
	files = tlsconf.Client{CA: cmd.String("ca"), Cert: cmd.String("cert"), Key: cmd.String("key"),
		ServerName: cmd.String("server-name")}
	return files, cmd.Bool("tls") || files.Enabled()
}

// tlsConfig is the TLS of cmd's connections to addr: nil when the flags
// ask for none.
func tlsConfig(cmd *cli.Command, addr string) (*tls.Config, error) {
	files, on := tlsFiles(cmd)
	if !on {
		return nil, nil
	}
	cfg, err := files.Config(addr)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return cfg, nil
}

// plainListenerAlert is how crypto/tls words the alert a plain Bester
// listener answers a TLS handshake with (protocol_version); the alert's
// type is not exported, so its text is all there is to match.
const plainListenerAlert = "tls: protocol version not supported"

// withTLSHint adds to a failed connection's error which flag sets what
// the TLS handshake refused.
func withTLSHint(err error) error {
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, new(x509.UnknownAuthorityError)):
		return fmt.Errorf("%w (-ca names the file of the CA that signed the server's certificate)", err)
	case errors.As(err, new(x509.HostnameError)):
		return fmt.Errorf("%w (-server-name sets the name to check)", err)
	case errors.As(err, &record):
		return fmt.Errorf("%w (is this a TLS listener?)", err)
	case strings.Contains(err.Error(), plainListenerAlert):
		return fmt.Errorf("%w (a plain listener answers TLS with this alert: is this a TLS listener?)", err)
	}
	return err
}
