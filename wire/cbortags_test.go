package wire

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// FuzzCheckBuiltinTags holds checkBuiltinTags to the encoder's own check on
// every well-formed item: the two must agree (but for text that is not
// UTF-8, which only the walk refuses), and the walk must span the whole
// item.
func FuzzCheckBuiltinTags(f *testing.F) {
	for _, h := range []string{"00", "c074323031332d30332d32315432303a30343a30305a", "c11a514b67b0",
		"c249010000000000000000", "c0 01", "c1 61 61", "d8 64 c0 20", "9f c2 41 01 ff", "bf 61 61 c3 f6 ff",
		"7f 61 61 ff", "a1 c0 60 c1 f9 3c00", "c1 c1 01", "f8 20", "5f 41 00 ff"} {
		b, err := hex.DecodeString(stripSpaces(h))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if decMode.Wellformed(b) != nil {
			return
		}
		_, encErr := encMode.Marshal(cbor.RawMessage(b))
		n, err := checkBuiltinTags(b)
		if errors.Is(err, ErrInvalidText) && encErr == nil {
			return // the walk holds text to UTF-8, which the encoder does not check
		}
		if (err == nil) != (encErr == nil) {
			t.Fatalf("% x: walk says %v, encoder says %v", b, err, encErr)
		}
		if err == nil && n != len(b) {
			t.Fatalf("% x: walk spans %d of %d bytes", b, n, len(b))
		}
	})
}

func stripSpaces(s string) string {
	out := make([]byte, 0, len(s))
	for i := range len(s) {
		if s[i] != ' ' {
			out = append(out, s[i])
		}
	}
	return string(out)
}
