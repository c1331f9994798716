package actors

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// permHandlers are test handlers named relay, echo and h. Each relays to
// the user named in its data: a message that reaches one shows up at that
// user, so a message that does not show up never reached its handler.
func permHandlers() string {
	return handlerBlock("relay", "stream", "cbor") + handlerBlock("echo", "stream", "cbor") + handlerBlock("h", "stream", "cbor")
}

// try sends a message of type typ from c that its handler passes on to
// W, whose connection is w, and returns its report; a good report is
// checked to have reached W, as the next delivery W gets.
func try(t *testing.T, c, w *client.Client, typ, id string) *wire.StatusReport {
	t.Helper()
	r := sendForReport(t, c, typ, id, act("relay", "to", "W", "body", id))
	if r.Header.Status == wire.StatusGood {
		var got string
		if expectDelivery(t, w, &got); got != id {
			t.Fatalf("W got %q, want %q: a message went where it should not", got, id)
		}
	}
	return r
}

// wantForbidden fails unless r is bad with forbidden and says which type.
func wantForbidden(t *testing.T, r *wire.StatusReport, typ string) {
	t.Helper()
	wantBad(t, r, wire.CodeForbidden)
	if !strings.Contains(r.Header.Detail, strconv.Quote(typ)) {
		t.Fatalf("the detail %q does not name the type %q", r.Header.Detail, typ)
	}
}

func TestPermissionsForbidden(t *testing.T) {
	ts := startServer(t, permHandlers()+`
permissions {
  user "T" {
    allow = ["relay", "ech*"]
    deny  = ["echo"]
  }
}
`)
	w, tc, u := ts.dial("W", wire.CodecCBOR), ts.dial("T", wire.CodecJSON), ts.dial("U", wire.CodecCBOR)
	wantGood(t, try(t, tc, w, "relay", "relay-1"))
	wantForbidden(t, try(t, tc, w, "echo", "echo-1"), "echo") // deny wins over ech*
	wantForbidden(t, try(t, tc, w, "h", "h-1"), "h")          // not in the allow list
	wantBad(t, try(t, tc, w, "nosuch", "nosuch-1"), wire.CodeForbidden)
	// U, whom no rule names, may send anything; what W gets next is U's
	// echo, so T's never reached the handler.
	wantGood(t, try(t, u, w, "echo", "echo-2"))
	wantBad(t, try(t, u, w, "nosuch", "nosuch-2"), wire.CodeUnknownType)

	// The built-ins are always allowed.
	if err := tc.Send(wire.TypeDummy, "ping", nil); err != nil {
		t.Fatal(err)
	}
	if in := recv(t, tc); in.Kind != client.KindDummy || in.ID != "ping" {
		t.Fatalf("want the dummy reply, got %s", in.Raw)
	}
	wantGood(t, sendForReport(t, tc, wire.TypeBuiltin, "bye", map[string]any{"command": map[string]any{"type": "close"}}))
	recvEnd(t, tc)
}

// A first message whose payload is of a forbidden type logs its sender in
// (auth_special good) and is refused with forbidden under its own id; its
// handler never sees it.
func TestPermissionsFirstMessage(t *testing.T) {
	ts := startServer(t, permHandlers()+`
permissions {
  user "T" { allow = ["relay"] }
}
`)
	w := ts.dial("W", wire.CodecCBOR)
	r := ts.dialRaw(t, wire.CodecJSON)
	first := authMsg("T", "pw")
	first["payload"] = map[string]any{"type": "h", "id": "first", "data": act("relay", "to", "W", "body", "first")}
	r.send(first)
	wantGood(t, r.expectReport(wire.IDAuth))
	wantForbidden(t, r.expectReport("first"), "h")

	r.send(msg("relay", "second", act("relay", "to", "W", "body", "second")))
	wantGood(t, r.expectReport("second"))
	var got string
	if expectDelivery(t, w, &got); got != "second" { // the first would have come before it
		t.Fatalf("W got %q, want %q: the forbidden first message reached its handler", got, "second")
	}
}

