package actors

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// decodeJSON decodes a JSON text for comparisons.
func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestClientDummy(t *testing.T) {
	ts := startServer(t, "")
	r := ts.dialRaw(t, wire.CodecJSON)
	r.login("T")
	for _, c := range []struct{ sent, want string }{
		{`{"payload":{"type":"dummy","id":"ping-1"}}`, `{"header":{"status":"0"},"payload":{"type":"dummy","id":"ping-1","data":null}}`},
		{`{"payload":{"type":"dummy","id":"ping-2","data":{"ignored":[1,2]}}}`, `{"header":{"status":"0"},"payload":{"type":"dummy","id":"ping-2","data":null}}`},
		{`{"header":{"scope":"client"},"payload":{"type":"dummy"}}`, `{"header":{"status":"0"},"payload":{"type":"dummy","id":"","data":null}}`},
	} {
		r.writeBody([]byte(c.sent))
		got := r.frame()
		if !reflect.DeepEqual(decodeJSON(t, string(got)), decodeJSON(t, c.want)) {
			t.Fatalf("sent %s\ngot  %s\nwant %s", c.sent, got, c.want)
		}
	}
	// The same in CBOR.
	rc := ts.dialRaw(t, wire.CodecCBOR)
	rc.login("T")
	rc.send(msg(wire.TypeDummy, "ping-c", nil))
	want := map[string]any{"header": map[string]any{"status": "0"},
		"payload": map[string]any{"type": "dummy", "id": "ping-c", "data": nil}}
	if got := rc.next(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestClientBuiltin(t *testing.T) {
	ts := startServer(t, "")
	for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
		t.Run(codec.String(), func(t *testing.T) {
			r := ts.dialRaw(t, codec)
			r.login("T")
			r.send(msg(wire.TypeBuiltin, "b-1", map[string]any{"command": map[string]any{"type": "reboot"}}))
			wantBad(t, r.expectReport("b-1"), wire.CodeUnknownCommand)
			r.dummy("open-1")
			for i, data := range []any{nil, map[string]any{}, "close", []string{"close"}, map[string]any{"command": "close"}} {
				id := fmt.Sprint("b-bad-", i)
				r.send(msg(wire.TypeBuiltin, id, data))
				r.wantBadMessage(id)
			}
			r.dummy("open-2")
			r.send(msg(wire.TypeBuiltin, "b-close", map[string]any{"command": map[string]any{"type": "close"}}))
			wantGood(t, r.expectReport("b-close"))
			r.expectClosed()
			eventually(t, "the closed connection leaves the registry", func() bool { return !ts.registry.has("T") })
		})
	}
	// With the Go client.
	c := ts.dial("T", wire.CodecCBOR)
	wantGood(t, sendForReport(t, c, wire.TypeBuiltin, "close", map[string]any{"command": map[string]any{"type": "close"}}))
	recvEnd(t, c)
}

func TestClientUnknownAndMissingType(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor"))
	for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
		t.Run(codec.String(), func(t *testing.T) {
			r := ts.dialRaw(t, codec)
			r.login("T")
			r.send(msg("nosuch", "u-1", map[string]any{"a": 1}))
			wantBad(t, r.expectReport("u-1"), wire.CodeUnknownType)
			r.send(msg("H", "u-2", nil)) // names are case-sensitive
			wantBad(t, r.expectReport("u-2"), wire.CodeUnknownType)
			r.send(map[string]any{"payload": map[string]any{"id": "u-3"}})
			r.wantBadMessage("u-3")
			r.send(msg("", "u-4", nil))
			r.wantBadMessage("u-4")

			// An absent id is "", and the report says so.
			r.send(map[string]any{"payload": map[string]any{"type": "nosuch"}})
			m := r.next()
			p, _ := m["payload"].(map[string]any)
			if id, ok := p["id"]; !ok || id != "" {
				t.Fatalf("report of a message without id: %v", m)
			}
			h, _ := m["header"].(map[string]any)
			if h["status"] != wire.StatusBad || h["error"] != string(wire.CodeUnknownType) {
				t.Fatalf("report of a message without id: %v", m)
			}
			r.send(map[string]any{"payload": map[string]any{"type": "h", "data": map[string]any{"to": "T", "body": 1}}})
			r.next() // the delivery to T
			wantGood(t, r.expectReport(""))
		})
	}
}

