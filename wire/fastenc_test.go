package wire

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// checkFastEncode holds appendCBORFast to the strict encoder on v: what it
// writes, the encoder writes byte for byte without error; when it refuses,
// the buffer is as it was. It reports whether v was written directly.
func checkFastEncode(t *testing.T, v any) bool {
	t.Helper()
	var fast, strict bytes.Buffer
	fast.WriteString("pre")
	strict.WriteString("pre")
	ok := appendCBORFast(&fast, v)
	err := bufEncMode.MarshalToBuffer(v, &strict)
	switch {
	case ok && (err != nil || !bytes.Equal(fast.Bytes(), strict.Bytes())):
		t.Fatalf("%s: wrote %x; strict encoder %x, %v", show(v), fast.Bytes()[3:], strict.Bytes()[3:], err)
	case !ok && fast.String() != "pre":
		t.Fatalf("%s: refused, but wrote %x", show(v), fast.Bytes()[3:])
	}
	return ok
}

// show prints a message with its strings shortened.
func show(v any) string {
	s := fmt.Sprintf("%+v", v)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// fastEncodeTexts need heads of every size, or are not ASCII or not UTF-8.
var fastEncodeTexts = []string{"", "G", "é", "日本", "\xff", "a\x00", strings.Repeat("x", 23), strings.Repeat("x", 24),
	strings.Repeat("x", 255), strings.Repeat("é", 128), strings.Repeat("x", 65535), strings.Repeat("x", 65536)}

// fastEncodeRaws are plain data items, empty data, and data the direct
// encoder must leave to the strict encoder (which refuses some of it).
func fastEncodeRaws(t testing.TB) []RawValue {
	raws := []RawValue{nil, {}, sampleData(t), mustCBOR(t, "hi"), mustCBOR(t, []string{"G", "G2"}),
		mustCBOR(t, map[string]any{"to": "G", "body": []any{1, -1, nil, true, []byte{1}, 1.5}}),
		mustCBOR(t, strings.Repeat("x", 70000)), mustCBOR(t, make([]int, 70000))}
	for _, h := range []string{"f7", "f9 7e00", "a2 6161 01 6161 02", "a1 01 02", "61 ff", // plain
		"c0 01", "c0 61 61", "c2 41 01", "d9d9f7 01", "9f ff", "7f ff", "f8 20", "f8 01", "e0",
		"fc", "ff", "82 01", "01 02", "9b ffffffffffffffff", "7b ffffffffffffffff",
		strings.Repeat("81", fastMaxDepth) + "00", strings.Repeat("81", fastMaxDepth+1) + "00",
		strings.Repeat("81", 100) + "00"} {
		raws = append(raws, fromHex(t, h))
	}
	return raws
}

func TestFastEncodeMatchesStrict(t *testing.T) {
	var values []any
	raws := fastEncodeRaws(t)
	for i, s := range fastEncodeTexts {
		for _, r := range raws {
			values = append(values,
				&HandlerRequest{ID: 1 << (i * 5), Type: s, From: From{Scope: FromClient, Name: s, Server: "J"}, Data: r},
				&Delivery{Header: DeliveryHeader{MessageType: MessageTypeReceived, From: Address{Server: s, User: "T"}},
					Payload: DeliveryPayload{Type: s, Data: r}})
		}
		values = append(values, GoodReport(s), BadReport(s, Errorf(CodeUndelivered, "%s", s), []string{"G", s}),
			BadReport("m", Errorf(CodeBadMessage, "%s", s), nil),
			&StatusReport{Header: ReportHeader{MessageType: s, Status: s, Error: ErrorCode(s)},
				Payload: ReportPayload{ID: s, Undelivered: []string{}}},
			&StatusReport{Header: ReportHeader{Detail: s}, Payload: ReportPayload{Undelivered: []string{s}}},
		)
	}
	for _, id := range []uint64{0, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<64 - 1} {
		values = append(values, &HandlerRequest{ID: id})
	}
	many := make([]string, 300)
	for i := range many {
		many[i] = fmt.Sprint("G", i)
	}
	values = append(values, &StatusReport{}, BadReport("m", Errorf(CodeUndelivered, "x"), many),
		(*HandlerRequest)(nil), (*Delivery)(nil), (*StatusReport)(nil),
		HandlerRequest{}, &DummyReply{}, map[string]any{"id": 1})

	written := 0
	for _, v := range values {
		if checkFastEncode(t, v) {
			written++
		}
	}
	// Every message whose data is empty or plain is written directly.
	if want := len(fastEncodeTexts) * (2*14 + 5); written < want {
		t.Errorf("%d of %d messages written directly, want at least %d", written, len(values), want)
	}
}

// TestFastEncodeGenerated writes generated messages both ways, with data
// and strings from the decoder's tests.
func TestFastEncodeGenerated(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	g := newMsgGen(3)
	written := 0
	for range n {
		if checkFastEncode(t, g.message()) {
			written++
		}
	}
	if written < n/2 {
		t.Errorf("only %d of %d messages written directly", written, n)
	}
}

// message makes one of the messages written directly.
func (g *msgGen) message() any {
	data := RawValue(g.item(nil, 0))
	if g.chance(0.1) {
		data = nil
	}
	switch g.r.IntN(3) {
	case 0:
		return &HandlerRequest{ID: g.uint(), Type: g.str(), From: From{Scope: g.str(), Name: g.str(), Server: g.str()}, Data: data}
	case 1:
		return &Delivery{Header: DeliveryHeader{MessageType: g.str(), From: Address{Server: g.str(), User: g.str()}},
			Payload: DeliveryPayload{Type: g.str(), Data: data}}
	}
	var undelivered []string
	for range g.r.IntN(4) {
		undelivered = append(undelivered, g.str())
	}
	return &StatusReport{Header: ReportHeader{MessageType: g.str(), Status: g.str(), Error: ErrorCode(g.str()), Detail: g.str()},
		Payload: ReportPayload{ID: g.str(), Undelivered: undelivered}}
}

// FuzzFastEncode: whatever appendCBORFast writes, the strict encoder
// writes too, byte for byte.
func FuzzFastEncode(f *testing.F) {
	f.Add(uint64(7), "relay", "T", "J", "", []byte(sampleData(f)), uint8(0))
	f.Add(uint64(1<<40), "é", "\xff", strings.Repeat("x", 300), "G", []byte{}, uint8(2))
	for _, r := range fastEncodeRaws(f) {
		if len(r) <= maxFuzzSeed {
			f.Add(uint64(len(r)), "a", "b", "c", "d", []byte(r), uint8(len(r)))
		}
	}
	f.Fuzz(func(t *testing.T, id uint64, a, b, c, d string, data []byte, n uint8) {
		undelivered := []string{a, b, c, d}[:n%5]
		for _, v := range []any{
			&HandlerRequest{ID: id, Type: a, From: From{Scope: b, Name: c, Server: d}, Data: data},
			&Delivery{Header: DeliveryHeader{MessageType: a, From: Address{Server: b, User: c}},
				Payload: DeliveryPayload{Type: d, Data: data}},
			&StatusReport{Header: ReportHeader{MessageType: a, Status: b, Error: ErrorCode(c), Detail: d},
				Payload: ReportPayload{ID: string(data), Undelivered: undelivered}},
		} {
			checkFastEncode(t, v)
		}
	})
}
