package wire_test

import (
	"slices"
	"testing"

	"github.com/bester-project/bester/wire"
)

func TestNames(t *testing.T) {
	for _, codec := range codecs {
		for _, tc := range []struct {
			in   any
			want wire.Names
		}{
			{"G", wire.Names{"G"}},
			{[]string{"G", "H"}, wire.Names{"G", "H"}},
			{[]string{}, wire.Names{}},
			{nil, nil},
		} {
			b, err := codec.Marshal(map[string]any{"to": tc.in})
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				To wire.Names `cbor:"to" json:"to"`
			}
			if err := codec.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s %v: %v", codec, tc.in, err)
			}
			if !slices.Equal(v.To, tc.want) || (tc.want != nil) != (v.To != nil) {
				t.Errorf("%s %v: got %#v", codec, tc.in, v.To)
			}
		}
		for _, bad := range []any{7, []any{"G", 1}, map[string]any{}} {
			b, _ := codec.Marshal(map[string]any{"to": bad})
			var v struct {
				To wire.Names `cbor:"to" json:"to"`
			}
			if err := codec.Unmarshal(b, &v); err == nil {
				t.Errorf("%s %v accepted as %v", codec, bad, v.To)
			}
		}
	}
}
