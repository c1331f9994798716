package wire

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalidText is wrapped by every decode error for text that is not
// valid UTF-8, in either codec. Such text is refused rather than passed on
// or repaired, because repairing it (encoding/json writes U+FFFD in its
// place) would change a message without telling anyone.
var ErrInvalidText = errors.New("text is not valid UTF-8")

// checkJSONText refuses a JSON body that encoding/json would change
// silently: bytes that are not UTF-8 and \u escapes of lone surrogates.
// Outside strings valid JSON is ASCII and has no backslash, so checking
// the whole body checks every string in it.
func checkJSONText(b []byte) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("json: %w", ErrInvalidText)
	}
	for i := bytes.IndexByte(b, '\\'); i >= 0; {
		_, next, err := jsonEscape(b, i)
		if err != nil {
			return fmt.Errorf("json: %w", err)
		}
		j := bytes.IndexByte(b[next:], '\\')
		if j < 0 {
			break
		}
		i = next + j
	}
	return nil
}

// jsonEscape decodes the escape sequence at b[i], a backslash, and
// returns the character and the offset after the sequence. A surrogate
// pair written as two \u escapes is one character; a surrogate on its own
// is no character and is refused.
func jsonEscape(b []byte, i int) (r rune, next int, err error) {
	if i+1 >= len(b) {
		return 0, 0, errors.New("string ends inside an escape")
	}
	switch c := b[i+1]; c {
	case '"', '\\', '/':
		return rune(c), i + 2, nil
	case 'b':
		return '\b', i + 2, nil
	case 'f':
		return '\f', i + 2, nil
	case 'n':
		return '\n', i + 2, nil
	case 'r':
		return '\r', i + 2, nil
	case 't':
		return '\t', i + 2, nil
	case 'u':
		return jsonUnicodeEscape(b, i)
	default:
		return 0, 0, fmt.Errorf("invalid escape \\%c", c)
	}
}

// jsonUnicodeEscape decodes \uXXXX at b[i], with the \uXXXX that must
// follow it when it is a high surrogate.
func jsonUnicodeEscape(b []byte, i int) (rune, int, error) {
	r, ok := hex4(b, i+2)
	if !ok {
		return 0, 0, errors.New(`\u must be followed by four hex digits`)
	}
	if !utf16.IsSurrogate(r) {
		return r, i + 6, nil
	}
	if r < 0xdc00 && i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
		if lo, ok := hex4(b, i+8); ok {
			if pair := utf16.DecodeRune(r, lo); pair != utf8.RuneError {
				return pair, i + 12, nil
			}
		}
	}
	return 0, 0, fmt.Errorf(`%w: lone surrogate \u%04x`, ErrInvalidText, r)
}

// hex4 reads the four hex digits at b[i].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
