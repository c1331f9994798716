package wire_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/bester-project/bester/wire"
)

// unhex decodes a hex string written with optional spaces, for hand-made
// CBOR items whose exact bytes matter.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// cborText encodes s as a CBOR text string of fewer than 24 bytes.
func cborText(s string) []byte {
	if len(s) >= 24 {
		panic("cborText: string too long for a one-byte head")
	}
	return append([]byte{0x60 | byte(len(s))}, s...)
}

// cborMap builds a definite-length CBOR map from key/value pairs given as
// already encoded items, in the order given (so duplicates are possible).
func cborMap(pairs ...[]byte) []byte {
	if len(pairs)%2 != 0 || len(pairs)/2 >= 24 {
		panic("cborMap: want an even number of items, fewer than 48")
	}
	out := []byte{0xa0 | byte(len(pairs)/2)}
	for _, p := range pairs {
		out = append(out, p...)
	}
	return out
}

// nonCanonicalData is an indefinite-length map {_ "a": 1, "b": 1.5} whose 1
// is a five-byte integer and whose 1.5 is a float64: everything a
// re-encoding would change.
const nonCanonicalData = "bf 6161 1a00000001 6162 fb3ff8000000000000 ff"

// sampleEnvelopes returns a first message and a later message in codec c,
// as real clients write them.
func sampleEnvelopes(t testing.TB, c wire.Codec) [][]byte {
	t.Helper()
	first := &wire.Envelope{
		Header: &wire.Header{Scope: wire.ScopeClient,
			Authentication: &wire.Credentials{Username: "T", Password: "secret"}},
		Payload: &wire.Payload{Type: "afrikaans", ID: "m-1", Data: sampleData(t, c)},
	}
	later := &wire.Envelope{Payload: &wire.Payload{Type: "relay", ID: "m-2", Data: sampleData(t, c)}}
	var out [][]byte
	for _, e := range []*wire.Envelope{first, later} {
		b, err := c.Marshal(e)
		if err != nil {
			t.Fatalf("marshal sample envelope: %v", err)
		}
		out = append(out, b)
	}
	return out
}

// sampleDataJSON is the data of a typical relay message.
const sampleDataJSON = `{"to":["G","G2"],"body":"hello, wêreld","n":42,"big":18446744073709551615,"neg":-1,"ratio":0.25,"nested":{"ok":true,"none":null,"list":[1,2.5,"x"]}}`

// sampleData returns sampleDataJSON in codec c.
func sampleData(t testing.TB, c wire.Codec) wire.RawValue {
	t.Helper()
	v, err := wire.Convert(wire.RawValue(sampleDataJSON), wire.CodecJSON, c)
	if err != nil {
		t.Fatalf("convert sample data: %v", err)
	}
	return v
}
