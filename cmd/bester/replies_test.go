package main

import (
	"testing"

	"github.com/bester-project/bester/wire"
)

// TestSendWaitReplies: deliveries that come before the report print after
// it, and -replies stops send once its count has printed, the rest unshown.
func TestSendWaitReplies(t *testing.T) {
	delivery := func(body string) *wire.Delivery {
		return &wire.Delivery{
			Header:  wire.DeliveryHeader{MessageType: wire.MessageTypeReceived, From: wire.Address{Server: "J", User: "E"}},
			Payload: wire.DeliveryPayload{Type: "echo", Data: []byte(body)},
		}
	}
	addr := fakeServer(t, delivery(`"one"`), delivery(`"two"`), delivery(`"three"`))
	e, out, errs := testEnv("")
	// The wait outlasts the test's timeout: only the count can end send in time.
	code := runWith(t, e, "send", "-addr", addr, "-user", "T", "-type", "ok", "-codec", "json",
		"-wait-reply", "1h", "-replies", "2")
	want := "good m-1\nfrom E@J type echo: \"one\"\nfrom E@J type echo: \"two\"\n"
	if code != 0 || out.String() != want || errs.String() != "" {
		t.Fatalf("status %d, stdout %q, stderr %q; want 0, %q", code, out, errs, want)
	}
}
