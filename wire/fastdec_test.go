package wire

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/fxamacker/cbor/v2"
)

// fastTargets make a zero value of each message read directly.
var fastTargets = []func() any{
	func() any { return new(Envelope) },
	func() any { return new(HandlerResponse) },
	func() any { return new(HandlerRequest) },
	func() any { return new(Incoming) },
}

// checkFastDecode holds the direct readers to the strict decoder on body,
// read as each of the messages: what a direct reader takes, the strict
// decoder takes too and decodes to the same value; what it refuses, it
// leaves untouched; and UnmarshalMap gives the strict decoder's result,
// errors included. It returns the messages read directly.
func checkFastDecode(t *testing.T, body []byte) (taken []string) {
	t.Helper()
	for _, target := range fastTargets {
		fast, strict, hooked := target(), target(), target()
		ok := fastUnmarshalMap(body, fast)
		err := decMode.Unmarshal(body, strict)
		name := reflect.TypeOf(fast).Elem().Name()
		if ok {
			taken = append(taken, name)
			if err != nil || !reflect.DeepEqual(fast, strict) {
				t.Fatalf("%x as %s: read directly as %s; strict decoder: %s, %v",
					body, name, dump(fast), dump(strict), err)
			}
		} else if !reflect.DeepEqual(fast, target()) {
			t.Fatalf("%x as %s: refused, but left %s", body, name, dump(fast))
		}
		if len(body) == 0 || body[0]>>5 != majorMap {
			continue // UnmarshalMap refuses it before decoding
		}
		herr := CodecCBOR.UnmarshalMap(body, hooked)
		if fmt.Sprint(herr) != fmt.Sprint(err) || !reflect.DeepEqual(hooked, strict) {
			t.Fatalf("%x as %s: UnmarshalMap gave %s, %v; strict decoder %s, %v",
				body, name, dump(hooked), herr, dump(strict), err)
		}
	}
	checkView(t, body)
	return taken
}

// checkView holds ViewIncoming to the strict decoder on body: it fails
// when the strict decoder does, with its error, and otherwise gives what
// the strict decoder gives as an Incoming; it reads in place exactly the
// bodies readIncoming takes.
func checkView(t *testing.T, body []byte) {
	t.Helper()
	var strict Incoming
	err := CodecCBOR.UnmarshalMap(body, &strict)
	var v IncomingView
	verr := CodecCBOR.ViewIncoming(body, &v)
	if fmt.Sprint(verr) != fmt.Sprint(err) {
		t.Fatalf("%x: ViewIncoming gave %v, UnmarshalMap %v", body, verr, err)
	}
	var w IncomingView
	if inPlace, fast := viewIncoming(body, &w), readIncoming(body, new(Incoming)); inPlace != fast {
		t.Fatalf("%x: read in place %v, read directly as an Incoming %v", body, inPlace, fast)
	}
	if err != nil {
		return
	}
	h, p := &strict.Header, &strict.Payload
	got := []any{v.MessageType, v.Status, v.Error, string(v.Detail), string(v.FromServer), string(v.FromUser),
		string(v.Type), string(v.ID), v.Data == nil, string(v.Data), v.Undelivered}
	want := []any{h.MessageType, h.Status, h.Error, h.Detail, h.From.Server, h.From.User,
		p.Type, p.ID, p.Data == nil, string(p.Data), len(p.Undelivered)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%x: viewed as %q, decoded as %q", body, got, want)
	}
}

// dump shows a message with what its pointers point to.
func dump(v any) string {
	switch m := v.(type) {
	case *Envelope:
		return fmt.Sprintf("{Header:%+v Payload:%+v}", m.Header, m.Payload)
	case *HandlerResponse:
		id := "nil"
		if m.ID != nil {
			id = fmt.Sprint(*m.ID)
		}
		return fmt.Sprintf("{ID:%s Header:{Status:%q Command:%+v} Data:%x}", id, m.Header.Status, m.Header.Command, m.Data)
	case *Incoming:
		// Undelivered may be nil or empty: the decoders must agree.
		return fmt.Sprintf("{Header:%+v Payload:{Type:%q ID:%q Data:%x Undelivered:%#v}}",
			m.Header, m.Payload.Type, m.Payload.ID, m.Payload.Data, m.Payload.Undelivered)
	}
	return fmt.Sprintf("%+v", v)
}

func fromHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// usualMessages are the messages as the server, the handler SDK and
// clients write them, all of which the direct readers must take.
func usualMessages(t testing.TB) [][]byte {
	id := uint64(70000)
	data := sampleData(t)
	var out [][]byte
	for _, v := range []any{
		&Envelope{Payload: &Payload{Type: "relay", ID: "m-1", Data: data}},
		&Envelope{Payload: &Payload{Type: "relay", ID: "m-2"}},
		&Envelope{Payload: &Payload{Type: "relay", ID: "é", Data: mustCBOR(t, strings.Repeat("x", 70000))}},
		&HandlerResponse{ID: &id, Header: ResponseHeader{Status: HandlerStatusOK, Command: &Command{
			Type: CommandSendClients, Data: mustCBOR(t, []string{"G", "G2"})}}, Data: data},
		&HandlerResponse{ID: &id, Header: ResponseHeader{Status: "1"}, Data: mustCBOR(t, "failed")},
		&HandlerResponse{Header: ResponseHeader{Status: HandlerStatusOK}},
		&HandlerRequest{ID: 7, Type: "relay", From: From{Scope: FromClient, Name: "T", Server: "J"}, Data: data},
		&HandlerRequest{ID: 1<<64 - 1, Type: "relay", From: From{Scope: FromServer, Name: "T", Server: "J"}},
		&HandlerRequest{ID: 8, Type: "relay", From: From{Scope: FromServer, Name: "K", Server: "K"}, Data: data,
			Origin: Address{Server: "K", User: "T"}},
	} {
		out = append(out, mustCBOR(t, v))
	}
	return append(out, clientMessages(t)...)
}

// clientMessages are the messages a server writes to a client, all of
// which are read directly as an Incoming.
func clientMessages(t testing.TB) [][]byte {
	data := sampleData(t)
	var out [][]byte
	for _, v := range []any{
		GoodReport("m-12345"),
		GoodReport(IDAuth),
		BadReport("m-12345", Errorf(CodeUndelivered, "1 of 3 recipients not connected"), []string{"G2", "G3"}),
		BadReport("", Errorf(CodeBadMessage, "payload.type: missing"), nil),
		BadReport("m-1", &Error{Code: "a_new_code", Detail: "é"}, make([]string, 300)),
		&Delivery{Header: DeliveryHeader{MessageType: MessageTypeReceived, From: Address{Server: "J", User: "T"}},
			Payload: DeliveryPayload{Type: "relay", Data: data}},
		&Delivery{Header: DeliveryHeader{MessageType: MessageTypeReceived, From: Address{Server: "J", User: "T"}},
			Payload: DeliveryPayload{Type: "relay", Data: mustCBOR(t, "hello, wêreld")}},
		NewDummyReply("p"),
		&DummyReply{Header: DummyHeader{Status: HandlerStatusOK}, Payload: DummyPayload{Type: TypeDummy, ID: "p", Data: data}},
	} {
		out = append(out, mustCBOR(t, v))
	}
	return out
}

