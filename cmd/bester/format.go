package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// reportLine is a status report for people: `good m-1`, or
// `bad m-1 undelivered: G2 is not connected [G2]`.
func reportLine(r *wire.StatusReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Header.Status, r.Payload.ID)
	if r.Header.Error != "" {
		fmt.Fprintf(&b, " %s", r.Header.Error)
		if r.Header.Detail != "" {
			b.WriteString(":")
		}
	}
	if r.Header.Detail != "" {
		fmt.Fprintf(&b, " %s", r.Header.Detail)
	}
	if len(r.Payload.Undelivered) > 0 {
		fmt.Fprintf(&b, " [%s]", strings.Join(r.Payload.Undelivered, " "))
	}
	return b.String()
}

// messageLine is one incoming message for people; deliveries read
// `from T@J type relay: {"body":"hello"}`.
func messageLine(in *client.Incoming, codec wire.Codec) string {
	switch in.Kind {
	case wire.MessageTypeReceived:
		return fmt.Sprintf("from %s type %s: %s", addressText(in.From), in.Type, dataText(in.Data, codec))
	case wire.MessageTypeStatusReport:
		return reportLine(in.Report)
	case client.KindDummy:
		return fmt.Sprintf("dummy %s", in.ID)
	}
	return fmt.Sprintf("message %q type %s id %s: %s", in.Kind, in.Type, in.ID, dataText(in.Data, codec))
}

// addressText writes an address as user@server.
func addressText(a wire.Address) string {
	if a.Server == "" {
		return a.User
	}
	return a.User + "@" + a.Server
}

// dataText shows data as compact JSON; CBOR with no JSON form is shown in
// CBOR diagnostic notation instead, and anything unreadable in hex.
func dataText(data wire.RawValue, codec wire.Codec) string {
	if len(data) == 0 {
		return "null"
	}
	if codec == wire.CodecCBOR {
		js, err := wire.Convert(data, wire.CodecCBOR, wire.CodecJSON)
		if err == nil {
			return string(js)
		}
		if diag, err := cbor.Diagnose(data); err == nil {
			return diag
		}
		return "h'" + hex.EncodeToString(data) + "'"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return string(data)
	}
	return b.String()
}
