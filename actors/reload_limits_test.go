package actors

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
)

// The server-wide limits apply at once: max_connections refuses the
// connection past the new limit while those open stay, and a changed
// message_rate slows the users already connected.
func TestReloadLimitsAtOnce(t *testing.T) {
	r := startReloadable(t, "  max_connections = 10\n  message_rate = 100000\n  message_burst = 5", reloadBase())
	w, c := r.dial("W", wire.CodecCBOR), r.dial("T", wire.CodecJSON)
	stillServes(t, c, w, "before")

	got := r.reloaded("  max_connections = 3\n  message_rate = 1\n  message_burst = 5", reloadBase())
	if got != "limits max_connections, message_rate" {
		t.Fatalf("summary %q", got)
	}
	limited := 0
	for i := range 12 { // 5 in the burst, then one a second
		id := "m-" + strconv.Itoa(i)
		if rep := sendForReport(t, c, "nosuch", id, nil); rep.Header.Error == wire.CodeRateLimited {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("the new message_rate did not slow a user connected before the reload")
	}

	r.dial("U", wire.CodecJSON) // the third
	refused := r.dialRaw(t, wire.CodecJSON)
	rep := refused.expectReport(wire.IDAuth)
	wantBad(t, rep, wire.CodeOverloaded)
	if !strings.Contains(rep.Header.Detail, "max_connections") {
		t.Fatalf("want the limit named, got %q", rep.Header.Detail)
	}
	refused.expectClosed()

	if got := r.reloaded("", reloadBase()); got != "limits max_connections, message_rate, message_burst" {
		t.Fatalf("summary %q", got)
	}
	stillServes(t, c, w, "no limits") // no rate: nothing is rate_limited
	stillServes(t, r.dial("V", wire.CodecJSON), w, "the fourth")
}

// The limits of each connection apply to connections opened after the
// reload; those open keep theirs.
func TestReloadLimitsNewConnections(t *testing.T) {
	r := startReloadable(t, "", reloadBase())
	w, c := r.dial("W", wire.CodecCBOR), r.dial("T", wire.CodecJSON)

	if got := r.reloaded(`  idle_timeout = "300ms"`, reloadBase()); got != "limits idle_timeout" {
		t.Fatalf("summary %q", got)
	}
	recvEnd(t, r.dial("U", wire.CodecJSON)) // idle past the new timeout
	time.Sleep(600 * time.Millisecond)      // T and W, idle as long, stay
	stillServes(t, c, w, "after")
}