// unusualMessages are hand-picked edge cases, with the messages each one
// is read directly as: E an Envelope, R a HandlerResponse, Q a
// HandlerRequest, I an Incoming. The strict decoder has the rest.
var unusualMessages = []struct{ hex, taken, why string }{
	{"a0", "ERQI", "empty map"},
	{"a1 62 6964 1b ffffffffffffffff", "RQ", "largest id"},
	{"a1 62 6964 18 05", "RQ", "id with a longer head than needed"},
	{"a1 78 02 6964 05", "RQ", "key with a longer head than needed"},
	{"a1 62 6964 f7", "R", "undefined id: nil in a response, refused in a request"},
	{"a1 62 6964 20", "", "negative id"},
	{"a1 62 6964 c2 41 05", "", "bignum id: the strict decoder takes it"},
	{"a1 62 6964 d9d9f7 05", "", "self-described CBOR: the strict decoder drops the tag"},
	{"a1 62 6964 f9 3c00", "", "float id"},
	{"a1 62 6964 e0", "", "simple value id: the strict decoder reads it as 0"},
	{"a1 62 4944 01", "", "\"ID\": case matters, unknown key"},
	{"a1 42 6964 01", "", "byte string key"},
	{"a1 7f 62 6964 ff 01", "", "indefinite-length key"},
	{"a1 01 02", "", "integer key"},
	{"a2 62 6964 01 62 6964 02", "", "repeated key"},
	{"a2 62 6964 01 78 02 6964 02", "", "repeated key, written two ways"},
	{"a2 62 6964 01 65 6578747261 02", "", "unknown key"},
	{"bf 62 6964 01 ff", "", "indefinite-length map"},
	{"a2 62 6964 01", "", "one pair short"},
	{"a1 62 6964 01 00", "", "trailing byte"},
	{"a1 64 64617461 f6", "RQ", "null data: RawValue f6"},
	{"a1 64 64617461 f7", "RQ", "undefined data"},
	{"a1 64 64617461 a2 6161 01 6161 02", "RQ", "repeated key inside data: the strict decoder takes it"},
	{"a1 64 64617461 a1 01 02", "RQ", "integer key inside data"},
	{"a1 64 64617461 61 ff", "", "text not UTF-8 inside data: refused by RawValue.UnmarshalCBOR"},
	{"a1 64 64617461 c0 01", "", "tag 0 around an integer: refused by RawValue.UnmarshalCBOR"},
	{"a1 64 64617461 c2 41 01", "", "bignum data"},
	{"a1 64 64617461 7f 61 61 ff", "", "indefinite-length text in data"},
	{"a1 64 64617461 9f ff", "", "indefinite-length array in data"},
	{"a1 64 64617461 f8 20", "", "two-byte simple value"},
	{"a1 64 64617461 f8 10", "", "two-byte simple value below 32: malformed"},
	{"a1 64 64617461 e0", "", "one-byte simple value"},
	{"a1 64 64617461 fc", "", "reserved head"},
	{"a1 64 64617461 ff", "", "break outside an indefinite length"},
	{"a1 64 64617461 f9 7e00", "RQ", "NaN"},
	{"a1 64 64617461 fa 7f800000", "RQ", "infinity"},
	{"a1 64 64617461 fb 3ff8000000000000", "RQ", "1.5"},
	{"a1 64 64617461 3b ffffffffffffffff", "RQ", "most negative integer"},
	{"a1 64 64617461 82 01", "", "truncated array"},
	{"a1 64 64617461 9b ffffffffffffffff", "", "huge count"},
	{"a1 64 64617461 7b ffffffffffffffff", "", "huge length"},
	{"a1 64 64617461 5b 8000000000000000", "", "length past int"},
	{"a1 66 686561646572 a1 66 737461747573 61 ff", "", "invalid UTF-8 status"},
	{"a1 66 686561646572 a1 66 737461747573 7f 61 30 ff", "", "indefinite-length status"},
	{"a1 66 686561646572 a1 67 636f6d6d616e64 f6", "R", "null command"},
	{"a1 66 686561646572 a1 67 636f6d6d616e64 a1 64 64617461 81 61 47", "R", "command with data only"},
	{"a1 66 686561646572 f6", "EI", "null header of a response"},
	{"a1 66 686561646572 a1 65 73636f7065 66 636c69656e74", "", "envelope header: left to the strict decoder"},
	{"a1 67 7061796c6f6164 f6", "EI", "null payload"},
	{"a1 67 7061796c6f6164 a2 64 74797065 61 74 64 74797065 61 75", "", "repeated key inside payload"},
	{"a1 67 7061796c6f6164 a1 64 74797065 41 74", "", "byte string type"},
	{"a2 66 686561646572 f6 67 7061796c6f6164 a1 62 6964 61 31", "EI", "null header and a payload"},
	{"a1 64 66726f6d a1 65 73636f7065 f6", "", "null scope"},
	{"a1 64 66726f6d f6", "", "null from"},
	{"a1 64 66726f6d a3 64 6e616d65 60 65 73636f7065 60 66 736572766572 60", "Q", "empty names"},
	{"a1 64 66726f6d a4 64 6e616d65 60 65 73636f7065 60 66 736572766572 60 64 6e616d65 60", "", "four pairs for three keys"},
	// 66 6f726967696e origin.
	{"a1 66 6f726967696e a2 64 75736572 61 54 66 736572766572 61 4b", "Q", "origin of a request, as written"},
	{"a1 66 6f726967696e a1 66 736572766572 61 4b", "Q", "origin without a user"},
	{"a1 66 6f726967696e a0", "Q", "empty origin"},
	{"a1 66 6f726967696e f6", "", "null origin: left to the strict decoder"},
	{"a1 66 6f726967696e a1 64 75736572 f6", "", "null user in origin"},
	{"a1 66 6f726967696e a1 64 75736572 61 ff", "", "origin user not UTF-8"},
	{"a1 66 6f726967696e a2 64 75736572 60 64 75736572 60", "", "repeated key inside origin"},
	{"a1 66 6f726967696e a1 64 6e616d65 60", "", "unknown key inside origin"},
	{"a1 67 7061796c6f6164 a1 64 64617461 " + strings.Repeat("81", fastMaxDepth) + "00", "EI", "data nested as deep as taken"},
	{"a1 67 7061796c6f6164 a1 64 64617461 " + strings.Repeat("81", fastMaxDepth+1) + "00", "", "one deeper"},
	{"a1 67 7061796c6f6164 a1 64 64617461 " + strings.Repeat("81", maxNestedLevels-2) + "00", "", "as deep as the strict decoder takes"},
	{"a1 67 7061796c6f6164 a1 64 64617461 " + strings.Repeat("81", maxNestedLevels-1) + "00", "", "one deeper"},
	{"a1 66 686561646572 a1 67 636f6d6d616e64 a1 64 64617461 " + strings.Repeat("a1 60", 16) + "00", "R", "maps nested in command data"},
	// What a client reads. The keys: 66 686561646572 header, 67
	// 7061796c6f6164 payload, 6b 6d65737361676554797065 messageType, 66
	// 737461747573 status, 65 6572726f72 error, 66 64657461696c detail,
	// 64 66726f6d from, 66 736572766572 server, 64 75736572 user, 6b
	// 756e64656c697665726564 undelivered.
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 80", "I", "empty undelivered: an empty slice, not nil"},
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 f6", "I", "null undelivered"},
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 f7", "I", "undefined undelivered"},
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 83 f6 61 47 f7", "I", "null and undefined names: empty strings"},
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 98 02 61 47 62 4732", "I", "count with a longer head than needed"},
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 81 01", "", "integer name"},
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 81 41 47", "", "byte string name"},
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 81 61 ff", "", "name not UTF-8"},
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 81 d9d9f7 61 47", "", "tagged name"},
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 9f 61 47 ff", "", "indefinite-length undelivered"},
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 83 61 47", "", "undelivered cut short"},
	{"a1 67 7061796c6f6164 a1 6b 756e64656c697665726564 61 47", "", "undelivered as a string"},
	{"a1 67 7061796c6f6164 a1 62 6964 f6", "I", "null id: refused in an envelope"},
	{"a1 67 7061796c6f6164 a2 64 74797065 f7 64 64617461 f6", "I", "undefined type, null data: refused in an envelope"},
	{"a1 67 7061796c6f6164 a1 64 64617461 f7", "EI", "undefined data"},
	{"a1 67 7061796c6f6164 a1 65 6572726f72 60", "", "error in the payload"},
	{"a1 66 686561646572 a2 6b 6d65737361676554797065 f6 66 737461747573 f7", "I", "null messageType, undefined status"},
	{"a1 66 686561646572 a1 66 737461747573 78 04 676f6f64", "RI", "status with a longer head than needed: a response's too"},
	{"a1 66 686561646572 a1 65 6572726f72 64 6c6f6f70", "I", "error"},
	{"a1 66 686561646572 a1 65 6572726f72 01", "", "integer error"},
	{"a1 66 686561646572 a1 66 64657461696c 41 78", "", "byte string detail"},
	{"a1 66 686561646572 a1 64 66726f6d f6", "I", "null from"},
	{"a1 66 686561646572 a1 64 66726f6d a2 66 736572766572 f6 64 75736572 61 54", "I", "null server"},
	{"a1 66 686561646572 a1 64 66726f6d a1 64 6e616d65 61 54", "", "from with a request's key"},
	{"a1 66 686561646572 a1 64 66726f6d 82 61 4a 61 54", "", "from as an array"},
	{"a1 66 686561646572 a1 6b 4d65737361676554797065 60", "", "\"MessageType\": case matters"},
	{"a1 66 686561646572 a2 66 737461747573 60 66 737461747573 60", "", "repeated status"},
	{"a1 66 686561646572 a6 6b 6d65737361676554797065 60 66 737461747573 60 65 6572726f72 60 66 64657461696c 60 64 66726f6d f6 66 737461747573 60", "", "six pairs for five keys"},
	{"a1 66 686561646572 a1 d9d9f7 66 737461747573 60", "", "tagged key"},
	{"a1 66 686561646572 d9d9f7 f6", "", "tagged null header"},
	{"a3 66 686561646572 f6 67 7061796c6f6164 f6 61 78 01", "", "unknown key beside the message"},
}

