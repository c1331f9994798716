package wire

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// cborToJSON converts one CBOR item to JSON in a single pass over it.
func cborToJSON(b []byte) (RawValue, error) {
	c := cborConverter{converting: newConverting(b, 2*len(b))}
	return c.run("cbor", func() error { return c.item(0) })
}

// cborConverter reads CBOR and writes JSON as encoding/json would, but for
// floats, which always read as floats (1.0, not 1), and map keys, sorted
// by their JSON text.
type cborConverter struct {
	converting
	chunks []byte // the chunks of an indefinite-length string, joined
}

// head reads the head of the next item.
func (c *cborConverter) head() (major byte, val uint64, indef bool, err error) {
	major, val, indef, next, err := cborHead(c.in, c.off)
	if err != nil {
		return 0, 0, false, err
	}
	c.off = next
	return major, val, indef, nil
}

// item converts the item at off; depth counts the arrays, maps and tags
// around it, as the decoder does.
func (c *cborConverter) item(depth int) error {
	start := c.off
	major, val, indef, err := c.head()
	if err != nil {
		return err
	}
	if indef && (major == majorUint || major == majorNint || major == 6) {
		return errMalformedCBOR
	}
	switch major {
	case majorUint:
		c.out = strconv.AppendUint(c.out, val, 10)
	case majorNint:
		c.out = appendNegative(c.out, val)
	case majorBytes:
		return fmt.Errorf("%w: byte string", ErrNoJSONForm)
	case majorText:
		s, err := c.str(majorText, val, indef)
		if err != nil {
			return err
		}
		c.out = AppendJSONString(c.out, s)
	case majorArray:
		return c.array(val, indef, depth+1)
	case majorMap:
		return c.object(val, indef, depth+1)
	case majorSimple:
		return c.simple(c.in[start]&0x1f, val, indef)
	default:
		return c.tagged(val, depth+1)
	}
	return nil
}

// appendNegative writes -1-n, which may be -2^64.
func appendNegative(b []byte, n uint64) []byte {
	if n == math.MaxUint64 {
		return append(b, "-18446744073709551616"...)
	}
	return strconv.AppendUint(append(b, '-'), n+1, 10)
}

// str reads the content of a byte or text string (the major type given)
// whose head was read, joining the chunks of an indefinite-length one.
// Text must be valid UTF-8, each chunk on its own.
func (c *cborConverter) str(major byte, n uint64, indef bool) ([]byte, error) {
	if !indef {
		return c.chunk(major, n)
	}
	c.chunks = c.chunks[:0]
	for {
		if c.off < len(c.in) && c.in[c.off] == 0xff {
			c.off++
			return c.chunks, nil
		}
		m, size, indef, err := c.head()
		if err != nil {
			return nil, err
		}
		if m != major || indef {
			return nil, fmt.Errorf("%w: a string chunk of another type", errMalformedCBOR)
		}
		s, err := c.chunk(major, size)
		if err != nil {
			return nil, err
		}
		c.chunks = append(c.chunks, s...)
	}
}

// chunk reads the n bytes of a definite-length string.
func (c *cborConverter) chunk(major byte, n uint64) ([]byte, error) {
	if n > uint64(len(c.in)-c.off) {
		return nil, errMalformedCBOR
	}
	s := c.in[c.off : c.off+int(n)]
	c.off += int(n)
	if major == majorText && !utf8.Valid(s) {
		return nil, ErrInvalidText
	}
	return s, nil
}

// items reads n items, or items up to a break when indef is set, calling
// item for each; limit bounds their number, as in the decoder.
func (c *cborConverter) items(n uint64, indef bool, limit int, item func(i int) error) error {
	if !indef && (n > uint64(limit) || n > uint64(len(c.in)-c.off)) {
		return fmt.Errorf("%d items: more than the data holds or %d", n, limit)
	}
	for i := 0; indef || uint64(i) < n; i++ {
		if indef {
			if c.off >= len(c.in) {
				return errMalformedCBOR
			}
			if c.in[c.off] == 0xff {
				c.off++
				return nil
			}
			if i == limit {
				return fmt.Errorf("more than %d items", limit)
			}
		}
		if err := item(i); err != nil {
			return err
		}
	}
	return nil
}

func (c *cborConverter) array(n uint64, indef bool, depth int) error {
	if depth > maxNestedLevels {
		return errTooDeep
	}
	c.out = append(c.out, '[')
	err := c.items(n, indef, maxArrayElements, func(i int) error {
		if i > 0 {
			c.out = append(c.out, ',')
		}
		return c.item(depth)
	})
	c.out = append(c.out, ']')
	return err
}

func (c *cborConverter) object(n uint64, indef bool, depth int) error {
	if depth > maxNestedLevels {
		return errTooDeep
	}
	c.out = append(c.out, '{')
	start, base := len(c.out), len(c.pairs)
	err := c.items(n, indef, maxMapPairs, func(i int) error {
		if i > 0 {
			c.out = append(c.out, ',')
		}
		return c.pair(depth)
	})
	if err != nil {
		return err
	}
	if _, err := c.finish(start, base, nil, ','); err != nil {
		return err
	}
	c.out = append(c.out, '}')
	return nil
}

