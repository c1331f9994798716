package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bester-project/bester/internal/statusview"
)

// display shows what `bester status` reads.
type display interface {
	show(v *statusview.View)
	unreachable(at time.Time, reason string)
	// close leaves the output, and the terminal, as they were.
	close()
}

// newDisplay picks the display the flags of cmd and the output ask for:
// JSON lines, the terminal view, or plain lines. quit ends the command.
func newDisplay(cmd *cli.Command, e *env, monitor string, quit func()) (display, error) {
	switch {
	case cmd.Bool("json"):
		return &jsonDisplay{enc: json.NewEncoder(e.stdout), monitor: monitor}, nil
	case e.stdoutTerminal && !cmd.Bool("once"):
		return newTerminalDisplay(e, monitor, quit)
	}
	return &plainDisplay{w: e.stdout, monitor: monitor}, nil
}

// jsonDisplay prints one JSON object a line: a View, or the reading that
// failed.
type jsonDisplay struct {
	enc     *json.Encoder
	monitor string
}

func (d *jsonDisplay) show(v *statusview.View) { d.enc.Encode(v) }

func (d *jsonDisplay) unreachable(at time.Time, reason string) {
	d.enc.Encode(struct {
		Time        time.Time `json:"time"`
		Monitor     string    `json:"monitor"`
		Unreachable string    `json:"unreachable"`
	}{at, d.monitor, reason})
}

func (d *jsonDisplay) close() {}

// plainDisplay prints a block of lines an interval, with a blank line
// between blocks, and no escape codes: for pipes and files.
type plainDisplay struct {
	w       io.Writer
	monitor string
	shown   bool
}

func (d *plainDisplay) show(v *statusview.View) { d.block(v.Lines()) }

func (d *plainDisplay) unreachable(at time.Time, reason string) {
	d.block([]string{unreachableLine(at, d.monitor, reason)})
}

func (d *plainDisplay) block(lines []string) {
	if d.shown {
		fmt.Fprintln(d.w)
	}
	d.shown = true
	fmt.Fprintln(d.w, strings.Join(lines, "\n"))
}

func (d *plainDisplay) close() {}

// unreachableLine says that the endpoint at monitor could not be read.
func unreachableLine(at time.Time, monitor, reason string) string {
	return fmt.Sprintf("%s  %s unreachable: %s", at.Format(time.DateTime), monitor, reason)
}
