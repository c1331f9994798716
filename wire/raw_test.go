package wire_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bester-project/bester/wire"
	"github.com/fxamacker/cbor/v2"
)

func TestConvertJSONToCBOR(t *testing.T) {
	cases := []struct {
		json string
		cbor string // hex
	}{
		{`0`, "00"},
		{`23`, "17"},
		{`-1`, "20"},
		{`9223372036854775807`, "1b 7fffffffffffffff"},
		{`18446744073709551615`, "1b ffffffffffffffff"},
		{`-9223372036854775808`, "3b 7fffffffffffffff"},
		{`-18446744073709551616`, "3b ffffffffffffffff"},
		{`18446744073709551616`, "c2 49 010000000000000000"},
		{`-18446744073709551617`, "c3 49 010000000000000000"},
		{`1.5`, "fb 3ff8000000000000"},
		{`1.0`, "fb 3ff0000000000000"},
		{`-0.0`, "fb 8000000000000000"},
		{`1e3`, "fb 408f400000000000"},
		{`"hé"`, "63 68c3a9"},
		{`""`, "60"},
		{`true`, "f5"},
		{`null`, "f6"},
		{` [1, "a", [] ] `, "83 01 6161 80"},
		{`{"b":{"c":[1.5]},"a":-2}`, "a2 6161 21 6162 a1 6163 81 fb3ff8000000000000"},
	}
	for _, tc := range cases {
		got, err := wire.Convert(wire.RawValue(tc.json), wire.CodecJSON, wire.CodecCBOR)
		if want := unhex(t, tc.cbor); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: got % x, %v; want % x", tc.json, got, err, want)
		}
	}
}

func TestConvertCBORToJSON(t *testing.T) {
	cases := []struct {
		cbor string // hex
		json string
	}{
		{"00", `0`},
		{"20", `-1`},
		{"1b ffffffffffffffff", `18446744073709551615`},
		{"3b ffffffffffffffff", `-18446744073709551616`},
		{"1a 00000001", `1`},
		{"c2 49 010000000000000000", `18446744073709551616`},
		{"c3 49 010000000000000000", `-18446744073709551617`},
		{"c2 41 05", `5`},
		{"f9 3c00", `1.0`},
		{"fa 3fc00000", `1.5`},
		{"fb 3ff8000000000000", `1.5`},
		{"fb 8000000000000000", `-0.0`},
		{"fb 4415af1d78b58c40", `100000000000000000000.0`},
		{"fb 444b1ae4d6e2ef50", `1e+21`},
		{"fb 3eb0c6f7a0b5ed8d", `0.000001`},
		{"fb 3e7ad7f29abcaf48", `1e-7`},
		{"fb 7fefffffffffffff", `1.7976931348623157e+308`},
		{"63 68c3a9", `"hé"`},
		{"64 3c623e26", `"<b>&"`},
		{"f4", `false`},
		{"f6", `null`},
		{"83 01 6161 80", `[1,"a",[]]`},
		{nonCanonicalData, `{"a":1,"b":1.5}`},
		{"a2 6162 a1 6163 81 f93e00 6161 21", `{"a":-2,"b":{"c":[1.5]}}`},
		{"9f 01 bf ff ff", `[1,{}]`},
	}
	for _, tc := range cases {
		got, err := wire.Convert(unhex(t, tc.cbor), wire.CodecCBOR, wire.CodecJSON)
		if err != nil || string(got) != tc.json {
			t.Errorf("%s: got %s, %v; want %s", tc.cbor, got, err, tc.json)
		}
	}
}

