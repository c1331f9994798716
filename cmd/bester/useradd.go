package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/actors/auth"
)

// maxPasswordLine bounds the line read from a non-terminal stdin, in
// bytes; bcrypt uses at most 72 of them anyway.
const maxPasswordLine = 4 << 10

func useraddCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "useradd",
		Usage: "add a user to an htpasswd file, or change a user's password",
		Description: "The password is read twice from the terminal without echo, or, when standard input\n" +
			"is not a terminal, as its first line. It is stored as a bcrypt hash.",
		ArgsUsage: "USER",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Required: true, TakesFile: true, Usage: "htpasswd file to change (created if missing)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error { return runUseradd(cmd, e) },
	}
}

func runUseradd(cmd *cli.Command, e *env) error {
	if cmd.NArg() != 1 {
		return fmt.Errorf("useradd: want exactly one USER, got %d arguments", cmd.NArg())
	}
	user, path := cmd.Args().First(), cmd.String("file")
	password, err := newPassword(user, e)
	if err != nil {
		return err
	}
	if err := auth.SetPassword(path, user, password); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(e.stdout, "password of %s set in %s\n", user, path)
	return nil
}

// newPassword asks the terminal twice, or reads stdin's first line.
func newPassword(user string, e *env) (string, error) {
	if !e.stdinTerminal {
		line, err := bufio.NewReaderSize(io.LimitReader(e.stdin, maxPasswordLine), maxPasswordLine).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		password := strings.TrimRight(line, "\r\n")
		if password == "" {
			return "", errors.New("no password on the first line of standard input")
		}
		return password, nil
	}
	first, err := prompt(e, fmt.Sprintf("New password for %s: ", user))
	if err != nil {
		return "", err
	}
	if first == "" {
		return "", errors.New("the password is empty")
	}
	second, err := prompt(e, "Retype the password: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("the passwords do not match")
	}
	return first, nil
}

// prompt reads one password from the terminal; the prompt goes to stderr
// so that stdout stays clean.
func prompt(e *env, text string) (string, error) {
	fmt.Fprint(e.stderr, text)
	b, err := e.readPassword()
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(b), nil
}
