package wire

import (
	"math"
	"strconv"
)

// Bounds between which encoding/json writes a float64 without an exponent;
// jsonFloat keeps the same shape so converted data reads like ordinary JSON.
const (
	jsonFloatMinPlain = 1e-6
	jsonFloatMaxPlain = 1e21
)

// jsonFloat is a float64 that always reads back as a float: encoding/json
// writes 1.0 as `1`, which a reader (and Convert in the other direction)
// would take for an integer.
type jsonFloat float64

// MarshalJSON writes f like encoding/json does, adding ".0" when the text
// would otherwise look like an integer. NaN and infinities never get here.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	format := byte('f')
	if a := math.Abs(v); a != 0 && (a < jsonFloatMinPlain || a >= jsonFloatMaxPlain) {
		format = 'e'
	}
	b := strconv.AppendFloat(make([]byte, 0, 32), v, format, -1, 64)
	if format == 'e' {
		// Shorten e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b, nil
	}
	for _, c := range b {
		if c == '.' {
			return b, nil
		}
	}
	return append(b, ".0"...), nil
}
