package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/bester-project/bester/wire/client"
)

// receiveLoop passes each message c receives to each until each says it
// is done, ctx ends or the connection does, and returns each's error, the
// read's, or ctx's cause; callers tell an interruption by ctx.Err. A
// message that cannot be decoded is skipped with a line on stderr. Ending
// ctx closes c, since nothing else stops a read.
func receiveLoop(ctx context.Context, c *client.Client, e *env, each func(*client.Incoming) (bool, error)) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	for {
		in, err := c.Receive()
		switch {
		case errors.Is(err, client.ErrUndecodable):
			fmt.Fprintln(e.stderr, "bester: skipped:", err)
			continue
		case err != nil && ctx.Err() != nil:
			return context.Cause(ctx)
		case err != nil:
			return err
		}
		if done, err := each(in); done {
			return err
		}
	}
}
