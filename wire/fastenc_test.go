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
	if m, isResp := v.(*HandlerResponse); isResp && m != nil {
		for _, c := range []Codec{CodecCBOR, CodecJSON} {
			var typed, general bytes.Buffer
			terr, gerr := c.AppendResponseFrame(&typed, m), c.AppendFrame(&general, m)
			if fmt.Sprint(terr) != fmt.Sprint(gerr) || !bytes.Equal(typed.Bytes(), general.Bytes()) {
				t.Fatalf("%s in %s: AppendResponseFrame wrote %x, %v; AppendFrame %x, %v",
					show(v), c, typed.Bytes(), terr, general.Bytes(), gerr)
			}
		}
	}
	return ok
}

// checkFastMarshal holds marshalCBORFast to the strict encoder on v, and
// Marshal too. It reports whether v was written directly.
func checkFastMarshal(t *testing.T, v any) bool {
	t.Helper()
	fast, ok := marshalCBORFast(v)
	strict, err := encMode.Marshal(v)
	if ok && (err != nil || !bytes.Equal(fast, strict) || len(fast) != cap(fast)) {
		t.Fatalf("%s: wrote %x (capacity %d); strict encoder %x, %v", show(v), fast, cap(fast), strict, err)
	}
	if !ok && fast != nil {
		t.Fatalf("%s: refused, but wrote %x", show(v), fast)
	}
	appended, aerr := CodecCBOR.AppendMarshal([]byte("pre"), v)
	if fmt.Sprint(aerr) != fmt.Sprint(err) || err == nil && !bytes.Equal(appended, append([]byte("pre"), strict...)) {
		t.Fatalf("%s: AppendMarshal gave %x, %v; strict encoder %x, %v", show(v), appended, aerr, strict, err)
	}
	got, gerr := CodecCBOR.Marshal(v)
	if fmt.Sprint(gerr) != fmt.Sprint(err) || !bytes.Equal(got, strict) {
		t.Fatalf("%s: Marshal gave %x, %v; strict encoder %x, %v", show(v), got, gerr, strict, err)
	}
	return ok
}

// show prints a message with its strings shortened.
func show(v any) string {
	s := dump(v)
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
	for _, h := range []string{"f7", "f9 7e00", "a2 6161 01 6161 02", "a1 01 02", // plain
		"61 ff", "c0 01", "c0 61 61", "c2 41 01", "d9d9f7 01", "9f ff", "7f ff", "f8 20", "f8 01", "e0",
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
				&HandlerRequest{ID: 1 << (i * 5), Type: "t", From: From{Scope: FromServer, Name: "K", Server: "K"}, Data: r,
					Origin: Address{Server: s, User: "T"}},
				&HandlerRequest{Type: "t", Data: r, Origin: Address{User: s}},
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
		values = append(values, &HandlerRequest{ID: id}, &HandlerResponse{ID: &id})
	}
	for i, s := range fastEncodeTexts {
		id := uint64(1) << (i * 5)
		for _, r := range raws {
			values = append(values,
				&HandlerResponse{ID: &id, Header: ResponseHeader{Status: s}, Data: r},
				&HandlerResponse{Header: ResponseHeader{Status: HandlerStatusOK, Command: &Command{Type: s, Data: r}}, Data: r},
				&HandlerResponse{ID: &id, Header: ResponseHeader{Status: s, Command: &Command{Type: CommandSendClients,
					Data: mustCBOR(t, []string{"G", s})}}, Data: r})
		}
		values = append(values, &HandlerResponse{Header: ResponseHeader{Command: &Command{}}})
	}
	many := make([]string, 300)
	for i := range many {
		many[i] = fmt.Sprint("G", i)
	}
	values = append(values, &StatusReport{}, BadReport("m", Errorf(CodeUndelivered, "x"), many),
		(*HandlerRequest)(nil), (*Delivery)(nil), (*StatusReport)(nil), (*HandlerResponse)(nil),
		HandlerRequest{}, HandlerResponse{}, &DummyReply{}, map[string]any{"id": 1})

	written := 0
	for _, v := range values {
		if checkFastEncode(t, v) {
			written++
		}
	}
	// Every message whose data is empty or plain is written directly.
	if want := len(fastEncodeTexts) * (5*13 + 6); written < want {
		t.Errorf("%d of %d messages written directly, want at least %d", written, len(values), want)
	}
}

// TestFastMarshal: strings and lists of them, as a handler's command data.
func TestFastMarshal(t *testing.T) {
	values := []any{[]string(nil), []string{}, fastEncodeTexts, make([]string, 65536)}
	for _, s := range fastEncodeTexts {
		values = append(values, s, []string{s}, []string{"G", s, s})
	}
	written := 0
	for _, v := range values {
		if checkFastMarshal(t, v) {
			written++
		}
	}
	if written != len(values) {
		t.Errorf("%d of %d values written directly", written, len(values))
	}
	type names []string
	type name string
	for _, v := range []any{names{"G"}, name("G"), &[]string{"G"}, []any{"G"}, [1]string{"G"}, nil, 1, HandlerResponse{}} {
		if checkFastMarshal(t, v) {
			t.Errorf("%T written directly", v)
		}
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
		var names []string
		if g.chance(0.9) {
			names = make([]string, g.r.IntN(4))
		}
		for i := range names {
			names[i] = g.str()
		}
		checkFastMarshal(t, names)
		checkFastMarshal(t, g.str())
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
	switch g.r.IntN(4) {
	case 0:
		m := &HandlerRequest{ID: g.uint(), Type: g.str(), From: From{Scope: g.str(), Name: g.str(), Server: g.str()}, Data: data}
		if g.chance(0.7) {
			m.Origin = Address{Server: g.str(), User: g.str()}
		}
		return m
	case 3:
		m := &HandlerResponse{Header: ResponseHeader{Status: g.str()}, Data: data}
		if g.chance(0.7) {
			id := g.uint()
			m.ID = &id
		}
		if g.chance(0.6) {
			m.Header.Command = &Command{Type: g.str()}
			if !g.chance(0.1) {
				m.Header.Command.Data = RawValue(g.item(nil, 0))
			}
		}
		return m
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
		if n&0x20 != 0 && n%5 == 0 {
			undelivered = nil
		}
		resp := &HandlerResponse{Header: ResponseHeader{Status: a}, Data: data}
		if n&0x40 == 0 {
			resp.ID = &id
		}
		if n&0x80 == 0 {
			resp.Header.Command = &Command{Type: b, Data: RawValue(c)}
		}
		checkFastMarshal(t, undelivered)
		checkFastMarshal(t, d)
		for _, v := range []any{
			resp,
			&HandlerRequest{ID: id, Type: a, From: From{Scope: b, Name: c, Server: d}, Data: data},
			&HandlerRequest{ID: id, Type: a, From: From{Scope: b}, Data: data, Origin: Address{Server: c, User: d}},
			&Delivery{Header: DeliveryHeader{MessageType: a, From: Address{Server: b, User: c}},
				Payload: DeliveryPayload{Type: d, Data: data}},
			&StatusReport{Header: ReportHeader{MessageType: a, Status: b, Error: ErrorCode(c), Detail: d},
				Payload: ReportPayload{ID: string(data), Undelivered: undelivered}},
		} {
			checkFastEncode(t, v)
		}
	})
}