func unusualBodies(t testing.TB) [][]byte {
	var out [][]byte
	for _, m := range unusualMessages {
		out = append(out, fromHex(t, m.hex))
	}
	return out
}

func TestFastDecodeUsualMessages(t *testing.T) {
	for _, b := range usualMessages(t) {
		if taken := checkFastDecode(t, b); len(taken) == 0 {
			t.Errorf("%x not read directly", b)
		}
	}
	for _, b := range clientMessages(t) {
		var in Incoming
		if !fastUnmarshalMap(b, &in) {
			t.Errorf("%x not read directly as an Incoming", b)
		}
	}
}

// Incoming has every field of every message a server writes to a client:
// the strict decoder, told to refuse unknown fields, takes them all in
// full.
func TestIncomingHasEveryField(t *testing.T) {
	opts := decMode.DecOptions()
	opts.ExtraReturnErrors = cbor.ExtraDecErrorUnknownField
	strict := mustDecMode(opts)
	one := uint64(1)
	for _, v := range []any{
		BadReport("m", Errorf(CodeUndelivered, "x"), []string{"G"}),
		&Delivery{Header: DeliveryHeader{MessageType: MessageTypeReceived, From: Address{Server: "J", User: "T"}},
			Payload: DeliveryPayload{Type: "relay", Data: mustCBOR(t, 1)}},
		&DummyReply{Header: DummyHeader{Status: HandlerStatusOK}, Payload: DummyPayload{Type: TypeDummy, ID: "p", Data: mustCBOR(t, 1)}},
		// A message with fields Incoming lacks, to show that the check works.
		&HandlerResponse{ID: &one},
	} {
		var in Incoming
		err := strict.Unmarshal(mustCBOR(t, v), &in)
		if _, ok := v.(*HandlerResponse); ok {
			if err == nil {
				t.Error("a response's id taken as a field of an Incoming")
			}
		} else if err != nil {
			t.Errorf("%T: %v", v, err)
		}
	}
}