func TestClientSeveralConnectionsOfOneUser(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor", `env = { TESTHANDLER_ACT = "relay" }`))
	sender := ts.dial("T", wire.CodecJSON)
	g1, g2, g3 := ts.dial("G", wire.CodecJSON), ts.dial("G", wire.CodecCBOR), ts.dial("G", wire.CodecJSON)
	if n := len(ts.registry.lookup("G", nil)); n != 3 {
		t.Fatalf("G has %d connections, want 3", n)
	}
	relay := func(id string, n int) *wire.StatusReport {
		t.Helper()
		return sendForReport(t, sender, "h", id, map[string]any{"to": []string{"G"}, "body": n})
	}
	wantGood(t, relay("all", 1))
	for _, g := range []*client.Client{g1, g2, g3} {
		var n int
		expectDelivery(t, g, &n)
		if n != 1 {
			t.Fatalf("got %d, want 1", n)
		}
	}

	g1.Close()
	eventually(t, "a closed connection leaves the registry", func() bool { return len(ts.registry.lookup("G", nil)) == 2 })
	wantGood(t, relay("two", 2))
	for _, g := range []*client.Client{g2, g3} {
		var n int
		expectDelivery(t, g, &n)
		if n != 2 {
			t.Fatalf("got %d, want 2", n)
		}
	}

	// One more leaves with builtin close, the last by hanging up.
	wantGood(t, sendForReport(t, g2, wire.TypeBuiltin, "bye", map[string]any{"command": map[string]any{"type": "close"}}))
	recvEnd(t, g2)
	eventually(t, "the connection closed by builtin leaves the registry", func() bool { return len(ts.registry.lookup("G", nil)) == 1 })
	wantGood(t, relay("one", 3))
	var n int
	expectDelivery(t, g3, &n)
	if n != 3 {
		t.Fatalf("got %d, want 3", n)
	}
	g3.Close()
	eventually(t, "G is gone", func() bool { return !ts.registry.has("G") })
	if err := sender.Send("h", "none", map[string]any{"to": []string{"G", "T"}, "body": 4}); err != nil {
		t.Fatal(err)
	}
	expectDelivery(t, sender, nil) // T gets its copy, then the report
	r := expectReport(t, sender, "none")
	wantBad(t, r, wire.CodeUndelivered)
	if !slices.Equal(r.Payload.Undelivered, []string{"G"}) {
		t.Fatalf("undelivered %v, want [G]", r.Payload.Undelivered)
	}
}

func TestClientEveryMessageGetsOneReport(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor", `env = { TESTHANDLER_ACT = "relay" }`))
	g := ts.dial("G", wire.CodecCBOR)
	var (
		mu        sync.Mutex
		delivered int
	)
	gDone := make(chan struct{})
	go func() {
		defer close(gDone)
		for {
			in, err := g.Receive()
			if err != nil {
				return
			}
			if in.Kind == wire.MessageTypeReceived {
				mu.Lock()
				delivered++
				mu.Unlock()
			}
		}
	}()

	r := ts.dialRaw(t, wire.CodecJSON)
	r.login("T")
	const n = 200
	kinds := []string{"relay", "unknown", "dummy", "bad body", "no type", "undelivered"}
	var batch []byte
	for i := range n {
		id := fmt.Sprint("m-", i)
		var body string
		switch kinds[i%len(kinds)] {
		case "relay":
			body = fmt.Sprintf(`{"payload":{"type":"h","id":%q,"data":{"to":["G"],"body":%d}}}`, id, i)
		case "unknown":
			body = fmt.Sprintf(`{"payload":{"type":"nosuch","id":%q}}`, id)
		case "dummy":
			body = fmt.Sprintf(`{"payload":{"type":"dummy","id":%q}}`, id)
		case "bad body":
			body = fmt.Sprintf(`{"payload":{"type":["h"],"id":%q}}`, id)
		case "no type":
			body = fmt.Sprintf(`{"payload":{"id":%q}}`, id)
		case "undelivered":
			body = fmt.Sprintf(`{"payload":{"type":"h","id":%q,"data":{"to":["nobody"],"body":%d}}}`, id, i)
		}
		batch = wire.AppendFrame(batch, []byte(body))
	}
	r.write(batch) // all at once: the server reads them as fast as it can

	answers := map[string]int{}
	for range n {
		m := r.next()
		h, _ := m["header"].(map[string]any)
		p, _ := m["payload"].(map[string]any)
		id, _ := p["id"].(string)
		var i int
		if _, err := fmt.Sscanf(id, "m-%d", &i); err != nil || i < 0 || i >= n {
			t.Fatalf("answer for an id never sent: %v", m)
		}
		answers[id]++
		if answers[id] > 1 {
			t.Fatalf("second answer for %s: %v", id, m)
		}
		want := map[string][2]string{
			"relay":       {wire.StatusGood, ""},
			"unknown":     {wire.StatusBad, string(wire.CodeUnknownType)},
			"dummy":       {"0", ""},
			"bad body":    {wire.StatusBad, string(wire.CodeBadMessage)},
			"no type":     {wire.StatusBad, string(wire.CodeBadMessage)},
			"undelivered": {wire.StatusBad, string(wire.CodeUndelivered)},
		}[kinds[i%len(kinds)]]
		errCode, _ := h["error"].(string)
		if h["status"] != want[0] || errCode != want[1] {
			t.Fatalf("answer for %s (%s): %v", id, kinds[i%len(kinds)], m)
		}
	}
	if len(answers) != n {
		t.Fatalf("%d ids answered, want %d", len(answers), n)
	}
	// Nothing more is on its way: the handler holds nothing, and the next
	// answer is that of a new message.
	eventually(t, "the handler holds nothing", func() bool { st := ts.handlerState("h"); return st.InFlight == 0 && st.Queued == 0 })
	r.dummy("last")
	relays := (n + len(kinds) - 1) / len(kinds)
	eventually(t, "G receives every relayed message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return delivered == relays
	})
	g.Close()
	<-gDone
}

