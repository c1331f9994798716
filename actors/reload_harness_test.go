package actors

import (
	"strings"
	"testing"

	"github.com/bester-project/bester/wire/client"
)

// reloadable is a real server whose configuration file a test rewrites
// and reloads, with its log kept for checks.
type reloadable struct {
	*testServer
	log *logBuffer
}

// startReloadable starts a server as startServerWith does, from server
// attributes and extra blocks, and waits for its handlers.
func startReloadable(t *testing.T, server, extra string) *reloadable {
	t.Helper()
	log := &logBuffer{}
	return &reloadable{startServerWith(t, serverOptions{server: server, log: log}, extra), log}
}

// reload writes the configuration file anew, with the same head as at
// start but server attributes and extra blocks, reloads it as SIGHUP
// does, and returns what the server logged meanwhile.
func (r *reloadable) reload(server, extra string) string {
	r.t.Helper()
	o := r.opts
	o.server = server
	writeConfig(r.t, r.dir, o, extra)
	before := len(r.log.String())
	r.Reload()
	return r.log.String()[before:]
}

// reloaded reloads as reload does and returns the summary line's list of
// changes, failing when the reload logged no summary.
func (r *reloadable) reloaded(server, extra string) string {
	r.t.Helper()
	logged := r.reload(server, extra)
	for line := range strings.Lines(logged) {
		if _, after, ok := strings.Cut(line, ": reload: "); ok {
			return strings.TrimSpace(after)
		}
	}
	r.t.Fatalf("the reload logged no summary:\n%s", logged)
	return ""
}

// rejected reloads as reload does and fails unless the reload was
// rejected with every one of want in its log line.
func (r *reloadable) rejected(server, extra string, want ...string) {
	r.t.Helper()
	logged := r.reload(server, extra)
	if !strings.Contains(logged, "reload rejected, the running configuration stays") {
		r.t.Fatalf("the reload was not rejected:\n%s", logged)
	}
	for _, w := range want {
		if !strings.Contains(logged, w) {
			r.t.Fatalf("the rejection does not say %q:\n%s", w, logged)
		}
	}
}

// reloadBase is the blocks the reload tests start with: a relay handler
// (see permHandlers).
func reloadBase() string { return handlerBlock("relay", "stream", "cbor") }

// stillServes fails unless c's message of type relay reaches w: a
// connection open across a reload still sends and receives.
func stillServes(t *testing.T, c, w *client.Client, id string) {
	t.Helper()
	wantGood(t, try(t, c, w, "relay", id))
}
