package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/internal/backoff"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// reconnectWait spaces out listen -reconnect's attempts: from 200 ms,
// doubling, up to 30 s, each with jitter so that many listeners of a
// restarted server do not all come back at once.
var reconnectWait = backoff.Backoff{Base: 200 * time.Millisecond, Max: 30 * time.Second}

func listenCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "listen",
		Usage: "print every message delivered to a user, until interrupted",
		Description: "Each delivery prints as one line, `from USER@SERVER type TYPE: DATA`, with DATA as JSON\n" +
			"(or CBOR diagnostic notation when it has no JSON form). SIGINT or SIGTERM ends it\n" +
			"with status 0. With -reconnect a lost connection is made again, with a growing delay\n" +
			"(200 ms doubling up to 30 s), and a line on standard error says so each time; deliveries\n" +
			"while no connection is up are not kept for the listener.",
		Flags: append(connectFlags(),
			&cli.BoolFlag{Name: "reconnect", Usage: "keep listening across server restarts: connect again when the connection is lost or refused"}),
		Action: func(ctx context.Context, cmd *cli.Command) error { return runListen(ctx, cmd, e) },
	}
}

// runListen prints what arrives until ctx ends or, without -reconnect,
// the connection ends.
func runListen(ctx context.Context, cmd *cli.Command, e *env) error {
	if cmd.NArg() > 0 {
		return fmt.Errorf("listen: unexpected argument %q", cmd.Args().First())
	}
	o, err := dialOptions(cmd, e.stderr)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		loggedIn, err := listenOnce(ctx, cmd, o, e)
		if err == nil || !cmd.Bool("reconnect") || refusedLogin(err) {
			return err
		}
		if loggedIn {
			attempt = 0 // a connection that worked starts the delays afresh
		}
		wait := reconnectWait.Delay(attempt)
		fmt.Fprintf(e.stderr, "bester: %v; reconnecting in %s\n", err, wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil // interrupted: a normal end
		case <-time.After(wait):
		}
	}
}

// listenOnce connects with o and prints what arrives until ctx ends
// (nil) or the connection ends; loggedIn tells whether it got that far.
func listenOnce(ctx context.Context, cmd *cli.Command, o client.Options, e *env) (loggedIn bool, err error) {
	c, err := dialWith(ctx, o)
	if err != nil {
		if ctx.Err() != nil {
			return false, nil // interrupted while connecting
		}
		return false, err
	}
	defer c.Close()
	fmt.Fprintf(e.stderr, "listening as %s on %s\n", loginName(cmd), o.Address)
	err = receiveLoop(ctx, c, e, func(in *client.Incoming) (bool, error) {
		fmt.Fprintln(e.stdout, messageLine(in, c.Codec()))
		return false, nil
	})
	switch {
	case ctx.Err() != nil:
		return true, nil // interrupted: a normal end
	case errors.Is(err, io.EOF):
		return true, errors.New("the server closed the connection")
	}
	return true, err
}

// refusedLogin tells whether err is the server refusing the credentials,
// which connecting again would not change. (A server shutting down or
// overloaded refuses with other codes, which pass.)
func refusedLogin(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Code == wire.CodeUnauthorized
}