func TestConvertNoJSONForm(t *testing.T) {
	noForm := map[string]string{
		"byte string":           "43 010203",
		"nested byte string":    "a1 6161 81 40",
		"unknown tag":           "d8 64 01",
		"date tag":              "c1 1a 5f5e1000",
		"NaN":                   "f9 7e00",
		"infinity":              "f9 7c00",
		"negative infinity":     "fb fff0000000000000",
		"simple value":          "e0",
		"tag inside array":      "82 01 d8 20 6161",
		"bignum in a byte tag":  "d8 18 41 00",
		"nested NaN in a map":   "a1 6161 a1 6162 f9 7e00",
		"byte string map value": "a1 6178 42 0102",
	}
	for name, h := range noForm {
		_, err := wire.Convert(unhex(t, h), wire.CodecCBOR, wire.CodecJSON)
		if !errors.Is(err, wire.ErrNoJSONForm) {
			t.Errorf("%s: got %v, want ErrNoJSONForm", name, err)
		}
	}
	undecodable := map[string]string{
		"integer key":     "a1 01 02",
		"byte string key": "a1 41 61 02",
		"nested int key":  "a1 6161 a1 f5 01",
		"truncated":       "82 01",
		"trailing bytes":  "01 02",
		"duplicate key":   "a2 6161 01 6161 02",
		"bad UTF-8":       "62 c328",
		"empty":           "",
	}
	for name, h := range undecodable {
		b := unhex(t, h)
		if len(b) == 0 {
			b = []byte{} // not nil: Convert passes an absent value through
		}
		got, err := wire.Convert(b, wire.CodecCBOR, wire.CodecJSON)
		if name == "empty" {
			if err != nil || len(got) != 0 {
				t.Errorf("empty: got %q, %v; want it back unchanged", got, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: converted to %s", name, got)
		}
	}
}

func TestConvertBadJSON(t *testing.T) {
	for _, js := range []string{`{`, `{"a":1}}`, `1 2`, `[1,]`, `nul`, `{"a":1e400}`, `"\x01"`} {
		if got, err := wire.Convert(wire.RawValue(js), wire.CodecJSON, wire.CodecCBOR); err == nil {
			t.Errorf("%s: converted to % x", js, got)
		}
	}
}

func TestConvertSameCodecIsIdentity(t *testing.T) {
	garbage := wire.RawValue{0xff, 0x00, '{'}
	for _, c := range []wire.Codec{wire.CodecCBOR, wire.CodecJSON} {
		got, err := wire.Convert(garbage, c, c)
		if err != nil || &got[0] != &garbage[0] || len(got) != len(garbage) {
			t.Errorf("%s to %s: got % x, %v; want the input itself", c, c, got, err)
		}
	}
	if got, err := wire.Convert(nil, wire.CodecJSON, wire.CodecCBOR); err != nil || got != nil {
		t.Errorf("absent value: got %q, %v; want nil", got, err)
	}
}

func TestConvertUnsupported(t *testing.T) {
	if _, err := wire.Convert(wire.RawValue("1"), wire.CodecAuto, wire.CodecJSON); err == nil {
		t.Error("auto to json gave no error")
	}
	if _, err := wire.Convert(wire.RawValue("1"), wire.CodecJSON, wire.CodecAuto); err == nil {
		t.Error("json to auto gave no error")
	}
}

// TestConvertRoundTrip: JSON → CBOR → JSON gives the compact, key-sorted
// input back, so every value kept its kind.
func TestConvertRoundTrip(t *testing.T) {
	for _, js := range []string{
		sampleDataJSON,
		`[0,-0,1.0,-1.25,1e+300,5e-324,18446744073709551615,-18446744073709551616,123456789012345678901234567890]`,
		`{"":"","a\"b":"\u0000\n","é":[[[]]],"x":{"y":{"z":null}}}`,
	} {
		cb, err := wire.Convert(wire.RawValue(js), wire.CodecJSON, wire.CodecCBOR)
		if err != nil {
			t.Fatalf("%s to cbor: %v", js, err)
		}
		back, err := wire.Convert(cb, wire.CodecCBOR, wire.CodecJSON)
		if err != nil {
			t.Fatalf("%s back to json: %v", js, err)
		}
		if want := canonicalJSON(t, js); string(back) != want {
			t.Errorf("round trip\n got %s\nwant %s", back, want)
		}
		again, err := wire.Convert(back, wire.CodecJSON, wire.CodecCBOR)
		if err != nil || !bytes.Equal(again, cb) {
			t.Errorf("%s: second trip to cbor differs: % x, %v", js, again, err)
		}
	}
}

// canonicalJSON compacts js and sorts its keys, the shape Convert writes;
// numbers are left as written except that -0 reads as 0.
func canonicalJSON(t *testing.T, js string) string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(js)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b, err := wire.CodecJSON.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.ReplaceAll(b, []byte("[0,-0,"), []byte("[0,0,")))
}

// TestRawValueMarshalsUnchanged: a RawValue is written as is in CBOR and
// only compacted in JSON.
func TestRawValueMarshalsUnchanged(t *testing.T) {
	data := unhex(t, nonCanonicalData)
	out, err := wire.CodecCBOR.Marshal(wire.RawValue(data))
	if err != nil || !bytes.Equal(out, data) {
		t.Fatalf("cbor: % x, %v", out, err)
	}
	if _, err := wire.CodecCBOR.Marshal(wire.RawValue{0x82, 0x01}); err == nil {
		t.Error("cbor: a truncated RawValue marshalled")
	}
	out, err = wire.CodecJSON.Marshal(wire.RawValue(`{ "a" : 1.0 }`))
	if err != nil || string(out) != `{"a":1.0}` {
		t.Fatalf("json: %s, %v", out, err)
	}
	if _, err := wire.CodecJSON.Marshal(wire.RawValue(data)); err == nil {
		t.Error("json: CBOR bytes marshalled as JSON")
	}
	if d, _ := cbor.Diagnose(data); d != `{_ "a": 1, "b": 1.5}` {
		t.Errorf("diagnostic %s", d)
	}
}

// TestConvertFloatsLikeEncodingJSON: converted floats read exactly as
// encoding/json writes them, plus ".0" where that text looks like an integer.
func TestConvertFloatsLikeEncodingJSON(t *testing.T) {
	const n = 5000
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		f := math.Float64frombits(r.Uint64())
		switch i % 3 {
		case 1:
			f = math.Trunc(r.NormFloat64() * math.Pow(10, float64(r.IntN(25))))
		case 2:
			f = r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.ContainsAny(want, ".eE") {
			want = append(want, ".0"...)
		}
		cb := binary.BigEndian.AppendUint64([]byte{0xfb}, math.Float64bits(f))
		got, err := wire.Convert(cb, wire.CodecCBOR, wire.CodecJSON)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%v: got %s, %v; want %s", f, got, err, want)
		}
		back, err := wire.Convert(got, wire.CodecJSON, wire.CodecCBOR)
		if err != nil || !bytes.Equal(back, cb) {
			t.Fatalf("%v: back to cbor % x, %v; want % x", f, back, err, cb)
		}
	}
}