func TestClientCodecsOverUnixAndFixedListeners(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor", `env = { TESTHANDLER_ACT = "relay" }`)+`
listener "jsononly" {
  network = "tcp4"
  address = "127.0.0.1:0"
  codec   = "json"
}
listener "cbor" {
  network = "unix"
  address = "cbor.sock"
  codec   = "cbor"
}
`)
	unixSock := filepath.Join(ts.dir, "client.sock")
	dialUnix := func(user string, codec wire.Codec) *client.Client {
		return ts.dialOpts(client.Options{Network: "unix", Address: unixSock, Codec: codec, Username: user, Password: "pw"})
	}
	t.Run("auto over unix", func(t *testing.T) {
		j, c := dialUnix("J1", wire.CodecJSON), dialUnix("C1", wire.CodecCBOR)
		type pair struct {
			N int    `cbor:"n" json:"n"`
			S string `cbor:"s" json:"s"`
		}
		wantGood(t, sendForReport(t, j, "h", "jc", map[string]any{"to": "C1", "body": pair{N: 1 << 40, S: "json→cbor"}}))
		var got pair
		if in := expectDelivery(t, c, &got); got != (pair{N: 1 << 40, S: "json→cbor"}) || in.From.User != "J1" {
			t.Fatalf("CBOR client got %+v from %+v", got, in.From)
		}
		wantGood(t, sendForReport(t, c, "h", "cj", map[string]any{"to": "J1", "body": pair{N: -3, S: "cbor→json"}}))
		if in := expectDelivery(t, j, &got); got != (pair{N: -3, S: "cbor→json"}) || in.From.User != "C1" {
			t.Fatalf("JSON client got %+v from %+v", got, in.From)
		}
		// The JSON client's answers are JSON, the CBOR client's CBOR.
		if err := j.Send(wire.TypeDummy, "d", nil); err != nil {
			t.Fatal(err)
		}
		if in := recv(t, j); in.Raw[0] != '{' {
			t.Fatalf("JSON client answered in %q", in.Raw)
		}
		if err := c.Send(wire.TypeDummy, "d", nil); err != nil {
			t.Fatal(err)
		}
		if in := recv(t, c); in.Raw[0]>>5 != 5 {
			t.Fatalf("CBOR client answered in %x", in.Raw)
		}
	})
	t.Run("auto with leading white space", func(t *testing.T) {
		r := ts.dialRawTo(t, "unix", unixSock, wire.CodecJSON)
		r.writeBody([]byte("\n\t {\"header\":{\"scope\":\"client\",\"authentication\":{\"username\":\"W\",\"password\":\"pw\"}}}"))
		wantGood(t, r.expectReport(wire.IDAuth))
		r.dummy("ws")
	})
	t.Run("auto refuses a body of neither codec", func(t *testing.T) {
		r := ts.dialRawTo(t, "unix", unixSock, wire.CodecJSON)
		r.writeBody([]byte("header: scope client"))
		r.wantUnauthorized()
	})
	t.Run("json listener refuses cbor", func(t *testing.T) {
		addr := ts.Addr("jsononly").String()
		r := ts.dialRawTo(t, "tcp", addr, wire.CodecCBOR)
		r.send(authMsg("T", "pw"))
		r.codec = wire.CodecJSON // the listener answers in its codec
		r.wantUnauthorized()
		c := ts.dialOpts(client.Options{Address: addr, Codec: wire.CodecJSON, Username: "T", Password: "pw"})
		if err := c.Send(wire.TypeDummy, "j", nil); err != nil {
			t.Fatal(err)
		}
		if in := recv(t, c); in.Kind != client.KindDummy || in.ID != "j" {
			t.Fatalf("want the dummy reply, got %s", in.Raw)
		}
	})
	t.Run("cbor listener refuses json", func(t *testing.T) {
		sock := filepath.Join(ts.dir, "cbor.sock")
		r := ts.dialRawTo(t, "unix", sock, wire.CodecJSON)
		r.send(authMsg("T", "pw"))
		r.codec = wire.CodecCBOR
		r.wantUnauthorized()
		c := ts.dialOpts(client.Options{Network: "unix", Address: sock, Codec: wire.CodecCBOR, Username: "T", Password: "pw"})
		if err := c.Send(wire.TypeDummy, "c", nil); err != nil {
			t.Fatal(err)
		}
		if in := recv(t, c); in.Kind != client.KindDummy || in.ID != "c" {
			t.Fatalf("want the dummy reply, got %s", in.Raw)
		}
	})
}

func TestClientMaxInFlight(t *testing.T) {
	ts := startServerWith(t, serverOptions{server: "max_in_flight = 2"}, `
handler "slow" {
  socket  = "slow.sock"
  command = ["$TESTHANDLER"]
  timeout = "1s"
  env     = { TESTHANDLER_ACT = "never" }
}
`)
	c := ts.dial("T", wire.CodecCBOR)
	const n = 5
	for i := range n {
		if err := c.Send("slow", fmt.Sprint("s-", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	// While the reports come in, the handler never holds more than two.
	stop, polled := make(chan struct{}), make(chan int)
	go func() {
		most := 0
		for {
			st := ts.handlerState("slow")
			most = max(most, st.InFlight+st.Queued)
			select {
			case <-stop:
				polled <- most
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	eventually(t, "two messages reach the handler", func() bool { return ts.handlerState("slow").InFlight == 2 })
	seen := map[string]bool{}
	for range n {
		in := recv(t, c)
		if in.Report == nil {
			t.Fatalf("want a report, got %s", in.Raw)
		}
		wantBad(t, in.Report, wire.CodeHandlerTimeout)
		if seen[in.ID] {
			t.Fatalf("second report for %s", in.ID)
		}
		seen[in.ID] = true
	}
	close(stop)
	if most := <-polled; most > 2 {
		t.Fatalf("the handler held %d messages of one connection; max_in_flight is 2", most)
	}
	if len(seen) != n {
		t.Fatalf("%d reports, want %d", len(seen), n)
	}
	// The connection is still usable.
	if err := c.Send(wire.TypeDummy, "after", nil); err != nil {
		t.Fatal(err)
	}
	if in := recv(t, c); in.Kind != client.KindDummy {
		t.Fatalf("want the dummy reply, got %s", in.Raw)
	}
}

// TestClientFanOut sends messages to many users at once, half of them
// speaking JSON and half CBOR: each connection gets every message once,
// with its data and sender, although one delivery message is shared by
// all connections of a codec and encoded once for them.
func TestClientFanOut(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor", `env = { TESTHANDLER_ACT = "relay" }`))
	sender := ts.dial("T", wire.CodecJSON)
	const users, messages = 40, 20
	names := make([]string, users)
	conns := make([]*client.Client, users)
	for i := range names {
		names[i] = fmt.Sprintf("U%d", i)
		codec := wire.CodecJSON
		if i%2 == 1 {
			codec = wire.CodecCBOR
		}
		conns[i] = ts.dial(names[i], codec)
	}
	for n := range messages {
		if err := sender.Send("h", fmt.Sprint(n), map[string]any{"to": names, "body": n}); err != nil {
			t.Fatal(err)
		}
	}
	reported := map[string]bool{}
	for range messages { // the handler answers in any order
		in := recv(t, sender)
		if in.Report == nil || reported[in.ID] {
			t.Fatalf("want one report per message, got %s %s", in.Kind, in.Raw)
		}
		wantGood(t, in.Report)
		reported[in.ID] = true
	}
	for i, c := range conns {
		got := map[int]bool{}
		for range messages {
			var n int
			in := expectDelivery(t, c, &n)
			if n < 0 || n >= messages || got[n] || in.From != (wire.Address{Server: "J", User: "T"}) {
				t.Fatalf("%s got message %d from %v: unknown, or a second time", names[i], n, in.From)
			}
			got[n] = true
		}
	}
}
