// Command bester is the Bester client: it sends messages, listens for
// deliveries, shows a server live through its monitor endpoint, manages
// the users of an htpasswd file, makes development TLS certificates and
// measures a server under load.
//
//	bester send -addr 127.0.0.1:2223 -user T -password x -type relay '{"to":"G","body":"hello"}'
//	bester listen -addr 127.0.0.1:2223 -user G -password y
//	bester status -monitor 127.0.0.1:8223
//	bester useradd -file users.htpasswd G
//	bester certs dev -user T -user G
//	bester send -addr 127.0.0.1:2443 -ca certs/ca.crt -cert certs/T.crt -key certs/T.key -type relay '{"to":"G"}'
//	bester bench -spawn relay -duration 10s
//
// Credentials may come from BESTER_USER and BESTER_PASSWORD instead of
// flags, so that they do not show in the process list; the TLS flags
// from BESTER_TLS, BESTER_CA, BESTER_CERT, BESTER_KEY and
// BESTER_SERVER_NAME. Without TLS a password goes only over a UNIX socket
// or to a loopback address, unless -insecure-plaintext (or
// BESTER_INSECURE_PLAINTEXT) allows it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"
	"golang.org/x/term"

	"github.com/bester-project/bester/internal/cliapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, systemEnv())
	stop()
	os.Exit(code)
}

// env is what the commands touch outside their arguments, so that tests
// can give them other streams and a fake terminal.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stdinTerminal, stdoutTerminal and stderrTerminal tell whether
	// stdin, stdout and stderr are terminals.
	stdinTerminal, stdoutTerminal, stderrTerminal bool
	// readPassword reads one line from the terminal without echo.
	readPassword func() ([]byte, error)
	// rawInput puts the terminal of stdin in raw mode, so that keys
	// arrive one by one, and returns how to restore it.
	rawInput func() (restore func() error, err error)
}

// systemEnv is the env of the real process.
func systemEnv() *env {
	fd := int(os.Stdin.Fd())
	return &env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		stdinTerminal:  term.IsTerminal(fd),
		stdoutTerminal: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTerminal: term.IsTerminal(int(os.Stderr.Fd())),
		readPassword:   func() ([]byte, error) { return term.ReadPassword(fd) },
		rawInput: func() (func() error, error) {
			old, err := term.MakeRaw(fd)
			if err != nil {
				return nil, err
			}
			return func() error { return term.Restore(fd, old) }, nil
		},
	}
}

// exitCode ends the program with a status and no further message: the
// command has already printed what happened (a bad report, for one).
type exitCode int

// Error only matters to code that prints errors; run never does for it.
func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// run runs the command line args and returns the process exit status.
// Errors are printed here, once, as one line on stderr.
func run(ctx context.Context, args []string, e *env) int {
	err := newApp(e).Run(ctx, args)
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	default:
		fmt.Fprintln(e.stderr, "bester:", err)
		return 1
	}
}

// newApp builds the command tree around e.
func newApp(e *env) *cli.Command {
	return cliapp.Setup(&cli.Command{
		Name:      "bester",
		Usage:     "send messages to a Bester server, listen for deliveries, watch it live, manage users, make development certificates, measure a server under load",
		Writer:    e.stdout,
		ErrWriter: e.stderr,
		Commands:  []*cli.Command{sendCommand(e), listenCommand(e), statusCommand(e), useraddCommand(e), certsCommand(e), benchCommand(e)},
	})
}
