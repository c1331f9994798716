package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
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

func jsonToCBOR(js []byte) (RawValue, error) {
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("json data: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("json data: trailing data after the value")
	}
	v, err := jsonNumbers(v)
	if err != nil {
		return nil, err
	}
	return encMode.Marshal(v)
}

// jsonNumbers replaces json.Number with the narrowest Go number that keeps
// its kind: an integer literal stays an integer, whatever its size.
func jsonNumbers(v any) (any, error) {
	var err error
	switch t := v.(type) {
	case json.Number:
		s := t.String()
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil
		}
		if n, ok := new(big.Int).SetString(s, 10); ok {
			return n, nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, fmt.Errorf("json data: number %s: %w", s, err)
		}
		return f, nil
	case map[string]any:
		for k, x := range t {
			if t[k], err = jsonNumbers(x); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, x := range t {
			if t[i], err = jsonNumbers(x); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

func cborToJSON(b []byte) (RawValue, error) {
	var v any
	if err := decMode.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("cbor data: %w", err)
	}
	v, err := jsonForm(v)
	if err != nil {
		return nil, err
	}
	return CodecJSON.Marshal(v)
}

// jsonForm refuses what JSON would only carry by changing its kind, and
// wraps what encoding/json would otherwise change: floats with an integral
// value (written as 1.0, not 1) and bignums (which the CBOR decoder gives
// as big.Int values, which encoding/json would write as {}).
func jsonForm(v any) (any, error) {
	var err error
	switch t := v.(type) {
	case nil, bool, string, uint64, int64, *big.Int:
		return v, nil
	case big.Int:
		return &t, nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("%w: %v", ErrNoJSONForm, t)
		}
		return jsonFloat(t), nil
	case float32:
		return jsonForm(float64(t))
	case map[string]any:
		for k, x := range t {
			if t[k], err = jsonForm(x); err != nil {
				return nil, err
			}
		}
		return t, nil
	case []any:
		for i, x := range t {
			if t[i], err = jsonForm(x); err != nil {
				return nil, err
			}
		}
		return t, nil
	case []byte:
		return nil, fmt.Errorf("%w: byte string", ErrNoJSONForm)
	default:
		return nil, fmt.Errorf("%w: %T", ErrNoJSONForm, v)
	}
}