// A flood of forbidden messages gets one report each, holds no in-flight
// slot past its report (here one slot in all), and logs a few lines.
func TestPermissionsForbiddenFlood(t *testing.T) {
	const n = 300
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{server: "max_in_flight = 1", log: log}, permHandlers()+`
permissions {
  default { allow = ["relay"] }
}
`)
	w, tc := ts.dial("W", wire.CodecCBOR), ts.dial("T", wire.CodecCBOR)
	start := time.Now()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint("f-", i)
		if err := tc.Send("echo", ids[i], act("relay", "to", "W", "body", ids[i])); err != nil {
			t.Fatal(err)
		}
	}
	collectReports(t, tc, wire.CodeForbidden, ids...)
	wantGood(t, try(t, tc, w, "relay", "after")) // W got nothing before it

	ts.Stop(context.Background()) // writes what the throttle still counts
	written, suppressed := countLogLines(log.String(), "message forbidden")
	limit := strangerLogBurst * int(time.Since(start)/strangerLogPeriod+2)
	if written > limit || written+suppressed != n {
		t.Fatalf("%d lines written and %d counted for %d forbidden messages, want at most %d written and %d in all",
			written, suppressed, n, limit, n)
	}
}

// countLogLines counts the warnings msg written, and those the throttle
// said it left out.
func countLogLines(log, msg string) (written, suppressed int) {
	count := regexp.MustCompile(regexp.QuoteMeta(msg) + ` \((\d+) similar lines suppressed in the last`)
	for _, line := range strings.Split(log, "\n") {
		if m := count.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			suppressed += n
		} else if strings.Contains(line, "[WARN]") && strings.Contains(line, msg) {
			written++
		}
	}
	return written, suppressed
}

