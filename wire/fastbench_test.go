package wire

import (
	"bytes"
	"testing"
)

// The direct readers and encoders side by side with the strict decoder and
// encoder, on the usual messages:
//
//	go test -run='^$' -bench=Fast ./wire

func BenchmarkFastDecode(b *testing.B) {
	msgs := usualMessages(b)
	client := clientMessages(b)
	incoming := fastTargets[3]
	for _, tc := range []struct {
		name   string
		body   []byte
		target func() any
	}{
		{"Envelope", msgs[0], fastTargets[0]},
		{"HandlerResponse", msgs[3], fastTargets[1]},
		{"HandlerRequest", msgs[6], fastTargets[2]},
		{"Incoming/GoodReport", client[0], incoming},
		{"Incoming/BadReport", client[2], incoming},
		{"Incoming/Delivery", client[6], incoming},
		{"Incoming/DummyReply", client[8], incoming},
	} {
		if !fastUnmarshalMap(tc.body, tc.target()) {
			b.Fatalf("%s not read directly", tc.name)
		}
		b.Run(tc.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := CodecCBOR.UnmarshalMap(tc.body, tc.target()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/strict", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := decMode.Unmarshal(tc.body, tc.target()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFastEncode(b *testing.B) {
	data := sampleData(b)
	id := uint64(12345)
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"Delivery", &Delivery{Header: DeliveryHeader{MessageType: MessageTypeReceived, From: Address{Server: "J", User: "T"}},
			Payload: DeliveryPayload{Type: "relay", Data: data}}},
		{"GoodReport", GoodReport("m-12345")},
		{"BadReport", BadReport("m-12345", Errorf(CodeUndelivered, "1 of 3 recipients not connected"), []string{"G2"})},
		{"HandlerRequest", &HandlerRequest{ID: 12345, Type: "relay", From: From{Scope: FromClient, Name: "T", Server: "J"}, Data: data}},
		{"HandlerResponse", &HandlerResponse{ID: &id, Header: ResponseHeader{Status: HandlerStatusOK,
			Command: &Command{Type: CommandSendClients, Data: mustCBOR(b, []string{"G", "G2"})}}, Data: data}},
		{"HandlerResponse/oneshot", &HandlerResponse{Header: ResponseHeader{Status: HandlerStatusOK}, Data: data}},
	} {
		var buf bytes.Buffer
		b.Run(tc.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if !appendCBORFast(&buf, tc.v) {
					b.Fatal("not written directly")
				}
			}
		})
		b.Run(tc.name+"/strict", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := bufEncMode.MarshalToBuffer(tc.v, &buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFastMarshal: a handler's command data, through Marshal.
func BenchmarkFastMarshal(b *testing.B) {
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"Names", []string{"G", "G2", "user-0042"}},
		{"Name", "echo-handler"},
	} {
		if _, ok := marshalCBORFast(tc.v); !ok {
			b.Fatalf("%s not written directly", tc.name)
		}
		b.Run(tc.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CodecCBOR.Marshal(tc.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/strict", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := encMode.Marshal(tc.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
