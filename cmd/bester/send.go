package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// defaultID is the message id send uses when -id is not given.
const defaultID = "m-1"

// maxStdinData bounds DATA read from standard input ("-"), in bytes; the
// server would refuse a larger frame anyway.
const maxStdinData = wire.DefaultMaxFrame

func sendCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "send",
		Usage: "send one message and print its status report",
		Description: "DATA is a JSON text (or - to read it from standard input), converted to the codec\n" +
			"spoken. The report prints as `good ID` or `bad ID CODE: DETAIL [UNDELIVERED]`;\n" +
			"a bad report makes the exit status 1. With -wait-reply, the deliveries to this connection\n" +
			"(the sender's answers) print after the report as listen prints them, until the time after\n" +
			"the report has passed or -replies have come.",
		ArgsUsage: "[DATA]",
		Flags: append(connectFlags(),
			&cli.StringFlag{Name: "type", Required: true, Usage: "payload type: a handler name, dummy or builtin"},
			&cli.StringFlag{Name: "id", Value: defaultID, Usage: "message id, echoed in the report"},
			&cli.DurationFlag{Name: "wait-reply", Usage: "after the report, keep printing deliveries to this connection for this long: the answers of a handler that replies to the sender"},
			&cli.IntFlag{Name: "replies", Usage: "with -wait-reply: stop after this many deliveries (0: wait the whole time)"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error { return runSend(ctx, cmd, e) },
	}
}

// runSend sends one message and waits for its answer.
func runSend(ctx context.Context, cmd *cli.Command, e *env) error {
	if cmd.NArg() > 1 {
		return fmt.Errorf("send: want at most one DATA argument, got %d (quote the JSON)", cmd.NArg())
	}
	js, err := readData(cmd.Args().First(), e.stdin)
	if err != nil {
		return err
	}
	r, err := newReplies(cmd, e)
	if err != nil {
		return err
	}
	reportCtx, cancel := context.WithTimeout(ctx, cmd.Duration("timeout"))
	defer cancel()
	c, err := dial(reportCtx, cmd, e.stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	data, err := wire.Convert(js, wire.CodecJSON, c.Codec())
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	typ, id := cmd.String("type"), cmd.String("id")
	if err := c.Send(typ, id, data); err != nil {
		return err
	}
	r.c = c
	// status is nil after a good report, exitCode(1) after a bad one.
	status := receiveLoop(reportCtx, c, e, func(in *client.Incoming) (bool, error) {
		if r.wait > 0 && r.take(in) {
			return false, nil
		}
		return answer(in, id, e)
	})
	var bad exitCode
	switch {
	case status == nil, errors.As(status, &bad):
	case reportCtx.Err() != nil:
		return fmt.Errorf("no answer to %q: %w", id, context.Cause(reportCtx))
	case errors.Is(status, io.EOF):
		return fmt.Errorf("the server closed the connection before answering %q", id)
	default:
		return status
	}
	r.reported()
	if err := r.await(ctx); err != nil {
		return err
	}
	return status
}

// answer prints in when it answers message id and says whether it did; the
// error is the exit status of a bad report.
func answer(in *client.Incoming, id string, e *env) (bool, error) {
	switch {
	case in.Kind == client.KindDummy && in.ID == id:
		fmt.Fprintln(e.stdout, messageLine(in, wire.CodecAuto))
		return true, nil
	case in.Kind != wire.MessageTypeStatusReport:
		return false, nil // a delivery to ourselves, say
	case in.ID == id, in.ID == "" && in.Err() != nil:
		// A bad report without an id is the server refusing the
		// connection's input as a whole; it answers us too.
		fmt.Fprintln(e.stdout, reportLine(in.Report))
		if in.Err() != nil {
			return true, exitCode(1)
		}
		return true, nil
	}
	return false, nil
}

// readData returns the DATA argument as JSON: nil when absent, standard
// input for "-". It refuses text that is not one JSON value.
func readData(arg string, stdin io.Reader) (wire.RawValue, error) {
	if arg == "" {
		return nil, nil
	}
	b := []byte(arg)
	if arg == "-" {
		var err error
		if b, err = io.ReadAll(io.LimitReader(stdin, maxStdinData+1)); err != nil {
			return nil, fmt.Errorf("read DATA from standard input: %w", err)
		}
		if len(b) > maxStdinData {
			return nil, fmt.Errorf("DATA on standard input is longer than %d bytes", maxStdinData)
		}
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("DATA is not valid JSON: %w", err)
	}
	return wire.RawValue(b), nil
}
