package wire_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/bester-project/bester/wire"
	"github.com/fxamacker/cbor/v2"
)

// codecs are the two concrete codecs, for tests that run in both.
var codecs = []wire.Codec{wire.CodecCBOR, wire.CodecJSON}

func TestParseCodec(t *testing.T) {
	for _, c := range []wire.Codec{wire.CodecAuto, wire.CodecCBOR, wire.CodecJSON} {
		got, err := wire.ParseCodec(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCodec(%q) = %v, %v", c.String(), got, err)
		}
	}
	if c, err := wire.ParseCodec(""); err != nil || c != wire.CodecAuto {
		t.Errorf(`ParseCodec("") = %v, %v; want auto`, c, err)
	}
	if _, err := wire.ParseCodec("xml"); err == nil {
		t.Error(`ParseCodec("xml") gave no error`)
	}
}

func TestDetectCodec(t *testing.T) {
	cases := []struct {
		first []byte
		want  wire.Codec
	}{
		{[]byte("{}"), wire.CodecJSON},
		{[]byte(" {}"), wire.CodecJSON},
		{[]byte("\t{}"), wire.CodecJSON},
		{[]byte("\r\n{}"), wire.CodecJSON},
		{[]byte{0xa0}, wire.CodecCBOR},
		{[]byte{0xa3}, wire.CodecCBOR},
		{[]byte{0xb7}, wire.CodecCBOR},
		{[]byte{0xb8, 24}, wire.CodecCBOR},
		{[]byte{0xbf, 0xff}, wire.CodecCBOR},
	}
	for _, tc := range cases {
		if got, err := wire.DetectCodec(tc.first); err != nil || got != tc.want {
			t.Errorf("DetectCodec(% x) = %v, %v; want %v", tc.first, got, err, tc.want)
		}
	}
	for _, bad := range [][]byte{nil, []byte("[]"), []byte(`"x"`), []byte("null"), {0x80}, {0x9f}, {0xc0}, {0xf6}, {0x00}} {
		if got, err := wire.DetectCodec(bad); err == nil {
			t.Errorf("DetectCodec(% x) = %v, want an error", bad, got)
		}
	}
}

func TestUnmarshalMapRejectsNonMaps(t *testing.T) {
	bad := map[wire.Codec][][]byte{
		wire.CodecJSON: {nil, []byte(""), []byte("  "), []byte("[]"), []byte(`[{"payload":{}}]`),
			[]byte("null"), []byte("1"), []byte(`"x"`), []byte("true"), []byte("{} {}"), []byte(`{"payload":`)},
		wire.CodecCBOR: {nil, {0x80}, {0x81, 0xa0}, {0xf6}, {0x01}, {0x61, 'x'}, {0xf5},
			{0xd9, 0xd9, 0xf7, 0xa0}, // self-described CBOR: a tag, not a map
			{0xa0, 0x00}, {0xa1}, {0xbf}},
	}
	for c, bodies := range bad {
		for _, b := range bodies {
			var e wire.Envelope
			if err := c.UnmarshalMap(b, &e); err == nil {
				t.Errorf("%s: UnmarshalMap(%q) accepted a non-map", c, b)
			}
		}
	}
}

func TestUnmarshalNeedsConcreteCodec(t *testing.T) {
	var e wire.Envelope
	if err := wire.CodecAuto.UnmarshalMap([]byte("{}"), &e); err == nil {
		t.Error("CodecAuto.UnmarshalMap gave no error")
	}
	if err := wire.CodecAuto.Unmarshal([]byte("{}"), &e); err == nil {
		t.Error("CodecAuto.Unmarshal gave no error")
	}
	if _, err := wire.CodecAuto.Marshal(&e); err == nil {
		t.Error("CodecAuto.Marshal gave no error")
	}
}

