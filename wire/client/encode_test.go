package client

import (
	"testing"

	"github.com/bester-project/bester/wire"
)

// FuzzAppendFrame: the hand-written envelope decodes, in both codecs, to
// exactly the type, id and data it was given.
func FuzzAppendFrame(f *testing.F) {
	for _, s := range []string{"", "relay", `q"\`, "\x00\x1f\x7f", "wêreld ✓", string(make([]byte, 300))} {
		f.Add(s, s+"-id")
	}
	f.Fuzz(func(t *testing.T, typ, id string) {
		if !validText(typ, id) {
			return
		}
		data := map[wire.Codec][]byte{wire.CodecCBOR: {0x82, 0x01, 0x61, 'x'}, wire.CodecJSON: []byte(`[1,"x"]`)}
		for c, d := range data {
			frame := AppendMessage(nil, c, typ, id, d)
			body := frame[wire.FrameHeaderSize:]
			if n := int(frame[0]) | int(frame[1])<<8 | int(frame[2])<<16 | int(frame[3])<<24; n != len(body) {
				t.Fatalf("%s: length prefix %d, body %d bytes", c, n, len(body))
			}
			var e wire.Envelope
			if err := c.UnmarshalMap(body, &e); err != nil {
				t.Fatalf("%s: %q does not decode: %v", c, body, err)
			}
			if e.Header != nil || e.Payload == nil || e.Payload.Type != typ || e.Payload.ID != id || string(e.Payload.Data) != string(d) {
				t.Fatalf("%s: %q decodes to %+v", c, body, e.Payload)
			}
		}
	})
}

func TestAppendFrameNullData(t *testing.T) {
	for c, want := range map[wire.Codec]string{wire.CodecCBOR: "\xf6", wire.CodecJSON: "null"} {
		var e wire.Envelope
		if err := c.UnmarshalMap(AppendMessage(nil, c, "t", "1", nil)[wire.FrameHeaderSize:], &e); err != nil {
			t.Fatal(err)
		}
		if string(e.Payload.Data) != want {
			t.Fatalf("%s: data %q, want %q", c, e.Payload.Data, want)
		}
	}
}
