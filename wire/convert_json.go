package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf8"
)

// jsonToCBOR converts one JSON value to CBOR in a single pass over it.
func jsonToCBOR(js []byte) (RawValue, error) {
	c := jsonConverter{converting: newConverting(js, len(js)+len(js)/2)}
	return c.run("json", func() error {
		err := c.value(0)
		c.skipSpace()
		return err
	})
}

// jsonConverter reads JSON and writes CBOR as encMode would: shortest
// heads, floats as float64, map keys sorted by their encoding.
type jsonConverter struct {
	converting
	text []byte // the string being decoded
}

var errJSONEnd = errors.New("unexpected end of data")

func (c *jsonConverter) skipSpace() {
	for c.off < len(c.in) {
		switch c.in[c.off] {
		case ' ', '\t', '\r', '\n':
			c.off++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (c *jsonConverter) peek() byte {
	if c.skipSpace(); c.off < len(c.in) {
		return c.in[c.off]
	}
	return 0
}

// value converts the value at off; depth counts the arrays and objects
// around it.
func (c *jsonConverter) value(depth int) error {
	switch b := c.peek(); {
	case b == '{':
		return c.object(depth + 1)
	case b == '[':
		return c.array(depth + 1)
	case b == '"':
		return c.str()
	case b == 't':
		return c.literal("true", 0xf5)
	case b == 'f':
		return c.literal("false", 0xf4)
	case b == 'n':
		return c.literal("null", 0xf6)
	case b == '-' || '0' <= b && b <= '9':
		return c.number()
	case b == 0 && c.off == len(c.in):
		return errJSONEnd
	default:
		return fmt.Errorf("unexpected %q", b)
	}
}

func (c *jsonConverter) literal(word string, item byte) error {
	if len(c.in)-c.off < len(word) || string(c.in[c.off:c.off+len(word)]) != word {
		return fmt.Errorf("invalid literal, want %s", word)
	}
	c.off += len(word)
	c.out = append(c.out, item)
	return nil
}

// items reads the comma-separated items of an array or an object up to
// its closing byte, calling item for each; n is their number.
func (c *jsonConverter) items(closing byte, limit int, item func() error) (n int, err error) {
	c.off++ // the opening bracket
	if c.peek() == closing {
		c.off++
		return 0, nil
	}
	for {
		if n++; n > limit {
			return 0, fmt.Errorf("more than %d items", limit)
		}
		if err := item(); err != nil {
			return 0, err
		}
		switch c.peek() {
		case ',':
			c.off++
		case closing:
			c.off++
			return n, nil
		case 0:
			return 0, errJSONEnd
		default:
			return 0, fmt.Errorf("want , or %c", closing)
		}
	}
}

func (c *jsonConverter) array(depth int) error {
	if depth > maxNestedLevels {
		return errTooDeep
	}
	start := len(c.out)
	c.out = append(c.out, 0) // the head, until the count is known
	n, err := c.items(']', maxArrayElements, func() error { return c.value(depth) })
	if err != nil {
		return err
	}
	c.out = setHead(c.out, start, majorArray, n)
	return nil
}

func (c *jsonConverter) object(depth int) error {
	if depth > maxNestedLevels {
		return errTooDeep
	}
	start, base := len(c.out), len(c.pairs)
	c.out = append(c.out, 0) // the head, until the count is known
	n, err := c.items('}', maxMapPairs, func() error { return c.pair(depth) })
	if err != nil {
		return err
	}
	var head [9]byte
	moved, err := c.finish(start, base, appendHead(head[:0], majorMap, uint64(n)), 0)
	if err == nil && !moved {
		c.out = setHead(c.out, start, majorMap, n)
	}
	return err
}

func (c *jsonConverter) pair(depth int) error {
	key := len(c.out)
	if c.peek() != '"' {
		return errors.New("an object key must be a string")
	}
	if err := c.str(); err != nil {
		return err
	}
	keyEnd := len(c.out)
	if c.peek() != ':' {
		return errors.New("want : after an object key")
	}
	c.off++
	if err := c.value(depth); err != nil {
		return err
	}
	c.pairs = append(c.pairs, pairSpan{key: key, keyEnd: keyEnd, end: len(c.out)})
	return nil
}

// setHead writes the head of an array or map of n items at out[start],
// where one byte was kept for it, moving the items when it takes more.
func setHead(out []byte, start int, major byte, n int) []byte {
	var buf [9]byte
	head := appendHead(buf[:0], major, uint64(n))
	out[start] = head[0]
	return slices.Insert(out, start+1, head[1:]...)
}

// str converts the string at off, refusing what encoding/json would
// change: bytes that are not UTF-8 and lone surrogates.
func (c *jsonConverter) str() error {
	c.text = c.text[:0]
	c.off++ // the opening quote
	run := c.off
	for i := c.off; i < len(c.in); {
		switch b := c.in[i]; {
		case b == '"':
			c.text = append(c.text, c.in[run:i]...)
			c.off = i + 1
			if !utf8.Valid(c.text) {
				return ErrInvalidText
			}
			c.out = append(appendHead(c.out, majorText, uint64(len(c.text))), c.text...)
			return nil
		case b == '\\':
			c.text = append(c.text, c.in[run:i]...)
			r, next, err := jsonEscape(c.in, i)
			if err != nil {
				c.off = i
				return err
			}
			c.text = utf8.AppendRune(c.text, r)
			i, run = next, next
		case b < 0x20:
			c.off = i
			return fmt.Errorf("control character 0x%02x in a string", b)
		default:
			i++
		}
	}
	return errJSONEnd
}

// number converts the number at off: an integer literal to an integer,
// anything with a fraction or an exponent to a float64.
func (c *jsonConverter) number() error {
	start := c.off
	negative := c.in[c.off] == '-'
	if negative {
		c.off++
	}
	digits, small := c.digits()
	if digits == 0 || digits > 1 && c.in[c.off-digits] == '0' {
		return errors.New("invalid number")
	}
	isFloat := false
	if c.off < len(c.in) && c.in[c.off] == '.' {
		c.off++
		if n, _ := c.digits(); n == 0 {
			return errors.New("invalid number: no digit after the point")
		}
		isFloat = true
	}
	if c.off < len(c.in) && (c.in[c.off] == 'e' || c.in[c.off] == 'E') {
		c.off++
		if c.off < len(c.in) && (c.in[c.off] == '+' || c.in[c.off] == '-') {
			c.off++
		}
		if n, _ := c.digits(); n == 0 {
			return errors.New("invalid number: no digit in the exponent")
		}
		isFloat = true
	}
	switch {
	case isFloat:
		return c.float(string(c.in[start:c.off]))
	case digits <= maxSmallDigits && negative && small > 0:
		c.out = appendHead(c.out, majorNint, small-1)
	case digits <= maxSmallDigits:
		c.out = appendHead(c.out, majorUint, small)
	default:
		return c.integer(string(c.in[start:c.off]), digits)
	}
	return nil
}

// maxSmallDigits is the most digits whose value digits computes exactly:
// any 19-digit number fits in a uint64.
const maxSmallDigits = 19

// digits passes over a run of decimal digits and returns its length and,
// for up to maxSmallDigits digits, its value, the common case, which
// needs no further parsing.
func (c *jsonConverter) digits() (n int, value uint64) {
	start := c.off
	for ; c.off < len(c.in) && '0' <= c.in[c.off] && c.in[c.off] <= '9'; c.off++ {
		value = value*10 + uint64(c.in[c.off]-'0')
	}
	return c.off - start, value
}

func (c *jsonConverter) float(lit string) error {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return fmt.Errorf("number out of range: %w", err)
	}
	c.out = binary.BigEndian.AppendUint64(append(c.out, 0xfb), math.Float64bits(f))
	return nil
}

// integer converts an integer literal of the given number of digits; its
// length is checked before anything parses it.
func (c *jsonConverter) integer(lit string, digits int) error {
	if digits > maxIntegerDigits {
		return fmt.Errorf("integer of %d digits: at most %d are taken", digits, maxIntegerDigits)
	}
	n, ok := new(big.Int).SetString(lit, 10)
	if !ok {
		return fmt.Errorf("invalid integer %s", lit)
	}
	if err := checkIntegerSize(n); err != nil {
		return err
	}
	c.out = appendBigInt(c.out, n)
	return nil
}

// appendBigInt writes n as encMode does: as an integer when it fits in 64
// bits and its sign, else as a bignum (tag 2 or 3).
func appendBigInt(b []byte, n *big.Int) []byte {
	major, tag := byte(majorUint), byte(0xc0|tagBignumPos)
	if n.Sign() < 0 {
		n = new(big.Int).Sub(big.NewInt(-1), n) // -1-n, the value CBOR writes
		major, tag = majorNint, 0xc0|tagBignumNeg
	}
	if n.IsUint64() {
		return appendHead(b, major, n.Uint64())
	}
	mag := n.Bytes()
	return append(appendHead(append(b, tag), majorBytes, uint64(len(mag))), mag...)
}