func TestCBORDuplicateKeys(t *testing.T) {
	payload := cborMap(cborText("type"), cborText("a"), cborText("id"), cborText("1"))
	bodies := map[string][]byte{
		"top level": cborMap(cborText("payload"), payload, cborText("payload"), payload),
		"payload": cborMap(cborText("payload"),
			cborMap(cborText("type"), cborText("a"), cborText("type"), cborText("b"))),
		"header": cborMap(cborText("header"),
			cborMap(cborText("scope"), cborText("client"), cborText("scope"), cborText("server"))),
	}
	for name, b := range bodies {
		var e wire.Envelope
		err := wire.CodecCBOR.UnmarshalMap(b, &e)
		var dup *cbor.DupMapKeyError
		if !errors.As(err, &dup) {
			t.Errorf("%s: got %v, want a duplicate key error", name, err)
		}
	}
}

// TestCBORDataIsOpaque: duplicates and tags inside data are the handler's
// business, not the envelope's.
func TestCBORDataIsOpaque(t *testing.T) {
	data := unhex(t, "a2 6161 01 6161 02")
	b := cborMap(cborText("payload"), cborMap(cborText("type"), cborText("t"), cborText("data"), data))
	var e wire.Envelope
	if err := wire.CodecCBOR.UnmarshalMap(b, &e); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.Payload.Data, data) {
		t.Fatalf("data % x, want % x", e.Payload.Data, data)
	}
}

func TestCBORFieldNamesAreCaseSensitive(t *testing.T) {
	b := cborMap(cborText("Payload"), cborMap(cborText("type"), cborText("t")))
	var e wire.Envelope
	if err := wire.CodecCBOR.UnmarshalMap(b, &e); err != nil {
		t.Fatal(err)
	}
	if e.Payload != nil {
		t.Fatalf("\"Payload\" filled payload: %+v", e.Payload)
	}
}

func TestEnvelopeKeepsDataBytes(t *testing.T) {
	data := unhex(t, nonCanonicalData)
	body := cborMap(
		cborText("header"), cborMap(cborText("scope"), cborText("client"),
			cborText("authentication"), cborMap(cborText("username"), cborText("T"), cborText("password"), cborText("pw"))),
		cborText("payload"), cborMap(cborText("type"), cborText("afrikaans"), cborText("id"), cborText("m-1"), cborText("data"), data),
	)
	var e wire.Envelope
	if err := wire.CodecCBOR.UnmarshalMap(body, &e); err != nil {
		t.Fatal(err)
	}
	if e.Header == nil || e.Header.Scope != wire.ScopeClient || e.Header.Authentication.Username != "T" ||
		e.Payload == nil || e.Payload.Type != "afrikaans" || e.Payload.ID != "m-1" {
		t.Fatalf("decoded %+v / %+v", e.Header, e.Payload)
	}
	if !bytes.Equal(e.Payload.Data, data) {
		t.Fatalf("data % x, want % x", e.Payload.Data, data)
	}
	// The body buffer is reused by readers: data must not alias it.
	clear(body)
	if !bytes.Equal(e.Payload.Data, data) {
		t.Fatal("data aliases the body")
	}
	out, err := wire.CodecCBOR.Marshal(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, data) {
		t.Fatalf("re-encoded payload % x does not hold the data bytes % x", out, data)
	}
	var p wire.Payload
	if err := wire.CodecCBOR.UnmarshalMap(out, &p); err != nil || !bytes.Equal(p.Data, data) {
		t.Fatalf("second decode: % x, %v", p.Data, err)
	}
}

func TestJSONEnvelopeKeepsDataBytes(t *testing.T) {
	const data = `{ "b" : [1, 1.0, 1e2] , "a":"\u00e9" }`
	body := []byte(`{"payload":{"type":"t","id":"m-1","data":` + data + `}}`)
	var e wire.Envelope
	if err := wire.CodecJSON.UnmarshalMap(body, &e); err != nil {
		t.Fatal(err)
	}
	if string(e.Payload.Data) != data {
		t.Fatalf("data %s, want %s", e.Payload.Data, data)
	}
}

