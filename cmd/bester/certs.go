package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/wire/tlsconf"
)

// Defaults of certs dev.
const (
	defaultCertsDir = "certs"
	// devTLSAddr is the address of the TLS listener certs dev suggests,
	// as config.hcl has it.
	devTLSAddr = "127.0.0.1:2443"
)

func certsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "certs",
		Usage: "make TLS certificates for trying TLS locally",
		Commands: []*cli.Command{{
			Name:  "dev",
			Usage: "write a development CA, a certificate for this machine's loopback server and one per -user",
			Description: "The server certificate is valid for localhost, 127.0.0.1 and ::1; each user's certificate\n" +
				"carries the user's name as its common name, for certificate logins. Everything is signed by a\n" +
				"new CA whose key is written too: for development only. Keys are written with mode 0600.\n" +
				"It prints the listener block to add to besterd's configuration and the client flags to use.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "dir", Value: defaultCertsDir, TakesFile: true, Usage: "directory to write the files in (created if missing)"},
				&cli.StringSliceFlag{Name: "user", Usage: "make a client certificate for this user (repeat for more)"},
				&cli.BoolFlag{Name: "force", Usage: "replace files that exist"},
			},
			Action: func(ctx context.Context, cmd *cli.Command) error { return runCertsDev(cmd, e) },
		}},
	}
}

func runCertsDev(cmd *cli.Command, e *env) error {
	if cmd.NArg() > 0 {
		return fmt.Errorf("certs dev: unexpected argument %q (users go with -user)", cmd.Args().First())
	}
	dir, users := cmd.String("dir"), cmd.StringSlice("user")
	paths, err := tlsconf.WriteDev(dir, users, cmd.Bool("force"))
	for _, p := range paths {
		fmt.Fprintln(e.stdout, "wrote", p)
	}
	if err != nil {
		return fmt.Errorf("certs dev: %w", err)
	}
	printDevUsage(e.stdout, dir, users)
	return nil
}

// printDevUsage shows where the files written into dir go: besterd's
// listener block and the clients' flags.
func printDevUsage(w io.Writer, dir string, users []string) {
	path := func(name string) string { return filepath.Join(dir, name) }
	relative := ""
	if !filepath.IsAbs(dir) {
		relative = " (paths are relative to the\nconfiguration file's directory; these fit a file in the current directory)"
	}
	fmt.Fprintf(w, `
%s signs certificates: keep it private. These files are for development only.

Add a TLS listener to besterd's configuration%s:

listener "tls" {
  network = "tcp4"
  address = %q
  tls {
    cert = %q
    key  = %q
  }
}

Clients trust the server's certificate with -ca:

  bester listen -addr %s -ca %s -user G
  bester send -addr %s -ca %s -user T -type relay '{"to":"G","body":"hello"}'
`, path("ca.key"), relative, devTLSAddr, path("server.crt"), path("server.key"),
		devTLSAddr, path("ca.crt"), devTLSAddr, path("ca.crt"))
	if len(users) == 0 {
		fmt.Fprintln(w, "\nFor certificate logins, run it again with -user NAME for each user (and -force).")
		return
	}
	u := users[0]
	fmt.Fprintf(w, `
For certificate logins, add to the tls block

    client_ca   = %q
    client_auth = "require"
    login       = "certificate"

and log in with a user's certificate instead of -user and a password:

  bester send -addr %s -ca %s -cert %s -key %s -type relay '{"to":"G","body":"hello"}'
`, path("ca.crt"), devTLSAddr, path("ca.crt"), path(u+".crt"), path(u+".key"))
}
