package wire_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/bester-project/bester/wire"
)

// TestInvalidTextRefusedInJSON: bytes that are not UTF-8 and lone
// surrogates, which encoding/json would turn into U+FFFD, are refused
// wherever a JSON body or JSON data is decoded.
func TestInvalidTextRefusedInJSON(t *testing.T) {
	for _, data := range []string{"\"\xff\"", "\"a\xc3\"", `"\ud800"`, `"\udc00x"`, `"\ud800\u0041"`,
		`{"\ud83d":1}`, "{\"k\xfe\":1}", `["\ud83d\ud83d"]`} {
		body := []byte(`{"payload":{"type":"t","id":"m-1","data":` + data + `}}`)
		var e wire.Envelope
		if err := wire.CodecJSON.UnmarshalMap(body, &e); !errors.Is(err, wire.ErrInvalidText) {
			t.Errorf("envelope with data %q: got %v, want ErrInvalidText", data, err)
		}
		var v any
		if err := wire.CodecJSON.Unmarshal([]byte(data), &v); !errors.Is(err, wire.ErrInvalidText) {
			t.Errorf("Unmarshal %q: got %v, want ErrInvalidText", data, err)
		}
		if out, err := wire.Convert(wire.RawValue(data), wire.CodecJSON, wire.CodecCBOR); !errors.Is(err, wire.ErrInvalidText) {
			t.Errorf("Convert %q: got % x, %v; want ErrInvalidText", data, out, err)
		}
	}
}

