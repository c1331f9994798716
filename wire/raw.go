package wire

import (
	"errors"
	"fmt"
)

// RawValue is one encoded value kept as bytes: the opaque `data` of a
// message. It marshals and unmarshals itself unchanged in both codecs, so
// it must only be encoded by the codec it was produced in (see Convert).
// A nil RawValue stands for an absent value and encodes as null.
type RawValue []byte

var (
	cborNull = []byte{0xf6}
	jsonNull = []byte("null")
)

// MarshalCBOR returns the value as is.
func (r RawValue) MarshalCBOR() ([]byte, error) {
	if len(r) == 0 {
		return cborNull, nil
	}
	return r, nil
}

// UnmarshalCBOR keeps a copy of the item. The decoder has only checked
// that the item is well formed, but the encoder also checks the content of
// tags 0 to 3 and refuses to write an item that breaks them: such data is
// refused here, so that what was accepted can always be passed on.
func (r *RawValue) UnmarshalCBOR(b []byte) error {
	if _, err := checkBuiltinTags(b); err != nil {
		return fmt.Errorf("cbor data: %w", err)
	}
	*r = append((*r)[:0], b...)
	return nil
}

// MarshalJSON returns the value as is.
func (r RawValue) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return jsonNull, nil
	}
	return r, nil
}

// UnmarshalJSON keeps a copy of the value.
func (r *RawValue) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

// ErrNoJSONForm is wrapped by Convert when a CBOR value has no faithful
// JSON form (byte strings, tags, non-text keys, NaN or infinities).
var ErrNoJSONForm = errors.New("value has no JSON form")

// ErrDataTooLarge is wrapped by ConvertWithin for data larger than
// max_frame in the codec it is to be written in.
var ErrDataTooLarge = errors.New("data larger than max_frame")

// ConvertWithin is Convert for data that must fit in max bytes (the
// server's max_frame) once converted: a conversion can make data larger,
// and what a server writes must stay within what its reader accepts.
func ConvertWithin(v RawValue, from, to Codec, max int) (RawValue, error) {
	out, err := Convert(v, from, to)
	if err == nil && len(out) > max {
		return nil, fmt.Errorf("%w: %d bytes in %s, more than %d", ErrDataTooLarge, len(out), to, max)
	}
	return out, err
}

// Convert re-encodes v from codec `from` to codec `to`, keeping every
// value's kind: integers stay integers, text stays text, maps keep their
// keys. Equal codecs return v untouched.
func Convert(v RawValue, from, to Codec) (RawValue, error) {
	if from == to || len(v) == 0 {
		return v, nil
	}
	switch {
	case from == CodecJSON && to == CodecCBOR:
		return jsonToCBOR(v)
	case from == CodecCBOR && to == CodecJSON:
		return cborToJSON(v)
	}
	return nil, fmt.Errorf("convert %s to %s: unsupported", from, to)
}