func TestEnvelopeWrongFieldTypes(t *testing.T) {
	bodies := map[wire.Codec][][]byte{
		wire.CodecJSON: {
			[]byte(`{"payload":{"type":"t","id":1}}`),
			[]byte(`{"payload":{"type":7}}`),
			[]byte(`{"payload":"x"}`),
			[]byte(`{"header":{"scope":1}}`),
			[]byte(`{"header":{"authentication":["T","pw"]}}`),
			[]byte(`{"payload":{"type":"t","id":"1","data":}}`),
		},
		wire.CodecCBOR: {
			cborMap(cborText("payload"), cborMap(cborText("type"), cborText("t"), cborText("id"), []byte{0x01})),
			cborMap(cborText("payload"), cborMap(cborText("type"), []byte{0x07})),
			cborMap(cborText("payload"), cborText("x")),
			cborMap(cborText("header"), cborMap(cborText("scope"), []byte{0x01})),
			cborMap(cborText("header"), cborMap(cborText("authentication"), []byte{0x82, 0x61, 'T', 0x62, 'p', 'w'})),
			cborMap(cborText("payload"), cborMap(cborText("id"), []byte{0x41, '1'})), // byte string, not text
		},
	}
	for c, list := range bodies {
		for _, b := range list {
			var e wire.Envelope
			if err := c.UnmarshalMap(b, &e); err == nil {
				t.Errorf("%s: accepted %q as %+v", c, b, e.Payload)
			}
		}
	}
}

func TestAbsentDataMarshalsAsNull(t *testing.T) {
	p := &wire.Payload{Type: "t", ID: "1"}
	js, err := wire.CodecJSON.Marshal(p)
	if err != nil || string(js) != `{"type":"t","id":"1","data":null}` {
		t.Fatalf("json: %s, %v", js, err)
	}
	cb, err := wire.CodecCBOR.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := cbor.Diagnose(cb); d != `{"id": "1", "data": null, "type": "t"}` {
		t.Fatalf("cbor: %s", d)
	}
	for _, c := range codecs {
		var e wire.Envelope
		b, _ := c.Marshal(&wire.Envelope{Payload: p})
		if err := c.UnmarshalMap(b, &e); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		var v any = 1
		if err := c.Unmarshal(e.Payload.Data, &v); err != nil || v != nil {
			t.Fatalf("%s: data %q decodes to %v, %v; want null", c, e.Payload.Data, v, err)
		}
	}
}