// TestFastDecodeUnusualMessages: each edge case, and each of its prefixes
// and one-byte changes.
func TestFastDecodeUnusualMessages(t *testing.T) {
	for i, b := range unusualBodies(t) {
		taken := ""
		for _, name := range checkFastDecode(t, b) {
			taken += map[string]string{"Envelope": "E", "HandlerResponse": "R", "HandlerRequest": "Q", "Incoming": "I"}[name]
		}
		if m := unusualMessages[i]; taken != m.taken {
			t.Errorf("%s (%s): read directly as %q, want %q", m.hex, m.why, taken, m.taken)
		}
		for i := range b {
			checkFastDecode(t, b[:i])
			for _, x := range []byte{0x00, 0x01, 0x17, 0x18, 0x1f, 0x3f, 0x5f, 0x61, 0x7f, 0x9f, 0xa1, 0xbf, 0xc2, 0xd9, 0xf6, 0xf7, 0xf8, 0xfb, 0xff} {
				m := bytes.Clone(b)
				m[i] = x
				checkFastDecode(t, m)
			}
		}
	}
}

// TestFastDecodeGenerated runs many generated bodies through both decoders;
// the generator must also give enough bodies that are read directly.
func TestFastDecodeGenerated(t *testing.T) {
	n := 50000
	if testing.Short() {
		n = 5000
	}
	g := newMsgGen(1)
	counts := map[string]int{}
	for range n {
		for _, name := range checkFastDecode(t, g.body()) {
			counts[name]++
		}
	}
	t.Logf("read directly, of %d bodies: %v", n, counts)
	for _, name := range []string{"Envelope", "HandlerResponse", "HandlerRequest", "Incoming"} {
		if counts[name] < n/50 {
			t.Errorf("only %d bodies read directly as %s", counts[name], name)
		}
	}
}

