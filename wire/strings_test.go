package wire

import (
	"bytes"
	"reflect"
	"testing"
)

// UnmarshalStrings must agree with Unmarshal into a []string, whether it
// takes its fast path or not.
func TestUnmarshalStringsAgreesWithUnmarshal(t *testing.T) {
	var cases [][]byte
	for _, v := range []any{[]string{}, []string{"G"}, []string{"a", "bé", ""}, nil, "x",
		[]any{"a", 1}, []any{"a", nil}, []string{string(make([]byte, 300))}} {
		b, err := CodecCBOR.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, b)
	}
	cases = append(cases,
		[]byte{0x81, 0x61, 0xff},                                     // invalid UTF-8
		[]byte{0x82, 0x61, 'a'},                                      // one element short
		[]byte{0x81, 0x61, 'a', 0x00},                                // trailing data
		[]byte{0x9f, 0x61, 'a', 0xff},                                // indefinite array
		[]byte{0x81, 0x7f, 0x61, 'a', 0xff},                          // indefinite text
		[]byte{0x81, 0x78, 0x01, 'a'},                                // non-minimal length
		[]byte{0x81, 0xc0, 0x61, 'a'},                                // tagged text
		[]byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // huge count
		[]byte{0x81, 0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		[]byte{}, []byte{0xf6})
	for _, b := range cases {
		got, gerr := CodecCBOR.UnmarshalStrings(b)
		var want []string
		werr := CodecCBOR.Unmarshal(b, &want)
		if (gerr == nil) != (werr == nil) || werr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%x: got %q, %v; want %q, %v", b, got, gerr, want, werr)
		}
	}
}

// Codec.AppendFrame must write what AppendFrame(Marshal(v)) writes, and
// nothing on error.
func TestCodecAppendFrameMatchesMarshal(t *testing.T) {
	values := []any{
		GoodReport("m-1"),
		&Delivery{Header: DeliveryHeader{MessageType: MessageTypeReceived},
			Payload: DeliveryPayload{Type: "relay", Data: RawValue(nil)}},
		map[string]any{"a": "<&>", "b": []int{1, 2}},
	}
	for _, c := range []Codec{CodecCBOR, CodecJSON} {
		for _, v := range values {
			var buf bytes.Buffer
			buf.WriteString("pre")
			if err := c.AppendFrame(&buf, v); err != nil {
				t.Fatal(err)
			}
			body, err := c.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if want := AppendFrame([]byte("pre"), body); !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s: got %x, want %x", c, buf.Bytes(), want)
			}
		}
		var buf bytes.Buffer
		buf.WriteString("pre")
		if err := c.AppendFrame(&buf, func() {}); err == nil || buf.String() != "pre" {
			t.Errorf("%s: unencodable value: err %v, buffer %q", c, err, buf.String())
		}
	}
}
