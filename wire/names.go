package wire

import "fmt"

// Names is a list of user, peer or handler names that also decodes from a
// single bare name, since data written by people says "to": "G" as often as
// "to": ["G"]. null decodes as an empty list. Handlers decode their targets
// with it, and the server the peers of a sendServers.
type Names []string

// UnmarshalJSON accepts a string, a list of strings or null.
func (n *Names) UnmarshalJSON(b []byte) error { return n.decode(CodecJSON, b) }

// UnmarshalCBOR accepts a text string, an array of text strings or null.
func (n *Names) UnmarshalCBOR(b []byte) error { return n.decode(CodecCBOR, b) }

func (n *Names) decode(c Codec, b []byte) error {
	if c == CodecCBOR { // the usual list, without a detour through []any
		if list, ok := CBORTextArray(b); ok {
			*n = list
			return nil
		}
		var s string
		if len(b) > 0 && b[0]>>5 == 3 && c.Unmarshal(b, &s) == nil { // one bare name
			*n = Names{s}
			return nil
		}
	}
	var v any
	if err := c.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("names: %w", err)
	}
	switch t := v.(type) {
	case nil:
		*n = nil
	case string:
		*n = Names{t}
	case []any:
		out := make(Names, 0, len(t))
		for i, x := range t {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("names: element %d is %T, not a string", i, x)
			}
			out = append(out, s)
		}
		*n = out
	default:
		return fmt.Errorf("names: want a name or a list of names, got %T", v)
	}
	return nil
}