// TestFastDecodeLimits: counts past the strict decoder's limits are
// refused, counts up to them taken. The body must hold that many items,
// which the limits would otherwise guard.
func TestFastDecodeLimits(t *testing.T) {
	data := "a1 64 64617461"
	undelivered := "a1 67 7061796c6f6164 a1 6b 756e64656c697665726564" // read by strs
	for _, tc := range []struct {
		key   string
		head  byte
		count int
		item  []byte
		taken bool
	}{
		{data, 0x9a, maxArrayElements, []byte{0x00}, true},
		{data, 0x9a, maxArrayElements + 1, []byte{0x00}, false},
		{data, 0xba, maxMapPairs, []byte{0x00, 0x00}, true},
		{data, 0xba, maxMapPairs + 1, []byte{0x00, 0x00}, false},
		{undelivered, 0x9a, maxArrayElements, []byte{0x60}, true},
		{undelivered, 0x9a, maxArrayElements + 1, []byte{0x60}, false},
	} {
		body := append(fromHex(t, tc.key), tc.head, 0, 0, 0, 0)
		body[len(body)-4], body[len(body)-3], body[len(body)-2], body[len(body)-1] =
			byte(tc.count>>24), byte(tc.count>>16), byte(tc.count>>8), byte(tc.count)
		body = append(body, bytes.Repeat(tc.item, tc.count)...)
		taken := checkFastDecode(t, body)
		if (len(taken) > 0) != tc.taken {
			t.Errorf("%x with %d items: read directly as %v", tc.head, tc.count, taken)
		}
	}
}

