package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bester-project/bester/internal/statusview"
)

// The escape codes of the terminal view (ANSI; every terminal in use
// knows them).
const (
	enterView  = "\x1b[?1049h\x1b[?25l" // the alternate screen, cursor hidden
	leaveView  = "\x1b[?25h\x1b[?1049l" // back to the screen as it was, cursor shown
	toTop      = "\x1b[H"
	endOfLine  = "\x1b[K\r\n" // clears what an older, longer line left; \r since raw mode does not add it
	clearBelow = "\x1b[J"
)

// Keys that quit the terminal view: q, and Ctrl-C, which raw mode
// delivers as a byte rather than a signal.
const (
	keyQuit  = 'q'
	keyCtrlC = 0x03
)

// terminalDisplay redraws the view in place on the alternate screen,
// and quits on q or Ctrl-C.
type terminalDisplay struct {
	w       io.Writer
	monitor string
	// restore puts the terminal back as it was; nil when stdin is not a
	// terminal (then only a signal ends the view).
	restore func() error
	last    []string // the last view, kept under an unreachable line
}

func newTerminalDisplay(e *env, monitor string, quit func()) (*terminalDisplay, error) {
	d := &terminalDisplay{w: e.stdout, monitor: monitor}
	if e.stdinTerminal {
		restore, err := e.rawInput()
		if err != nil {
			return nil, fmt.Errorf("terminal: %w", err)
		}
		d.restore = restore
		go readKeys(e.stdin, quit)
	}
	io.WriteString(d.w, enterView)
	d.draw([]string{"reading " + monitor + " ..."})
	return d, nil
}

// readKeys calls quit when q or Ctrl-C is typed. It ends with the input
// (the process ends it, at the latest).
func readKeys(in io.Reader, quit func()) {
	b := make([]byte, 1)
	for {
		if _, err := in.Read(b); err != nil {
			return
		}
		if b[0] == keyQuit || b[0] == 'Q' || b[0] == keyCtrlC {
			quit()
			return
		}
	}
}

func (d *terminalDisplay) show(v *statusview.View) {
	d.last = v.Lines()
	d.draw(d.last)
}

func (d *terminalDisplay) unreachable(at time.Time, reason string) {
	d.draw(append([]string{unreachableLine(at, d.monitor, reason), ""}, d.last...))
}

// draw replaces the screen's lines with lines and a footer.
func (d *terminalDisplay) draw(lines []string) {
	var b strings.Builder
	b.WriteString(toTop)
	for _, l := range append(lines, "", "q quits") {
		b.WriteString(l + endOfLine)
	}
	b.WriteString(clearBelow)
	io.WriteString(d.w, b.String())
}

// close leaves the alternate screen and restores the terminal.
func (d *terminalDisplay) close() {
	io.WriteString(d.w, leaveView)
	if d.restore != nil {
		d.restore()
	}
}
