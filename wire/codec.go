package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// Codec is how a frame body is encoded.
type Codec uint8

// The codecs of protocol §2. The zero value means "not yet known", which a
// listener in auto mode resolves from the first body it reads.
const (
	CodecAuto Codec = iota
	CodecCBOR
	CodecJSON
)

// ParseCodec reads a codec name as written in configuration and in the
// BESTER_CODEC environment variable.
func ParseCodec(name string) (Codec, error) {
	switch name {
	case "auto", "":
		return CodecAuto, nil
	case "cbor":
		return CodecCBOR, nil
	case "json":
		return CodecJSON, nil
	}
	return CodecAuto, fmt.Errorf("unknown codec %q (want auto, cbor or json)", name)
}

// String is the codec's name as ParseCodec reads it, for configuration
// and logs.
func (c Codec) String() string {
	switch c {
	case CodecCBOR:
		return "cbor"
	case CodecJSON:
		return "json"
	}
	return "auto"
}

// DetectCodec tells the codec of a body from its first byte: a JSON object
// (possibly after whitespace) or a CBOR map (major type 5).
func DetectCodec(body []byte) (Codec, error) {
	if len(body) == 0 {
		return CodecAuto, errors.New("empty body")
	}
	switch b := body[0]; {
	case b == '{' || b == ' ' || b == '\t' || b == '\r' || b == '\n':
		return CodecJSON, nil
	case b >= 0xa0 && b <= 0xbf:
		return CodecCBOR, nil
	default:
		return CodecAuto, fmt.Errorf("body starts with byte 0x%02x: neither a JSON object nor a CBOR map", b)
	}
}

// The decoder's limits: the longest array, the largest map and the deepest
// nesting of arrays, maps and tags it takes.
const (
	maxArrayElements = 1 << 20
	maxMapPairs      = 1 << 20
	maxNestedLevels  = 64
)

// decMode is strict where it matters for envelopes (duplicate keys, case of
// field names) and liberal inside opaque data (tags, indefinite lengths).
var decMode = mustDecMode(cbor.DecOptions{
	DupMapKey:         cbor.DupMapKeyEnforcedAPF,
	MaxNestedLevels:   maxNestedLevels,
	MaxArrayElements:  maxArrayElements,
	MaxMapPairs:       maxMapPairs,
	IndefLength:       cbor.IndefLengthAllowed,
	TagsMd:            cbor.TagsAllowed,
	UTF8:              cbor.UTF8RejectInvalid,
	FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	DefaultMapType:    reflect.TypeOf(map[string]any(nil)),
})

var encOptions = cbor.EncOptions{Sort: cbor.SortBytewiseLexical}

var encMode = mustEncMode(encOptions)

