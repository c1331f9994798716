package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// Defaults of the connection flags.
const (
	// defaultAddr is the TCP listener of the default configuration.
	defaultAddr = "127.0.0.1:2223"
	// defaultTimeout bounds connecting and authenticating (10 s); for
	// send it also bounds the wait for the report.
	defaultTimeout = 10 * time.Second
)

// Environment variables that stand in for flags.
const (
	envAddr     = "BESTER_ADDR"
	envUser     = "BESTER_USER"
	envPassword = "BESTER_PASSWORD"
)

// connectFlags are the flags of every command that talks to a server;
// each call returns fresh flags, since a flag holds its parsed value.
func connectFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "addr", Value: defaultAddr, Sources: cli.EnvVars(envAddr),
			Usage: "server address: host:port, or with -network unix a socket path (default there: $TMPDIR/bester-UID/client.sock, the default configuration's)"},
		&cli.StringFlag{Name: "network", Value: client.DefaultNetwork,
			Usage: "tcp, tcp4, tcp6 or unix"},
		&cli.StringFlag{Name: "user", Sources: cli.EnvVars(envUser),
			Usage: "username to authenticate as"},
		&cli.StringFlag{Name: "password", Sources: cli.EnvVars(envPassword),
			Usage: "password (prefer the environment variable: flags show in the process list)"},
		&cli.StringFlag{Name: "codec", Value: wire.CodecCBOR.String(),
			Usage: "codec to speak: cbor or json"},
		&cli.DurationFlag{Name: "timeout", Value: defaultTimeout,
			Usage: "how long to wait for the server"},
	}, tlsFlags()...)
}

// dial connects and authenticates as the flags of cmd say; warnings go
// to w.
func dial(ctx context.Context, cmd *cli.Command, w io.Writer) (*client.Client, error) {
	o, err := dialOptions(cmd, w)
	if err != nil {
		return nil, err
	}
	return dialWith(ctx, o)
}

// dialWith connects and authenticates with o, which dialOptions made.
func dialWith(ctx context.Context, o client.Options) (*client.Client, error) {
	c, err := client.Dial(ctx, o)
	if err != nil {
		return nil, withTLSHint(err)
	}
	return c, nil
}

// dialOptions checks the connection flags of cmd and turns them into
// client options; warnings go to w.
func dialOptions(cmd *cli.Command, w io.Writer) (client.Options, error) {
	codec, err := wire.ParseCodec(cmd.String("codec"))
	if err != nil || codec == wire.CodecAuto {
		return client.Options{}, fmt.Errorf("-codec %q: want cbor or json", cmd.String("codec"))
	}
	addr := serverAddress(cmd)
	tlsCfg, err := tlsConfig(cmd, addr)
	if err != nil {
		return client.Options{}, err
	}
	user := cmd.String("user")
	if user == "" && cmd.String("cert") == "" {
		return client.Options{}, fmt.Errorf("no user: give -user or set %s, or log in by certificate with -cert and -key", envUser)
	}
	return allowPlaintext(cmd, client.Options{
		Network:  cmd.String("network"),
		Address:  addr,
		TLS:      tlsCfg,
		Codec:    codec,
		Username: user,
		Password: cmd.String("password"),
		Timeout:  cmd.Duration("timeout"),
	}, "-addr", w)
}

// serverAddress is the -addr of cmd or, with -network unix and no -addr,
// the socket of the default configuration's unix listener: -addr's
// default is a TCP address, which a UNIX socket cannot be.
func serverAddress(cmd *cli.Command) string {
	if cmd.String("network") == "unix" && !cmd.IsSet("addr") {
		return config.DefaultClientSocket()
	}
	return cmd.String("addr")
}

// loginName says whom the flags of cmd log in as, for people.
func loginName(cmd *cli.Command) string {
	if user := cmd.String("user"); user != "" {
		return user
	}
	return "the user of " + cmd.String("cert")
}
