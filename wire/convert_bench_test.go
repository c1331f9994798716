package wire_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/bester-project/bester/wire"
)

// worstSize is the size of the worst shapes: a whole default max_frame.
const worstSize = wire.DefaultMaxFrame

// repeatJSON writes "[item,item,...]" of about worstSize bytes.
func repeatJSON(item string) string {
	n := (worstSize - 2) / (len(item) + 1)
	return "[" + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + "]"
}

// nestJSON wraps inner in 63 arrays or objects, each of which has more
// than 23 items (so its CBOR head is known only at its end) or keys out
// of order (so its pairs are moved), the most a conversion has to move.
func nestJSON(inner string, object bool) string {
	var b strings.Builder
	for range 63 {
		if object {
			b.WriteString(`{"b":0,"a":`)
		} else {
			b.WriteString("[" + strings.Repeat("0,", 24))
		}
	}
	b.WriteString(inner)
	for range 63 {
		b.WriteString(map[bool]string{true: "}", false: "]"}[object])
	}
	return b.String()
}

// worstJSON are JSON data of about worstSize bytes in the shapes that cost
// a conversion the most; wantErr marks those it must refuse.
func worstJSON() []struct {
	name, js string
	wantErr  bool
} {
	bulk := repeatJSON("0")[:worstSize-1000]
	bulk = bulk[:strings.LastIndexByte(bulk, ',')] + "]"
	keys := make([]string, 0, worstSize/12)
	for i := worstSize/12 - 1; i >= 0; i-- {
		keys = append(keys, fmt.Sprintf(`"%06d":0`, i))
	}
	return []struct {
		name, js string
		wantErr  bool
	}{
		{"TinyItems", repeatJSON("0"), false},
		{"MaxIntegers", repeatJSON(strings.Repeat("9", 308)), false},
		{"HugeInteger", "[" + strings.Repeat("9", worstSize-2) + "]", true},
		{"Floats", repeatJSON("1.2345678901234567e-300"), false},
		{"HugeFloat", "0." + strings.Repeat("1", worstSize-2), false},
		{"LongString", `"` + strings.Repeat("é", (worstSize-2)/2) + `"`, false},
		{"EscapedString", `"` + strings.Repeat(`\u00e9`, (worstSize-2)/6) + `"`, false},
		{"ManyKeysReversed", "{" + strings.Join(keys, ",") + "}", false},
		{"DeepArrays", nestJSON(bulk, false), false},
		{"DeepObjects", nestJSON(bulk, true), false},
		{"TooDeep", strings.Repeat("[", worstSize/2) + strings.Repeat("]", worstSize/2), true},
	}
}

// BenchmarkConvertWorst converts each worst shape both ways: JSON to CBOR,
// then the CBOR it gave back to JSON.
func BenchmarkConvertWorst(b *testing.B) {
	for _, tc := range worstJSON() {
		in := wire.RawValue(tc.js)
		cb, err := wire.Convert(in, wire.CodecJSON, wire.CodecCBOR)
		if (err != nil) != tc.wantErr {
			b.Fatalf("%s: %v", tc.name, err)
		}
		benchmarkConvertOne(b, tc.name+"/JSONToCBOR", in, wire.CodecJSON, wire.CodecCBOR)
		if err == nil {
			benchmarkConvertOne(b, tc.name+"/CBORToJSON", cb, wire.CodecCBOR, wire.CodecJSON)
		}
	}
	for name, cb := range worstCBOR() {
		benchmarkConvertOne(b, name+"/CBORToJSON", cb, wire.CodecCBOR, wire.CodecJSON)
	}
}

// worstCBOR are CBOR shapes with no JSON counterpart of the same size:
// items of one byte, and text that grows sixfold as JSON.
func worstCBOR() map[string][]byte {
	items := append([]byte{0x9a, 0, 0x0f, 0xff, 0xf0}, bytes.Repeat([]byte{0x37}, 0x0ffff0)...)
	ctl := append([]byte{0x7a, 0, 0x0f, 0xff, 0xf0}, bytes.Repeat([]byte{0x01}, 0x0ffff0)...)
	halves := append([]byte{0x9a, 0, 0x05, 0x55, 0x50}, bytes.Repeat([]byte{0xf9, 0x83, 0xff}, 0x055550)...)
	bignums := append([]byte{0x99, 0x07, 0xc0}, bytes.Repeat(append([]byte{0xc3, 0x58, 0x80}, bytes.Repeat([]byte{0xfe}, 128)...), 0x07c0)...)
	return map[string][]byte{"OneByteItems": items, "ControlText": ctl, "HalfFloats": halves, "MaxBignums": bignums}
}

func benchmarkConvertOne(b *testing.B, name string, in wire.RawValue, from, to wire.Codec) {
	b.Run(name, func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			wire.Convert(in, from, to)
		}
	})
}
