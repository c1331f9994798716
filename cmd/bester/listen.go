package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/wire/client"
)

func listenCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "listen",
		Usage: "print every message delivered to a user, until interrupted",
		Description: "Each delivery prints as one line, `from USER@SERVER type TYPE: DATA`, with DATA as JSON\n" +
			"(or CBOR diagnostic notation when it has no JSON form). SIGINT or SIGTERM ends it\n" +
			"with status 0.",
		Flags:  connectFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error { return runListen(ctx, cmd, e) },
	}
}

// runListen prints what arrives until ctx ends or the server hangs up.
func runListen(ctx context.Context, cmd *cli.Command, e *env) error {
	if cmd.NArg() > 0 {
		return fmt.Errorf("listen: unexpected argument %q", cmd.Args().First())
	}
	c, err := dial(ctx, cmd, e.stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(e.stderr, "listening as %s on %s\n", loginName(cmd), serverAddress(cmd))
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	for {
		in, err := c.Receive()
		switch {
		case errors.Is(err, client.ErrUndecodable):
			fmt.Fprintln(e.stderr, "bester: skipped:", err)
			continue
		case err != nil && ctx.Err() != nil:
			return nil // interrupted: a normal end
		case errors.Is(err, io.EOF):
			return errors.New("the server closed the connection")
		case err != nil:
			return err
		}
		fmt.Fprintln(e.stdout, messageLine(in, c.Codec()))
	}
}
