package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The CBOR tags whose content the encoder checks (RFC 8949 §3.4.1-3):
// date/time text, epoch time, and the two bignums.
const (
	tagDateTime   = 0
	tagEpochTime  = 1
	tagBignumPos  = 2
	tagBignumNeg  = 3
	maxTagChecked = tagBignumNeg
)

// maxTagCheckDepth bounds the recursion of checkBuiltinTags; the decoder
// has already refused deeper items (MaxNestedLevels).
const maxTagCheckDepth = 1 << 10

var errMalformedCBOR = errors.New("malformed CBOR item")

// checkBuiltinTags walks one well-formed CBOR item and refuses tags 0 to 3
// whose content has the wrong type, the check the encoder makes before it
// writes a RawValue, and text that is not UTF-8, which the decoder checks
// only in what it decodes itself. The chunks of an indefinite-length text
// are checked one by one: RFC 8949 §3.2.3 forbids splitting a character
// between them. It returns the number of bytes the item spans.
func checkBuiltinTags(b []byte) (int, error) {
	return tagWalk(b, 0, 0)
}

func tagWalk(b []byte, off, depth int) (int, error) {
	if depth > maxTagCheckDepth {
		return 0, errMalformedCBOR
	}
	major, val, indef, next, err := cborHead(b, off)
	if err != nil {
		return 0, err
	}
	switch major {
	case 0, 1, 7:
		return next, nil
	case 2, 3:
		if !indef {
			if val > uint64(len(b)-next) {
				return 0, errMalformedCBOR
			}
			end := next + int(val)
			if major == 3 && !utf8.Valid(b[next:end]) {
				return 0, ErrInvalidText
			}
			return end, nil
		}
		return tagWalkItems(b, next, depth, 0, true)
	case 4:
		return tagWalkItems(b, next, depth, val, indef)
	case 5:
		if !indef && val > uint64(len(b)) {
			return 0, errMalformedCBOR
		}
		return tagWalkItems(b, next, depth, 2*val, indef)
	}
	// Major type 6: a tag around one item.
	if next >= len(b) {
		return 0, errMalformedCBOR
	}
	if val <= maxTagChecked {
		if err := checkTagContent(val, b[next]); err != nil {
			return 0, err
		}
	}
	return tagWalk(b, next, depth+1)
}

// tagWalkItems walks n items, or items up to a break when indef is set.
func tagWalkItems(b []byte, off, depth int, n uint64, indef bool) (int, error) {
	var err error
	for i := uint64(0); indef || i < n; i++ {
		if indef {
			if off >= len(b) {
				return 0, errMalformedCBOR
			}
			if b[off] == 0xff {
				return off + 1, nil
			}
		}
		if off, err = tagWalk(b, off, depth+1); err != nil {
			return 0, err
		}
	}
	return off, nil
}

// cborHead reads the head of the item at off: its major type, its argument
// and whether its length is indefinite; next is the offset after the head.
func cborHead(b []byte, off int) (major byte, val uint64, indef bool, next int, err error) {
	if off >= len(b) {
		return 0, 0, false, 0, errMalformedCBOR
	}
	major, ai := b[off]>>5, b[off]&0x1f
	off++
	switch {
	case ai < 24:
		return major, uint64(ai), false, off, nil
	case ai == 31:
		return major, 0, true, off, nil
	case ai > 27:
		return 0, 0, false, 0, errMalformedCBOR
	}
	size := 1 << (ai - 24)
	if len(b)-off < size {
		return 0, 0, false, 0, errMalformedCBOR
	}
	switch size {
	case 1:
		val = uint64(b[off])
	case 2:
		val = uint64(binary.BigEndian.Uint16(b[off:]))
	case 4:
		val = uint64(binary.BigEndian.Uint32(b[off:]))
	default:
		val = binary.BigEndian.Uint64(b[off:])
	}
	return major, val, false, off + size, nil
}

// checkTagContent applies RFC 8949's content rule for tags 0 to 3 to the
// first byte of the tag's content.
func checkTagContent(tag uint64, head byte) error {
	major := head >> 5
	var ok bool
	var want string
	switch tag {
	case tagDateTime:
		ok, want = major == 3, "text string"
	case tagEpochTime:
		ok, want = major <= 1 || head >= 0xf9 && head <= 0xfb, "integer or floating-point number"
	default:
		ok, want = major == 2, "byte string"
	}
	if !ok {
		return fmt.Errorf("tag %d must be followed by a %s", tag, want)
	}
	return nil
}