// A forbidden message counts against message_rate: a flood of them is
// still a flood.
func TestPermissionsForbiddenCountsAgainstRate(t *testing.T) {
	const n = 20 // at one a second, more than a loaded machine takes to send them
	ts := startServerWith(t, serverOptions{server: "message_rate = 1\nmessage_burst = 2"}, permHandlers()+`
permissions {
  default { deny = ["echo"] }
}
`)
	tc := ts.dial("T", wire.CodecJSON)
	for i := range n {
		if err := tc.Send("echo", fmt.Sprint("e-", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	codes := map[wire.ErrorCode]int{}
	for i := range n {
		r := expectReport(t, tc, fmt.Sprint("e-", i))
		codes[r.Header.Error]++
	}
	if codes[wire.CodeForbidden] < 2 || codes[wire.CodeRateLimited] == 0 || codes[wire.CodeForbidden]+codes[wire.CodeRateLimited] != n {
		t.Fatalf("reports %v: want the burst forbidden, then rate_limited", codes)
	}
}

// writeGroups writes a groups file.
func writeGroups(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Groups come from the configuration and from the groups file, which
// SIGHUP (Reload) reads again: connections already open follow it from
// their next message on, and a broken file changes nothing.
func TestPermissionsGroupsFile(t *testing.T) {
	groups := filepath.Join(t.TempDir(), "groups")
	writeGroups(t, groups, "# who operates\nops: alice\n")
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log}, permHandlers()+fmt.Sprintf(`
auth {
  mode        = "open"
  groups_file = %q
}
permissions {
  default { allow = ["relay"] }
  group "ops" {
    users = ["carol"]
    allow = ["*"]
  }
}
`, groups))
	w := ts.dial("W", wire.CodecCBOR)
	alice, bob, carol := ts.dial("alice", wire.CodecJSON), ts.dial("bob", wire.CodecCBOR), ts.dial("carol", wire.CodecJSON)
	wantGood(t, try(t, alice, w, "h", "a-1"))
	wantForbidden(t, try(t, bob, w, "h", "b-1"), "h")
	wantGood(t, try(t, bob, w, "relay", "b-2"))
	wantGood(t, try(t, carol, w, "h", "c-1"))

	writeGroups(t, groups, "ops: bob\n")
	ts.Reload()
	wantForbidden(t, try(t, alice, w, "h", "a-2"), "h")
	wantGood(t, try(t, bob, w, "h", "b-3"))
	wantGood(t, try(t, carol, w, "h", "c-2")) // the configuration's members stay

	writeGroups(t, groups, "ops: alice\nops alice\n")
	ts.Reload()
	if !strings.Contains(log.String(), "reload rejected") || !strings.Contains(log.String(), "line 2") {
		t.Fatalf("the log does not say why the groups file was refused:\n%s", log)
	}
	wantForbidden(t, try(t, alice, w, "h", "a-3"), "h")
	wantGood(t, try(t, bob, w, "h", "b-4"))
}

// A groups file that does not parse stops the server from starting, with
// the line at fault: the configuration's check refuses it, and so does
// New, should the file break after the check.
func TestPermissionsGroupsFileBroken(t *testing.T) {
	dir := t.TempDir()
	groups := filepath.Join(dir, "groups")
	src := fmt.Sprintf(`
server { runtime_dir = %q }
auth {
  mode        = "open"
  groups_file = "groups"
}
listener "tcp" { address = "127.0.0.1:0" }
`, dir)
	const broken = "ops: alice\n\nops alice\n"
	writeGroups(t, groups, broken)
	if _, err := config.Parse(filepath.Join(dir, "bester.hcl"), []byte(src)); err == nil ||
		!strings.Contains(strings.Join(strings.Fields(err.Error()), " "), groups+" line 3") {
		t.Fatalf("config.Parse: %v, want an error naming %s line 3", err, groups)
	}

	writeGroups(t, groups, "ops: alice\n")
	cfg, err := config.Parse(filepath.Join(dir, "bester.hcl"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	writeGroups(t, groups, broken)
	_, err = New(cfg, hclog.NewNullLogger())
	if err == nil || !strings.Contains(err.Error(), groups+" line 3") {
		t.Fatalf("New: %v, want an error naming %s line 3", err, groups)
	}
}

// K lets its peer J send only relay: J's users relay to K's as before,
// and a message of another type that J's handler passes to K comes back
// to its sender as forbidden. K's default rule is for K's users only.
func TestPermissionsPeer(t *testing.T) {
	aj, ak := freeAddr(t), freeAddr(t)
	logK := new(logBuffer)
	j := startServerWith(t, serverOptions{name: "J", tcp: aj}, fedHandlers()+peerBlock("K", ak, fedSecret, fastPeer))
	k := startServerWith(t, serverOptions{name: "K", tcp: ak, log: logK}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer)+`
permissions {
  default { deny = ["relay"] }
  peer "J" { allow = ["relay"] }
}
`)
	j.waitPeerUp(t, "K")
	k.waitPeerUp(t, "J")
	tj, gk := j.dial("T", wire.CodecJSON), k.dial("G", wire.CodecCBOR)

	relayAcross(t, tj, gk, "T", "J", "G@K", "allowed")
	r := sendForReport(t, tj, "h", "other", act("servers", "peers", []string{"K"}, "then", "relay", "to", "G", "body", 1))
	wantForbidden(t, r, "h")
	if !strings.Contains(r.Header.Detail, "peer K") || !slices.Equal(r.Payload.Undelivered, []string{"K"}) {
		t.Fatalf("report %+v", r)
	}
	relayAcross(t, tj, gk, "T", "J", "G@K", "still allowed")
	if !regexp.MustCompile(`message forbidden: .*peer=J type=h`).MatchString(logK.String()) {
		t.Fatalf("K's log does not name the peer and the type:\n%s", logK)
	}

	// K's users have the default rule, which is not the peer's.
	wantForbidden(t, sendForReport(t, gk, "relay", "home", map[string]any{"to": "T@J", "body": 1}), "relay")
}