// bufEncMode encodes like encMode straight into a caller's buffer.
var bufEncMode = func() cbor.UserBufferEncMode {
	m, err := encOptions.UserBufferEncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

func mustEncMode(o cbor.EncOptions) cbor.EncMode {
	m, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

// Marshal encodes v in codec c. A string and a []string, a handler
// command's data, are encoded in CBOR without reflection (see fastenc.go).
func (c Codec) Marshal(v any) ([]byte, error) {
	switch c {
	case CodecCBOR:
		if b, ok := marshalCBORFast(v); ok {
			return b, nil
		}
		return encMode.Marshal(v)
	case CodecJSON:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
	}
	return nil, fmt.Errorf("marshal: codec %s is not concrete", c)
}

// AppendMarshal appends the encoding of v in codec c to b, as
// append(b, Marshal(v)...) would; what Marshal encodes without reflection
// is appended without an intermediate copy.
func (c Codec) AppendMarshal(b []byte, v any) ([]byte, error) {
	if _, ok := fastValueLen(v); ok && c == CodecCBOR {
		return appendCBORValue(b, v), nil
	}
	m, err := c.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, m...), nil
}

// AppendResponseFrame is AppendFrame for a handler's response, which it
// does not keep: a handler SDK can build its responses on the stack. In
// CBOR the usual responses are written without reflection.
func (c Codec) AppendResponseFrame(buf *bytes.Buffer, m *HandlerResponse) error {
	if c != CodecCBOR || !fastRaw(m.Data) || m.Header.Command != nil && !fastRaw(m.Header.Command.Data) {
		return c.AppendFrame(buf, m.clone())
	}
	start := buf.Len()
	buf.Write(frameHeaderZero[:])
	buf.Write(appendHandlerResponse(buf.AvailableBuffer(), m))
	b := buf.Bytes()[start:]
	binary.LittleEndian.PutUint32(b, uint32(len(b)-FrameHeaderSize))
	return nil
}

// clone copies m and all it points to, for the reflective encoders, which
// keep what they are given (as far as the compiler can tell).
func (m *HandlerResponse) clone() *HandlerResponse {
	cp := &HandlerResponse{Header: ResponseHeader{Status: strings.Clone(m.Header.Status)}, Data: bytes.Clone(m.Data)}
	if m.ID != nil {
		id := *m.ID
		cp.ID = &id
	}
	if c := m.Header.Command; c != nil {
		cp.Header.Command = &Command{Type: strings.Clone(c.Type), Data: bytes.Clone(c.Data)}
	}
	return cp
}

// AppendFrame encodes v in codec c as one frame at the end of buf, as
// AppendFrame(buf, Marshal(v)) would, without the intermediate copy. On
// error buf is left as it was. The messages every relayed message is
// written as are encoded in CBOR without reflection (see fastenc.go).
func (c Codec) AppendFrame(buf *bytes.Buffer, v any) error {
	start := buf.Len()
	buf.Write(frameHeaderZero[:])
	var err error
	switch c {
	case CodecCBOR:
		if !appendCBORFast(buf, v) {
			err = bufEncMode.MarshalToBuffer(v, buf)
		}
	case CodecJSON:
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err = enc.Encode(v); err == nil {
			buf.Truncate(buf.Len() - 1) // the newline Encode adds
		}
	default:
		err = fmt.Errorf("marshal: codec %s is not concrete", c)
	}
	if err != nil {
		buf.Truncate(start)
		return err
	}
	b := buf.Bytes()[start:]
	binary.LittleEndian.PutUint32(b, uint32(len(b)-FrameHeaderSize))
	return nil
}

var frameHeaderZero [FrameHeaderSize]byte

// UnmarshalMap decodes body, which must be exactly one map (protocol §1),
// into v. Any other shape is an error whose text names the problem. The
// messages every relayed message is read as are decoded from CBOR without
// reflection when they have their usual form (see fastdec.go).
func (c Codec) UnmarshalMap(body []byte, v any) error {
	switch c {
	case CodecCBOR:
		if len(body) == 0 || body[0]>>5 != 5 {
			return errors.New("body is not a CBOR map")
		}
		if fastUnmarshalMap(body, v) {
			return nil
		}
		return decMode.Unmarshal(body, v)
	case CodecJSON:
		if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
			return errors.New("body is not a JSON object")
		}
		return unmarshalJSON(body, v)
	}
	return fmt.Errorf("unmarshal: codec %s is not concrete", c)
}

// Unmarshal decodes any single value encoded in codec c into v. A map
// into a struct of strings, integers, booleans, Names and RawValues is
// decoded from CBOR without reflection over the data (see faststruct.go).
func (c Codec) Unmarshal(b []byte, v any) error {
	switch c {
	case CodecCBOR:
		if fastUnmarshalStruct(b, v) {
			return nil
		}
		return decMode.Unmarshal(b, v)
	case CodecJSON:
		return unmarshalJSON(b, v)
	}
	return fmt.Errorf("unmarshal: codec %s is not concrete", c)
}

// unmarshalJSON is json.Unmarshal refusing the text it would change
// (see checkJSONText).
func unmarshalJSON(b []byte, v any) error {
	if err := checkJSONText(b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