// TestValidTextKeptInJSON: escapes that are valid, surrogate pairs
// included, still decode and convert to the same text.
func TestValidTextKeptInJSON(t *testing.T) {
	for data, want := range map[string]string{
		`"\ud83d\ude00"`: "😀", `"\\ud800"`: `\ud800`, `"é\u00e9\n"`: "éé\n", `"\"\/\\"`: `"/\`,
	} {
		var s string
		if err := wire.CodecJSON.Unmarshal([]byte(data), &s); err != nil || s != want {
			t.Errorf("Unmarshal %s: got %q, %v; want %q", data, s, err, want)
		}
		cb, err := wire.Convert(wire.RawValue(data), wire.CodecJSON, wire.CodecCBOR)
		if err == nil {
			err = wire.CodecCBOR.Unmarshal(cb, &s)
		}
		if err != nil || s != want {
			t.Errorf("Convert %s: got %q, %v; want %q", data, s, err, want)
		}
	}
}

// TestInvalidTextRefusedInCBOR: text that is not UTF-8 anywhere inside
// data, definite or in chunks, is refused by the direct reader and the
// strict decoder alike, and by Convert.
func TestInvalidTextRefusedInCBOR(t *testing.T) {
	for _, h := range []string{"61 ff", "62 c328", "81 61 80", "a1 61 ff 01", "a1 6161 61 ff",
		"7f 61 c3 61 a9 ff", "7f 62 c3a9 61 ff ff", "c0 61 ff"} {
		data := unhex(t, h)
		body := cborMap(cborText("payload"), cborMap(cborText("type"), cborText("t"), cborText("data"), data))
		var e wire.Envelope
		if err := wire.CodecCBOR.UnmarshalMap(body, &e); !errors.Is(err, wire.ErrInvalidText) {
			t.Errorf("envelope with data %s: got %v, want ErrInvalidText", h, err)
		}
		var r wire.RawValue
		if err := r.UnmarshalCBOR(data); !errors.Is(err, wire.ErrInvalidText) {
			t.Errorf("RawValue %s: got %v, want ErrInvalidText", h, err)
		}
		if h == "c0 61 ff" {
			continue // a date, which has no JSON form anyway
		}
		if out, err := wire.Convert(data, wire.CodecCBOR, wire.CodecJSON); !errors.Is(err, wire.ErrInvalidText) {
			t.Errorf("Convert %s: got %s, %v; want ErrInvalidText", h, out, err)
		}
	}
}

// TestConvertIntegerSize: integers below 2^1024 in magnitude convert both
// ways; larger ones are refused, in JSON from their length alone.
func TestConvertIntegerSize(t *testing.T) {
	// 2^1024 - 1 and 2^1024, in decimal (309 digits).
	const maxInt = "179769313486231590772930519078902473361797697894230657273430081157732675805500963132708477322407536021120113879871393357658789768814416622492847430639474124377767893424865485276302219601246094119453082952085005768838150682342462881473913110540827237163350510684586298239947245938479716304835356329624224137215"
	const overInt = "179769313486231590772930519078902473361797697894230657273430081157732675805500963132708477322407536021120113879871393357658789768814416622492847430639474124377767893424865485276302219601246094119453082952085005768838150682342462881473913110540827237163350510684586298239947245938479716304835356329624224137216"
	for _, js := range []string{maxInt, "-" + maxInt, "1" + strings.Repeat("0", 307)} {
		cb, err := wire.Convert(wire.RawValue(js), wire.CodecJSON, wire.CodecCBOR)
		if err != nil {
			t.Fatalf("%.20s...: %v", js, err)
		}
		back, err := wire.Convert(cb, wire.CodecCBOR, wire.CodecJSON)
		if err != nil || string(back) != js {
			t.Errorf("%.20s...: back %.20s..., %v", js, back, err)
		}
	}
	for _, js := range []string{overInt, "-" + overInt, "1" + strings.Repeat("0", 309), "[" + strings.Repeat("9", 1_000_000) + "]"} {
		if _, err := wire.Convert(wire.RawValue(js), wire.CodecJSON, wire.CodecCBOR); err == nil || !strings.Contains(err.Error(), "integer of") {
			t.Errorf("%.20s... (%d bytes): got %v, want an integer size error", js, len(js), err)
		}
	}
	ones := bytes.Repeat([]byte{0xff}, 128) // 2^1024 - 1
	for _, cb := range [][]byte{
		append([]byte{0xc2, 0x58, 129, 1}, make([]byte, 128)...), // 2^1024
		append([]byte{0xc3, 0x58, 128}, ones...),                 // -2^1024
		append([]byte{0xc2, 0x5a, 0, 0x10, 0, 0, 1}, make([]byte, 1<<20-1)...),
	} {
		if _, err := wire.Convert(cb, wire.CodecCBOR, wire.CodecJSON); err == nil || !strings.Contains(err.Error(), "integer of") {
			t.Errorf("bignum of %d bytes: got %v, want an integer size error", len(cb), err)
		}
	}
	if _, err := wire.Convert(append([]byte{0xc2, 0x58, 128}, ones...), wire.CodecCBOR, wire.CodecJSON); err != nil {
		t.Errorf("2^1024-1 refused: %v", err)
	}
}

// TestConvertDepth: 64 levels of arrays, maps (and, in CBOR, tags) are
// taken, 65 are not, as in the decoder.
func TestConvertDepth(t *testing.T) {
	nest := func(open, inner, closing string, n int) string {
		return strings.Repeat(open, n) + inner + strings.Repeat(closing, n)
	}
	for _, tc := range []struct {
		open, closing string
	}{{"[", "]"}, {`{"a":`, "}"}} {
		if _, err := wire.Convert(wire.RawValue(nest(tc.open, "1", tc.closing, 64)), wire.CodecJSON, wire.CodecCBOR); err != nil {
			t.Errorf("json %s x64: %v", tc.open, err)
		}
		if _, err := wire.Convert(wire.RawValue(nest(tc.open, "1", tc.closing, 65)), wire.CodecJSON, wire.CodecCBOR); err == nil {
			t.Errorf("json %s x65 converted", tc.open)
		}
	}
	for _, tc := range []struct{ open, inner string }{{"81", "01"}, {"a1 6161", "01"}, {"81", "c2 41 01"}} {
		ok := unhex(t, strings.Repeat(tc.open, 64)+tc.inner)
		if tc.inner == "c2 41 01" {
			ok = unhex(t, strings.Repeat(tc.open, 63)+tc.inner)
		}
		if _, err := wire.Convert(ok, wire.CodecCBOR, wire.CodecJSON); err != nil {
			t.Errorf("cbor %s: %v", tc.open, err)
		}
		if _, err := wire.Convert(append(unhex(t, tc.open), ok...), wire.CodecCBOR, wire.CodecJSON); err == nil {
			t.Errorf("cbor %s one deeper converted", tc.open)
		}
	}
}

// TestConvertRepeatedKey: a key given twice is refused both ways, rather
// than one of its values dropped.
func TestConvertRepeatedKey(t *testing.T) {
	for _, js := range []string{`{"a":1,"a":2}`, `{"b":1,"a":2,"b":3}`, `{"x":{"a":1,"\u0061":2}}`} {
		if out, err := wire.Convert(wire.RawValue(js), wire.CodecJSON, wire.CodecCBOR); err == nil {
			t.Errorf("%s: converted to % x", js, out)
		}
	}
	for _, h := range []string{"a2 6161 01 6161 02", "a3 6162 01 6161 02 6162 03", "bf 6161 01 7f 6161 ff 02 ff"} {
		if out, err := wire.Convert(unhex(t, h), wire.CodecCBOR, wire.CodecJSON); err == nil {
			t.Errorf("%s: converted to %s", h, out)
		}
	}
}

// TestConvertStringEscapes: converted text reads exactly as encoding/json
// writes it.
func TestConvertStringEscapes(t *testing.T) {
	s := "a\"b\\c\b\f\n\r\t\x00\x1f\x7f<>&\u2027\u2028\u2029é日本😀"
	want, err := wire.CodecJSON.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := wire.CodecCBOR.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.Convert(cb, wire.CodecCBOR, wire.CodecJSON)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("got %s, %v; want %s", got, err, want)
	}
	back, err := wire.Convert(got, wire.CodecJSON, wire.CodecCBOR)
	if err != nil || !bytes.Equal(back, cb) {
		t.Errorf("back: got % x, %v; want % x", back, err, cb)
	}
}
