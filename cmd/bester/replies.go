package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// replies prints the deliveries that come back to send's connection,
// after the report, so that the report is always the first line: those
// that come before it are held until it has printed.
type replies struct {
	e    *env
	c    *client.Client
	wait time.Duration // how long after the report; 0: not at all
	max  int           // how many at most; 0: no limit
	got  int
	held []string // lines of deliveries before the report; nil after it
	// printing is set once the report has printed.
	printing bool
}

// take prints or holds in if it is a delivery and tells whether it was.
func (r *replies) take(in *client.Incoming) bool {
	if in.Kind != wire.MessageTypeReceived {
		return false
	}
	if r.max > 0 && r.got >= r.max { // -replies has its count: the rest are not shown
		return true
	}
	line := messageLine(in, r.c.Codec())
	r.got++
	if !r.printing {
		r.held = append(r.held, line)
		return true
	}
	fmt.Fprintln(r.e.stdout, line)
	return true
}

// reported prints the deliveries held while the report was awaited.
func (r *replies) reported() {
	for _, line := range r.held {
		fmt.Fprintln(r.e.stdout, line)
	}
	r.held, r.printing = nil, true
}

// await prints deliveries for r.wait after the report, or until r.max
// have come or ctx ends.
func (r *replies) await(ctx context.Context) error {
	if r.wait <= 0 || (r.max > 0 && r.got >= r.max) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.wait)
	defer cancel()
	err := receiveLoop(ctx, r.c, r.e, func(in *client.Incoming) (bool, error) {
		return r.take(in) && r.max > 0 && r.got >= r.max, nil
	})
	switch {
	case ctx.Err() != nil:
		return nil // the time is up, or interrupted
	case errors.Is(err, io.EOF):
		return errors.New("the server closed the connection while replies were awaited")
	}
	return err
}

// newReplies checks send's -wait-reply and -replies; the caller sets c
// once connected.
func newReplies(cmd *cli.Command, e *env) (*replies, error) {
	r := &replies{e: e, wait: cmd.Duration("wait-reply"), max: cmd.Int("replies")}
	switch {
	case r.wait < 0 || r.max < 0:
		return nil, errors.New("-wait-reply and -replies must not be negative")
	case r.max > 0 && r.wait == 0:
		return nil, errors.New("-replies needs -wait-reply, how long to wait for them")
	}
	return r, nil
}
