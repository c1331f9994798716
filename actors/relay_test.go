package actors

import (
	"testing"

	"github.com/bester-project/bester/wire"
)

// body is what the relay tests send: integers must arrive as integers.
type body struct {
	N    int64    `cbor:"n" json:"n"`
	Big  uint64   `cbor:"big" json:"big"`
	Text string   `cbor:"text" json:"text"`
	List []string `cbor:"list" json:"list"`
}

func TestRelayBetweenCodecs(t *testing.T) {
	for _, handlerCodec := range []string{"cbor", "json"} {
		t.Run("handler "+handlerCodec, func(t *testing.T) {
			ts := startServer(t, `
handler "relay" {
  socket  = "relay.sock"
  command = ["$RELAY"]
  codec   = "`+handlerCodec+`"
}`)
			for _, pair := range [][2]wire.Codec{{wire.CodecCBOR, wire.CodecJSON}, {wire.CodecJSON, wire.CodecCBOR}, {wire.CodecCBOR, wire.CodecCBOR}, {wire.CodecJSON, wire.CodecJSON}} {
				sender, recipient := ts.dial("T", pair[0]), ts.dial("G", pair[1])
				want := body{N: -7, Big: 18446744073709551615, Text: "hallo wêreld", List: []string{"a"}}
				wantGood(t, sendForReport(t, sender, "relay", "m-1", map[string]any{"to": "G", "body": want}))
				var got body
				in := expectDelivery(t, recipient, &got)
				if got.N != want.N || got.Big != want.Big || got.Text != want.Text || len(got.List) != 1 {
					t.Fatalf("%v→%v: got %+v, want %+v", pair[0], pair[1], got, want)
				}
				if in.From != (wire.Address{Server: "J", User: "T"}) || in.Type != "relay" {
					t.Fatalf("delivery header: from %+v type %q", in.From, in.Type)
				}
				sender.Close()
				recipient.Close()
			}
		})
	}
}

func TestHandlerModesAndCodecs(t *testing.T) {
	for _, mode := range []string{"stream", "oneshot"} {
		for _, codec := range []string{"cbor", "json"} {
			t.Run(mode+" "+codec, func(t *testing.T) {
				ts := startServer(t, handlerBlock("h", mode, codec, `env = { TESTHANDLER_ACT = "relay" }`))
				t1, g := ts.dial("T", wire.CodecJSON), ts.dial("G", wire.CodecCBOR)
				for i := range 20 { // several, so that pipelining and oneshot slots are exercised
					id := string(rune('a' + i))
					if err := t1.Send("h", id, map[string]any{"to": []string{"G"}, "body": i}); err != nil {
						t.Fatal(err)
					}
				}
				seen := map[string]bool{}
				for range 20 {
					in := recv(t, t1)
					if in.Report == nil {
						t.Fatalf("want reports, got %s", in.Raw)
					}
					wantGood(t, in.Report)
					seen[in.Report.Payload.ID] = true
				}
				if len(seen) != 20 {
					t.Fatalf("got %d distinct reports, want 20", len(seen))
				}
				sum := 0
				for range 20 {
					var n int
					expectDelivery(t, g, &n)
					sum += n
				}
				if sum != 190 {
					t.Fatalf("deliveries sum to %d, want 190", sum)
				}
			})
		}
	}
}
