package actors

import (
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
)

// wirePolicyHandlers are a handler of each codec, both running the test
// handler, whose act "echo" would deliver the data back to its sender.
var wirePolicyHandlers = handlerBlock("hjson", "stream", "json") + handlerBlock("hcbor", "stream", "cbor")

// TestInvalidTextIsBadMessage: data with text that is not UTF-8 (or, in
// JSON, a lone surrogate) gets bad_message, in either codec, and never
// reaches the handler: the next thing the client gets is the answer to
// its next message, not an echo of the bad one.
func TestInvalidTextIsBadMessage(t *testing.T) {
	ts := startServer(t, wirePolicyHandlers)
	cases := []struct {
		codec   wire.Codec
		handler string
		data    wire.RawValue
	}{
		{wire.CodecJSON, "hjson", wire.RawValue("{\"act\":\"echo\",\"x\":\"caf\xe9\"}")},
		{wire.CodecJSON, "hjson", wire.RawValue(`{"act":"echo","x":"\ud800"}`)},
		{wire.CodecJSON, "hcbor", wire.RawValue("{\"act\":\"echo\",\"x\":\"\xff\"}")},
		// {"act": "echo", "x": "caf\xe9"}
		{wire.CodecCBOR, "hcbor", wire.RawValue("\xa2\x63act\x64echo\x61x\x64caf\xe9")},
		{wire.CodecCBOR, "hjson", wire.RawValue("\xa2\x63act\x64echo\x61x\x64caf\xe9")},
	}
	for _, tc := range cases {
		r := ts.dialRaw(t, tc.codec)
		r.login("T")
		r.send(msg(tc.handler, "m-bad", tc.data))
		rep := r.expectReport("m-bad")
		wantBad(t, rep, wire.CodeBadMessage)
		if !strings.Contains(rep.Header.Detail, "UTF-8") {
			t.Errorf("%s to %s: detail %q does not say what is wrong", tc.codec, tc.handler, rep.Header.Detail)
		}
		r.dummy("m-next")
	}
}

// TestHugeIntegerDoesNotStallHandler: a JSON integer of a million digits
// for a CBOR handler gets a clear bad report at once, and another user's
// messages through the same handler are not held up meanwhile.
func TestHugeIntegerDoesNotStallHandler(t *testing.T) {
	ts := startServer(t, handlerBlock("hcbor", "stream", "cbor"))
	other := ts.dial("G", wire.CodecJSON)
	wantBad(t, sendForReport(t, other, "hcbor", "warm-up", map[string]any{"act": "fail"}), wire.CodeHandlerError)

	huge := ts.dialRaw(t, wire.CodecJSON)
	huge.login("T")
	huge.send(msg("hcbor", "m-huge", wire.RawValue(`{"act":"echo","n":`+strings.Repeat("7", 1_000_000)+`}`)))
	// The report is read on the side, without t: only the test's own
	// goroutine may fail it.
	reports := make(chan *wire.StatusReport, 1)
	go func() {
		var rep wire.StatusReport
		body, err := wire.ReadFrame(huge.conn, wire.DefaultMaxFrame, nil)
		if err == nil && wire.CodecJSON.UnmarshalMap(body, &rep) == nil {
			reports <- &rep
		}
	}()

	// Generous, for loaded machines and the race detector: converting the
	// integer in the handler's link held everyone up for about 11 s.
	const bound = 2 * time.Second
	var slowest time.Duration
	var rep *wire.StatusReport
	deadline := time.Now().Add(waitLong)
	for i, after := 0, 0; after < 5 && time.Now().Before(deadline); i++ {
		start := time.Now()
		wantBad(t, sendForReport(t, other, "hcbor", "g-"+string(rune('a'+i%26)), map[string]any{"act": "fail"}), wire.CodeHandlerError)
		slowest = max(slowest, time.Since(start))
		select {
		case rep = <-reports:
		default:
		}
		if rep != nil {
			after++
		}
	}
	if rep == nil {
		t.Fatal("no report for the message with the huge integer")
	}
	if rep.Payload.ID != "m-huge" {
		t.Fatalf("want the report of m-huge, got %+v", rep)
	}
	wantBad(t, rep, wire.CodeBadMessage)
	if !strings.Contains(rep.Header.Detail, "integer of 1000000 digits") {
		t.Errorf("detail %q does not say what is wrong", rep.Header.Detail)
	}
	if slowest > bound {
		t.Errorf("another user's message took %s meanwhile, want under %s", slowest, bound)
	}
}
