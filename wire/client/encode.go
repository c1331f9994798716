package client

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/bester-project/bester/wire"
)

// Fixed parts of a later message (protocol §3: the header may be left out),
// written by hand because the envelope never changes shape: a Send then
// costs no reflection and no allocation.
var (
	cborPayloadHead = []byte("\xa1\x67payload\xa3\x64type")
	cborIDKey       = []byte("\x62id")
	cborDataKey     = []byte("\x64data")
	cborNull        = []byte{0xf6}

	jsonPayloadHead = []byte(`{"payload":{"type":`)
	jsonIDKey       = []byte(`,"id":`)
	jsonDataKey     = []byte(`,"data":`)
	jsonTail        = []byte(`}}`)
	jsonNull        = []byte("null")
)

// cborMajorText is the major type of a CBOR text string, shifted into
// place in the initial byte.
const cborMajorText = 3 << 5

// AppendMessage appends to dst one frame holding a payload-only envelope
// in codec c, as Send writes it. data must already be encoded in c (it
// is not checked); empty means null. Tools that write frames themselves,
// or must know a message's exact size, use it.
func AppendMessage(dst []byte, c wire.Codec, typ, id string, data []byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // length prefix, filled in below
	if c == wire.CodecJSON {
		if len(data) == 0 {
			data = jsonNull
		}
		dst = append(dst, jsonPayloadHead...)
		dst = wire.AppendJSONString(dst, typ)
		dst = append(dst, jsonIDKey...)
		dst = wire.AppendJSONString(dst, id)
		dst = append(dst, jsonDataKey...)
		dst = append(dst, data...)
		dst = append(dst, jsonTail...)
	} else {
		if len(data) == 0 {
			data = cborNull
		}
		dst = append(dst, cborPayloadHead...)
		dst = appendCBORText(dst, typ)
		dst = append(dst, cborIDKey...)
		dst = appendCBORText(dst, id)
		dst = append(dst, cborDataKey...)
		dst = append(dst, data...)
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start-wire.FrameHeaderSize))
	return dst
}

// appendCBORText appends s as a definite-length CBOR text string.
func appendCBORText(dst []byte, s string) []byte {
	n := uint64(len(s))
	switch {
	case n < 24:
		dst = append(dst, cborMajorText|byte(n))
	case n <= 0xff:
		dst = append(dst, cborMajorText|24, byte(n))
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(append(dst, cborMajorText|25), uint16(n))
	case n <= 0xffffffff:
		dst = binary.BigEndian.AppendUint32(append(dst, cborMajorText|26), uint32(n))
	default:
		dst = binary.BigEndian.AppendUint64(append(dst, cborMajorText|27), n)
	}
	return append(dst, s...)
}

// validText reports whether typ and id can be written as text in both
// codecs (CBOR text must be UTF-8, and the server refuses anything else).
func validText(typ, id string) bool {
	return utf8.ValidString(typ) && utf8.ValidString(id)
}