// TestServerMessageShapes pins the JSON of what the server writes to the
// examples of protocol §3 and §4.
func TestServerMessageShapes(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{wire.NewDummyReply("d-1"),
			`{"header":{"status":"0"},"payload":{"type":"dummy","id":"d-1","data":null}}`},
		{wire.GoodReport(wire.IDAuth),
			`{"header":{"messageType":"statusReport","status":"good"},"payload":{"id":"auth_special"}}`},
		{wire.BadReport("m-1", wire.Errorf(wire.CodeUndelivered, "%d of %d not delivered", 1, 2), []string{"G2"}),
			`{"header":{"messageType":"statusReport","status":"bad","error":"undelivered","detail":"1 of 2 not delivered"},"payload":{"id":"m-1","undelivered":["G2"]}}`},
		{&wire.Delivery{
			Header:  wire.DeliveryHeader{MessageType: wire.MessageTypeReceived, From: wire.Address{Server: "J", User: "T"}},
			Payload: wire.DeliveryPayload{Type: "afrikaans", Data: wire.RawValue(`{"a":"<b>"}`)}},
			`{"header":{"messageType":"receivedMessage","from":{"server":"J","user":"T"}},"payload":{"type":"afrikaans","data":{"a":"<b>"}}}`},
	}
	for _, tc := range cases {
		got, err := wire.CodecJSON.Marshal(tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("got  %s (%v)\nwant %s", got, err, tc.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	err := wire.Errorf(wire.CodeUnauthorized, "user %q", "T")
	if got := err.Error(); got != `unauthorized: user "T"` {
		t.Fatalf("got %q", got)
	}
	var we *wire.Error
	if !errors.As(error(err), &we) || we.Code != wire.CodeUnauthorized {
		t.Fatal("errors.As failed")
	}
}

func TestSampleEnvelopesDecode(t *testing.T) {
	for _, c := range codecs {
		for _, b := range sampleEnvelopes(t, c) {
			if got, err := wire.DetectCodec(b); err != nil || got != c {
				t.Fatalf("DetectCodec = %v, %v; want %v", got, err, c)
			}
			var e wire.Envelope
			if err := c.UnmarshalMap(b, &e); err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			if e.Payload == nil || !strings.HasPrefix(e.Payload.ID, "m-") {
				t.Fatalf("%s: payload %+v", c, e.Payload)
			}
		}
	}
}

// TestCBORDataWithBadBuiltinTag: data that the encoder would refuse to
// write (tags 0 to 3 around the wrong kind of content) is refused on the
// way in, so that accepted data can always be passed on.
func TestCBORDataWithBadBuiltinTag(t *testing.T) {
	body := func(data []byte) []byte {
		return cborMap(cborText("payload"), cborMap(cborText("type"), cborText("t"), cborText("data"), data))
	}
	for _, h := range []string{"c0 01", "a1 6161 c1 6161", "82 00 c2 6161", "c3 f6", "d8 64 c0 20"} {
		var e wire.Envelope
		if err := wire.CodecCBOR.UnmarshalMap(body(unhex(t, h)), &e); err == nil {
			t.Errorf("data %s accepted", h)
		}
	}
	for _, h := range []string{"c0 6161", "c1 1a 5f5e1000", "c2 41 01", "d8 64 01", "62 c280", "19 c0c0"} {
		data := unhex(t, h)
		var e wire.Envelope
		if err := wire.CodecCBOR.UnmarshalMap(body(data), &e); err != nil {
			t.Errorf("data %s refused: %v", h, err)
			continue
		}
		if out, err := wire.CodecCBOR.Marshal(&e); err != nil || !bytes.Contains(out, data) {
			t.Errorf("data %s: re-encoded % x, %v", h, out, err)
		}
	}
}

func TestPeekID(t *testing.T) {
	cases := map[wire.Codec]map[string]string{
		wire.CodecJSON: {
			`{"payload":{"type":7,"id":"m-1"}}`:   "m-1",
			`{"payload":{"id":5}}`:                "",
			`[1]`:                                 "",
			`{"payload":{"id":"m-2","data":[1,}}`: "",
			"{\"payload\":{\"id\":\"m-4\",\"data\":\"\xff\"}}": "m-4",
			"{\"payload\":{\"id\":\"m-\xff\"}}":                "",
		},
		wire.CodecCBOR: {
			string(cborMap(cborText("payload"), cborMap(cborText("type"), []byte{0x07}, cborText("id"), cborText("m-1")))):       "m-1",
			string(cborMap(cborText("payload"), cborMap(cborText("id"), []byte{0x05}))):                                          "",
			string(cborMap(cborText("payload"), cborMap(cborText("id"), cborText("m-3"), cborText("data"), []byte{0xc0, 0x01}))): "m-3",
			"\x82\x01": "",
		},
	}
	for c, bodies := range cases {
		for body, want := range bodies {
			if got := wire.PeekID(c, []byte(body)); got != want {
				t.Errorf("%s: PeekID(%q) = %q, want %q", c, body, got, want)
			}
		}
	}
}

// A request carries its origin in both codecs, and leaves the key out
// when no writer is known, so that handlers that predate it see the
// request as before.
func TestHandlerRequestOrigin(t *testing.T) {
	for _, c := range []wire.Codec{wire.CodecCBOR, wire.CodecJSON} {
		with := wire.HandlerRequest{ID: 3, Type: "relay", From: wire.From{Scope: wire.FromServer, Name: "A", Server: "A"},
			Origin: wire.Address{Server: "A", User: "T"}}
		var back wire.HandlerRequest
		var buf bytes.Buffer
		if err := c.AppendFrame(&buf, &with); err != nil {
			t.Fatal(err)
		}
		if err := c.UnmarshalMap(buf.Bytes()[wire.FrameHeaderSize:], &back); err != nil || back.Origin != with.Origin {
			t.Fatalf("%s: origin came back as %+v, %v", c, back.Origin, err)
		}
		var keys map[string]any
		without, _ := c.Marshal(&wire.HandlerRequest{ID: 3, Type: "relay"})
		if err := c.UnmarshalMap(without, &keys); err != nil {
			t.Fatal(err)
		}
		if _, ok := keys["origin"]; ok || len(keys) != 4 {
			t.Fatalf("%s: a request without origin has keys %v", c, keys)
		}
	}
}
