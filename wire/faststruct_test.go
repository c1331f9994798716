package wire

import (
	"fmt"
	"reflect"
	"testing"
)

// The plain structs of the differential tests: the relay's data, and one
// of every kind, keyed by names msgGen.item also writes as map keys.
type (
	relayData struct {
		To   Names    `cbor:"to" json:"to"`
		Body RawValue `cbor:"body" json:"body"`
	}
	everyKind struct {
		S   string   `cbor:"relay"`
		I8  int8     `cbor:"G"`
		I   int64    `cbor:"G2,omitempty"`
		U16 uint16   `json:"u16"`
		U   uint64   `cbor:"u,omitzero"`
		B   bool     `cbor:"b"`
		N   Names    `cbor:"n"`
		R   RawValue `cbor:"r"`
		Key string
	}
	// Structs that are not plain, left to the strict decoder.
	withPointer struct {
		P *string `cbor:"p"`
	}
	withHidden struct {
		S string `cbor:"s"`
		//lint:ignore U1000 an unexported field is what makes the struct not plain
		hidden int
	}
	withIgnored struct {
		S string `cbor:"-"`
	}
	withKeyAsInt struct {
		S string `cbor:"1,keyasint"`
	}
	withUnmarshaler struct {
		C cborText `cbor:"c"`
	}
)

// cborText is a string type with its own decoding.
type cborText string

func (c *cborText) UnmarshalCBOR(b []byte) error { *c = "custom"; return nil }

// fastStructTargets make a zero value of each struct.
var fastStructTargets = []func() any{
	func() any { return new(relayData) }, func() any { return new(everyKind) },
	func() any { return new(withPointer) }, func() any { return new(withHidden) },
	func() any { return new(withIgnored) }, func() any { return new(withKeyAsInt) },
	func() any { return new(withUnmarshaler) },
}

// checkFastStruct holds fastUnmarshalStruct to the strict decoder on b,
// read as each of the structs, as checkFastDecode does for the messages,
// and returns how many it read directly.
func checkFastStruct(t *testing.T, b []byte) (taken int) {
	t.Helper()
	for _, target := range fastStructTargets {
		fast, strict, hooked := target(), target(), target()
		ok := fastUnmarshalStruct(b, fast)
		err := decMode.Unmarshal(b, strict)
		name := reflect.TypeOf(fast).Elem().Name()
		if ok {
			taken++
			if err != nil || !reflect.DeepEqual(fast, strict) {
				t.Fatalf("%x as %s: read directly as %+v; strict decoder: %+v, %v", b, name, fast, strict, err)
			}
		} else if !reflect.DeepEqual(fast, target()) {
			t.Fatalf("%x as %s: refused, but left %+v", b, name, fast)
		}
		herr := CodecCBOR.Unmarshal(b, hooked)
		if fmt.Sprint(herr) != fmt.Sprint(err) || !reflect.DeepEqual(hooked, strict) {
			t.Fatalf("%x as %s: Unmarshal gave %+v, %v; strict decoder %+v, %v", b, name, hooked, herr, strict, err)
		}
		if plainItem(b) { // as a request's data read directly
			plain := target()
			perr := CodecCBOR.UnmarshalPlainData(b, plain)
			if fmt.Sprint(perr) != fmt.Sprint(err) || !reflect.DeepEqual(plain, strict) {
				t.Fatalf("%x as %s: UnmarshalPlainData gave %+v, %v; strict decoder %+v, %v", b, name, plain, perr, strict, err)
			}
		}
	}
	return taken
}

// names writes a name, a list of names, or now and then something else.
func (g *msgGen) names(b []byte) []byte {
	switch g.r.IntN(8) {
	case 0:
		return g.item(b, 1)
	case 1, 2, 3:
		return g.strValue(b)
	}
	k := g.r.IntN(4)
	b = g.head(b, majorArray, uint64(k))
	for range k {
		if g.chance(0.05) {
			b = g.item(b, 1)
		} else {
			b = g.strValue(b)
		}
	}
	return b
}

// boolValue writes false or true.
func (g *msgGen) boolValue(b []byte) []byte { return append(b, 0xf4+byte(g.r.IntN(2))) }

// intValue writes an integer of either sign.
func (g *msgGen) intValue(b []byte) []byte { return g.head(b, byte(g.r.IntN(2)), g.uint()) }

func TestFastStructMatchesStrict(t *testing.T) {
	g := newMsgGen(7)
	const n = 20000
	taken := 0
	for range n {
		var b []byte
		if g.chance(0.5) {
			b = g.object(nil, genField{"to", g.names}, genField{"body", g.rawValue})
		} else {
			b = g.object(nil, genField{"relay", g.strValue}, genField{"G", g.intValue}, genField{"G2", g.intValue},
				genField{"u16", g.uintValue}, genField{"u", g.uintValue}, genField{"b", g.boolValue},
				genField{"n", g.names}, genField{"r", g.rawValue}, genField{"Key", g.strValue},
				genField{"p", g.strValue}, genField{"s", g.strValue}, genField{"c", g.strValue})
		}
		if g.chance(0.02) {
			b = b[:g.r.IntN(len(b))]
		}
		taken += checkFastStruct(t, b)
	}
	if taken < n/5 {
		t.Errorf("only %d of %d bodies read directly", taken, n)
	}
}

// The usual data of a relay message is read directly.
func TestFastStructRelayData(t *testing.T) {
	for _, v := range []any{
		map[string]any{"to": "G", "body": "hello"},
		map[string]any{"to": []string{"G", "H"}, "body": map[string]any{"n": 1}},
		map[string]any{"to": []string{}},
		map[string]any{},
	} {
		b := mustCBOR(t, v)
		var got relayData
		if !fastUnmarshalStruct(b, &got) {
			t.Fatalf("%v not read directly", v)
		}
		checkFastStruct(t, b)
	}
	for _, target := range fastStructTargets[2:] {
		if p := planOf(reflect.TypeOf(target()).Elem()); p != nil {
			t.Errorf("%T planned as plain: %+v", target(), p)
		}
	}
}

func FuzzFastStruct(f *testing.F) {
	for _, v := range []any{map[string]any{"to": "G", "body": "hi"}, map[string]any{"to": []string{"G"}, "body": 1},
		map[string]any{"relay": "x", "G": -5, "G2": 1 << 40, "u16": 65535, "b": true, "n": "G", "r": nil, "Key": "k"}} {
		f.Add([]byte(mustCBOR(f, v)))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkFastStruct(t, b) })
}
