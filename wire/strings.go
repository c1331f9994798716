package wire

import "unicode/utf8"

// UnmarshalStrings decodes a list of text strings encoded in codec c, as
// c.Unmarshal(b, &list) would. A handler names its recipients this way in
// every answer, so the common CBOR form, a definite-length array of
// definite-length text, is read directly: all its strings share a single
// allocation. Any other input takes the general decoder, with its errors.
func (c Codec) UnmarshalStrings(b []byte) ([]string, error) {
	if c == CodecCBOR {
		if list, ok := CBORTextArray(b); ok {
			return list, nil
		}
	}
	var list []string
	if err := c.Unmarshal(b, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// CBORTextArray reads b as one definite-length array of definite-length,
// valid UTF-8 text strings and nothing after it, which every decoder of
// this package would take; ok is false for anything else, which the
// caller then decodes in full.
func CBORTextArray(b []byte) (list []string, ok bool) {
	major, n, indef, off, err := cborHead(b, 0)
	if err != nil || major != 4 || indef || n > uint64(len(b)) || n > maxArrayElements {
		return nil, false
	}
	// One string holds the array's content; the names are slices of it.
	base := off
	all := string(b[base:])
	list = make([]string, n)
	for i := range list {
		major, size, indef, next, err := cborHead(b, off)
		if err != nil || major != 3 || indef || size > uint64(len(b)-next) {
			return nil, false
		}
		end := next + int(size)
		s := all[next-base : end-base]
		if !utf8.ValidString(s) {
			return nil, false
		}
		list[i] = s
		off = end
	}
	if off != len(b) {
		return nil, false
	}
	return list, true
}
