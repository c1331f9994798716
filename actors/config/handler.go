package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/bester-project/bester/wire"
)

// serverEnv are the environment variables the server itself gives a
// started handler (wire contract §5); `env` may not override them.
var serverEnv = []string{wire.EnvSocket, wire.EnvType, wire.EnvMode, wire.EnvCodec, wire.EnvInformer}

// handlers checks the `handler` blocks and fills their defaults.
func (c *checker) handlers(raws []rawHandler, runtimeDir string) []Handler {
	seen := map[string]bool{}
	out := make([]Handler, 0, len(raws))
	for i := range raws {
		r := &raws[i]
		switch {
		case r.Name == "":
			c.errorf(r.DefRange, "Invalid handler name", "A handler needs a non-empty name: the message type it serves.")
		case r.Name == ReservedDummy || r.Name == ReservedBuiltin:
			c.errorf(r.DefRange, "Reserved handler name",
				"%q is a built-in message type and cannot be a handler; %q and %q are reserved.",
				r.Name, ReservedDummy, ReservedBuiltin)
		case seen[r.Name]:
			c.errorf(r.DefRange, "Duplicate handler name", "Another handler is already named %q.", r.Name)
		}
		seen[r.Name] = true
		out = append(out, c.handler(r, runtimeDir))
	}
	return out
}

// handler checks one `handler` block and fills its defaults.
func (c *checker) handler(r *rawHandler, runtimeDir string) Handler {
	h := Handler{
		Name:         r.Name,
		Dir:          c.dir,
		Mode:         DefaultHandlerMode,
		Codec:        DefaultHandlerCodec,
		Timeout:      c.duration(r.Timeout, r.TimeoutRange, "timeout", DefaultHandlerTimeout, positive),
		StartTimeout: c.duration(r.StartTimeout, r.StartTimeoutRange, "start_timeout", DefaultHandlerStartTimeout, positive),
		Queue:        c.count(r.Queue, r.QueueRange, "queue", DefaultHandlerQueue, 1),
		MaxInFlight:  c.count(r.MaxInFlight, r.MaxInFlightRange, "max_in_flight", DefaultHandlerMaxInFlight, 1),
		Restart:      c.restart(r.Restart),
	}
	if c.required(r.Socket, r.SocketRange, "socket") {
		h.Socket = c.socketPath(runtimeDir, r.Socket, r.SocketRange, "socket")
	}
	if r.Command != nil {
		h.Command = *r.Command
		if len(h.Command) == 0 || h.Command[0] == "" {
			c.errorf(r.CommandRange, `Invalid "command"`,
				`"command" must name a program, e.g. ["./relay", "-v"]; leave it out when the handler is started elsewhere.`)
		}
	}
	if r.Dir != nil && c.required(*r.Dir, r.DirRange, "dir") {
		h.Dir = under(c.dir, *r.Dir)
	}
	h.Env = r.Env
	c.env(r.Env, r.EnvRange)
	if r.Mode != nil {
		h.Mode = wire.HandlerMode(*r.Mode)
		if h.Mode != wire.ModeStream && h.Mode != wire.ModeOneshot {
			c.errorf(r.ModeRange, `Invalid "mode"`, "Unknown handler mode %q; use stream or oneshot.", *r.Mode)
		}
	}
	if r.Codec != nil {
		h.Codec = c.speakingCodec(*r.Codec, r.CodecRange, "handler", h.Codec)
	}
	connections := DefaultOneshotConnections
	if h.Mode == wire.ModeStream {
		connections = DefaultStreamConnections
	}
	h.Connections = c.count(r.Connections, r.ConnectionsRange, "connections", connections, 1)
	return h
}

// env checks the extra environment of a handler command.
func (c *checker) env(env map[string]string, r hcl.Range) {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			c.errorf(r, `Invalid "env"`, "Environment variable name %q must be non-empty and contain no '=' or NUL.", k)
		case strings.ContainsRune(env[k], 0):
			c.errorf(r, `Invalid "env"`, "The value of %s contains a NUL byte.", k)
		}
		for _, own := range serverEnv {
			if k == own {
				c.errorf(r, `Invalid "env"`, "%s is set by the server for every started handler and cannot be overridden.", k)
			}
		}
	}
}

// restart checks a `restart` block and fills its defaults; an absent block
// gives every default.
func (c *checker) restart(r *rawRestart) Restart {
	if r == nil {
		r = &rawRestart{}
	}
	rs := Restart{
		BackoffMin:  c.duration(r.BackoffMin, r.BackoffMinRange, "backoff_min", DefaultRestartBackoffMin, positive),
		BackoffMax:  c.duration(r.BackoffMax, r.BackoffMaxRange, "backoff_max", DefaultRestartBackoffMax, positive),
		MaxRestarts: c.count(r.MaxRestarts, r.MaxRestartsRange, "max_restarts", DefaultRestartMaxRestarts, 0),
		Window:      c.duration(r.Window, r.WindowRange, "window", DefaultRestartWindow, positive),
		RetryAfter:  c.duration(r.RetryAfter, r.RetryAfterRange, "retry_after", DefaultRestartRetryAfter, positive),
	}
	if rs.BackoffMin > 0 && rs.BackoffMax > 0 && rs.BackoffMin > rs.BackoffMax {
		where := r.BackoffMaxRange
		field := "backoff_max"
		if r.BackoffMax == nil {
			where, field = r.BackoffMinRange, "backoff_min"
		}
		c.errorf(where, fmt.Sprintf("Invalid %q", field),
			"backoff_min (%v) must not exceed backoff_max (%v).", rs.BackoffMin, rs.BackoffMax)
	}
	return rs
}