func (c *cborConverter) pair(depth int) error {
	key := len(c.out)
	major, val, indef, err := c.head()
	if err != nil {
		return err
	}
	if major != majorText {
		return fmt.Errorf("a map key of major type %d: JSON keys are text", major)
	}
	s, err := c.str(majorText, val, indef)
	if err != nil {
		return err
	}
	c.out = append(AppendJSONString(c.out, s), ':')
	keyEnd := len(c.out) - 1
	if err := c.item(depth); err != nil {
		return err
	}
	c.pairs = append(c.pairs, pairSpan{key: key, keyEnd: keyEnd, end: len(c.out)})
	return nil
}

// simple converts false, true, null, undefined (as null) and floats;
// ai is the head's additional information, val its argument.
func (c *cborConverter) simple(ai byte, val uint64, indef bool) error {
	switch {
	case indef:
		return fmt.Errorf("%w: a break outside an indefinite-length item", errMalformedCBOR)
	case ai == 20:
		c.out = append(c.out, "false"...)
	case ai == 21:
		c.out = append(c.out, "true"...)
	case ai == 22 || ai == 23:
		c.out = append(c.out, "null"...)
	case ai == 24 && val < 32:
		return fmt.Errorf("%w: simple value %d in two bytes", errMalformedCBOR, val)
	case ai < 24:
		return fmt.Errorf("%w: simple value %d", ErrNoJSONForm, ai)
	default:
		return c.float(cborFloat(ai, val))
	}
	return nil
}

// cborFloat returns the float whose bits a head with additional
// information 25, 26 or 27 carries.
func cborFloat(ai byte, bits uint64) float64 {
	switch ai {
	case 25:
		return halfFloat(uint16(bits))
	case 26:
		return float64(math.Float32frombits(uint32(bits)))
	}
	return math.Float64frombits(bits)
}

// halfFloat converts an IEEE 754 half-precision float, exactly.
func halfFloat(h uint16) float64 {
	exp, frac := int(h>>10&0x1f), float64(h&0x3ff)
	var f float64
	switch exp {
	case 0: // subnormal
		f = math.Ldexp(frac, -24)
	case 0x1f:
		f = math.Inf(1)
		if frac != 0 {
			f = math.NaN()
		}
	default:
		f = math.Ldexp(frac+0x400, exp-25)
	}
	if h&0x8000 != 0 {
		f = -f
	}
	return f
}

func (c *cborConverter) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%w: %v", ErrNoJSONForm, f)
	}
	c.out = appendJSONFloat(c.out, f)
	return nil
}

// tagged converts a bignum (tags 2 and 3); other tags have no JSON form.
func (c *cborConverter) tagged(tag uint64, depth int) error {
	if depth > maxNestedLevels {
		return errTooDeep
	}
	if tag != tagBignumPos && tag != tagBignumNeg {
		return fmt.Errorf("%w: tag %d", ErrNoJSONForm, tag)
	}
	if c.off >= len(c.in) {
		return errMalformedCBOR
	}
	if err := checkTagContent(tag, c.in[c.off]); err != nil {
		return err
	}
	_, n, indef, err := c.head()
	if err != nil {
		return err
	}
	mag, err := c.str(majorBytes, n, indef)
	if err != nil {
		return err
	}
	return c.bignum(tag == tagBignumNeg, mag)
}

// bignum writes the integer of magnitude mag, or -1-mag when negative.
// Its length is checked before anything converts it.
func (c *cborConverter) bignum(negative bool, mag []byte) error {
	for len(mag) > 0 && mag[0] == 0 {
		mag = mag[1:]
	}
	if len(mag) > maxIntegerBits/8 {
		return fmt.Errorf("integer of %d bytes: at most %d bits are taken", len(mag), maxIntegerBits)
	}
	n := new(big.Int).SetBytes(mag)
	if negative {
		n.Sub(big.NewInt(-1), n)
	}
	if err := checkIntegerSize(n); err != nil {
		return err
	}
	c.out = n.Append(c.out, 10)
	return nil
}

// jsonEscaped marks the bytes AppendJSONString escapes, or, for 0xe2, may
// have to: the first byte of U+2028 and U+2029.
var jsonEscaped = func() (t [256]bool) {
	for b := range 0x20 {
		t[b] = true
	}
	t['"'], t['\\'], t[0xe2] = true, true, true
	return t
}()

// AppendJSONString writes valid UTF-8 text as a JSON string exactly as
// encoding/json does without HTML escaping.
func AppendJSONString[Text []byte | string](b []byte, s Text) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !jsonEscaped[c] {
			continue
		}
		if c == 0xe2 {
			// U+2028 and U+2029, line and paragraph separators, are
			// escaped for JavaScript's sake.
			if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9) {
				b = append(append(b, s[run:i]...), '\\', 'u', '2', '0', '2', hex[s[i+2]&0xf])
				i += 2
				run = i + 1
			}
			continue
		}
		b = append(b, s[run:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		run = i + 1
	}
	return append(append(b, s[run:]...), '"')
}
