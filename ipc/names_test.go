package ipc

import (
	"slices"
	"testing"
)

func TestNames(t *testing.T) {
	for _, codec := range codecs {
		for _, tc := range []struct {
			in   any
			want Names
		}{
			{"G", Names{"G"}},
			{[]string{"G", "H"}, Names{"G", "H"}},
			{[]string{}, Names{}},
			{nil, nil},
		} {
			b, err := codec.Marshal(map[string]any{"to": tc.in})
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				To Names `cbor:"to" json:"to"`
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
				To Names `cbor:"to" json:"to"`
			}
			if err := codec.Unmarshal(b, &v); err == nil {
				t.Errorf("%s %v accepted as %v", codec, bad, v.To)
			}
		}
	}
}
