package wire

import (
	"bytes"
	"math"
	"strconv"
)

// Bounds between which encoding/json writes a float64 without an exponent;
// jsonFloat keeps the same shape so converted data reads like ordinary JSON.
const (
	jsonFloatMinPlain = 1e-6
	jsonFloatMaxPlain = 1e21
)

// appendJSONFloat writes f like encoding/json does, adding ".0" when the
// text would otherwise look like an integer: encoding/json writes 1.0 as
// `1`, which a reader (and Convert in the other direction) would take for
// an integer. NaN and infinities never get here.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < jsonFloatMinPlain || a >= jsonFloatMaxPlain) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Shorten e-09 to e-9, as encoding/json does.
		if n := len(b); n-start >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	if bytes.IndexByte(b[start:], '.') >= 0 {
		return b
	}
	return append(b, ".0"...)
}
