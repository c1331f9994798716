package actors

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/hashicorp/go-hclog"
)

// slogToHclog routes protoactor's log/slog output into the server's hclog
// logger (go-hclog has no slog support of its own), following its level.
type slogToHclog struct {
	l      hclog.Logger
	prefix string // open groups, "a.b."
	args   []any  // attributes added by WithAttrs, already flattened
	// protoactor marks the bridge of protoactor's own log, whose levels
	// levelFor corrects.
	protoactor bool
}

func hcLevel(lv slog.Level) hclog.Level {
	switch {
	case lv < slog.LevelDebug:
		return hclog.Trace
	case lv < slog.LevelInfo:
		return hclog.Debug
	case lv < slog.LevelWarn:
		return hclog.Info
	case lv < slog.LevelError:
		return hclog.Warn
	}
	return hclog.Error
}

// levelFor corrects the levels protoactor logs some messages at: a dead
// letter is routine here (a report for a client that just disconnected),
// and so are a member's lost connection to another that stopped and a
// gossip that timed out while members start; a recovered panic is a bug.
// protoactor's other Info lines (some forty at every cluster start) are
// Debug: the server logs what an operator needs (a member joined or left)
// itself.
func levelFor(msg string, lv slog.Level) hclog.Level {
	l := hcLevel(lv)
	switch msg {
	case "[DeadLetter]":
		return hclog.Debug
	case "[ACTOR] Recovering":
		return hclog.Error
	case "EndpointWriter lost connection", "sendGossipForMember failed":
		return hclog.Warn
	}
	if l == hclog.Info {
		return hclog.Debug
	}
	return l
}

// Enabled lets Info records through at any level up to Error, since
// levelFor may raise one; Handle makes the final decision.
func (h *slogToHclog) Enabled(_ context.Context, lv slog.Level) bool {
	l := hcLevel(lv)
	if l == hclog.Info {
		l = hclog.Error
	}
	return l >= h.l.GetLevel()
}

func (h *slogToHclog) Handle(_ context.Context, r slog.Record) error {
	args := append(make([]any, 0, len(h.args)+2*r.NumAttrs()+2), h.args...)
	r.Attrs(func(a slog.Attr) bool { args = flattenAttr(args, h.prefix, a); return true })
	if r.PC != 0 {
		f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		args = append(args, "caller", fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line))
	}
	lv := hcLevel(r.Level)
	if h.protoactor {
		lv = levelFor(r.Message, r.Level)
	}
	if lv < h.l.GetLevel() {
		return nil
	}
	h.l.Log(lv, r.Message, args...)
	return nil
}

func (h *slogToHclog) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.args = slices.Clone(h.args)
	for _, a := range as {
		c.args = flattenAttr(c.args, h.prefix, a)
	}
	return &c
}

func (h *slogToHclog) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix += name + "."
	return &c
}

func flattenAttr(args []any, prefix string, a slog.Attr) []any {
	a.Value = a.Value.Resolve()
	switch {
	case a.Equal(slog.Attr{}):
		return args
	case a.Value.Kind() == slog.KindGroup:
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			args = flattenAttr(args, prefix, g)
		}
		return args
	}
	return append(args, prefix+a.Key, a.Value.Any())
}