// UnmarshalMap reads into a value that is not zero with the strict
// decoder, which keeps what the body does not set.
func TestFastDecodeOnlyIntoZero(t *testing.T) {
	body := usualMessages(t)[4] // a response without a command
	resp := HandlerResponse{Header: ResponseHeader{Command: &Command{Type: "kept"}}}
	if err := CodecCBOR.UnmarshalMap(body, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Header.Command == nil || resp.Header.Command.Type != "kept" || resp.Header.Status != "1" {
		t.Errorf("got %s", dump(&resp))
	}
	env := Envelope{Header: &Header{Scope: ScopeClient}}
	payloadOnly := mustCBOR(t, map[string]any{"payload": map[string]any{"type": "t"}})
	if err := CodecCBOR.UnmarshalMap(payloadOnly, &env); err != nil {
		t.Fatal(err)
	}
	if env.Header == nil || env.Header.Scope != ScopeClient || env.Payload == nil {
		t.Errorf("got %s", dump(&env))
	}
	data := make(RawValue, 0, 1024)
	req := HandlerRequest{Data: data}
	if err := CodecCBOR.UnmarshalMap(usualMessages(t)[6], &req); err != nil {
		t.Fatal(err)
	}
	if &req.Data[:1][0] != &data[:1][0] {
		t.Error("the request's data was not decoded into its own memory")
	}
	in := Incoming{Header: IncomingHeader{Detail: "kept"}, Payload: IncomingPayload{Undelivered: make([]string, 0, 4)}}
	if err := CodecCBOR.UnmarshalMap(mustCBOR(t, BadReport("m", Errorf(CodeUndelivered, ""), []string{"G"})), &in); err != nil {
		t.Fatal(err)
	}
	if in.Header.Detail != "kept" || in.Header.Error != CodeUndelivered || cap(in.Payload.Undelivered) != 4 {
		t.Errorf("got %+v", in)
	}
	var nilEnv *Envelope
	if err, want := CodecCBOR.UnmarshalMap(usualMessages(t)[0], nilEnv), decMode.Unmarshal(usualMessages(t)[0], nilEnv); err == nil || err.Error() != want.Error() {
		t.Errorf("nil envelope: %v, want %v", err, want)
	}
}

// Raw values are copies: the caller reuses the body.
func TestFastDecodeCopies(t *testing.T) {
	body := usualMessages(t)[3] // a response with a command
	var resp HandlerResponse
	if !fastUnmarshalMap(body, &resp) {
		t.Fatal("not read directly")
	}
	want := []RawValue{bytes.Clone(resp.Data), bytes.Clone(resp.Header.Command.Data)}
	clear(body)
	if !bytes.Equal(resp.Data, want[0]) || !bytes.Equal(resp.Header.Command.Data, want[1]) {
		t.Fatal("data changed with the body")
	}
	resp.Header.Command.Data = append(resp.Header.Command.Data, 0xff)
	if !bytes.Equal(resp.Data, want[0]) {
		t.Fatal("appending to one raw value changed the other")
	}
}

// maxFuzzSeed leaves the largest test inputs out of the fuzzers' seeds:
// they cost much time to mutate and minimize, for no new paths.
const maxFuzzSeed = 4 << 10

// FuzzFastDecode: whatever a direct reader takes, the strict decoder takes
// too, with the same result.
func FuzzFastDecode(f *testing.F) {
	seeds := append(usualMessages(f), unusualBodies(f)...)
	g := newMsgGen(2)
	for range 200 {
		seeds = append(seeds, g.body())
	}
	for _, b := range seeds {
		if len(b) <= maxFuzzSeed {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFastDecode(t, body)
	})
}

// UnmarshalHandlerRequest into the previous request gives what
// UnmarshalMap gives into a zero one, errors included, whatever came
// before; and it shares the strings a request repeats.
func TestUnmarshalHandlerRequestReuses(t *testing.T) {
	g := newMsgGen(11)
	usual := usualMessages(t)[6:9] // the requests
	var m HandlerRequest
	for range 20000 {
		var b []byte
		if g.chance(0.5) {
			b = g.handlerRequest(nil)
		} else {
			b = usual[g.r.IntN(len(usual))]
		}
		var want HandlerRequest
		werr := CodecCBOR.UnmarshalMap(b, &want)
		_, err := CodecCBOR.UnmarshalHandlerRequest(b, &m)
		if fmt.Sprint(err) != fmt.Sprint(werr) || err == nil && !reflect.DeepEqual(m, want) {
			t.Fatalf("%x: got %+v, %v; want %+v, %v", b, m, err, want, werr)
		}
		if err != nil {
			m = HandlerRequest{}
		}
	}
	body := mustCBOR(t, &HandlerRequest{ID: 1, Type: "relay", From: From{Scope: FromClient, Name: "Tom", Server: "Jay"},
		Origin: Address{Server: "Jay", User: "Tom"}})
	var first, second HandlerRequest
	if _, err := CodecCBOR.UnmarshalHandlerRequest(body, &first); err != nil {
		t.Fatal(err)
	}
	second = first
	if _, err := CodecCBOR.UnmarshalHandlerRequest(body, &second); err != nil {
		t.Fatal(err)
	}
	if unsafe.StringData(second.Type) != unsafe.StringData(first.Type) ||
		unsafe.StringData(first.Origin.User) != unsafe.StringData(first.From.Name) {
		t.Error("repeated strings were copied again")
	}
}
