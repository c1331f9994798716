package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// The limits of Convert, which also hold for what the CBOR decoder takes
// (maxNestedLevels, maxArrayElements, maxMapPairs), so that data one codec
// accepts can be converted to the other. Conversion streams from one
// encoding to the other without building values, so with these limits it
// costs time linear in the message.
const (
	// maxIntegerBits bounds the magnitude of an integer: below 2^1024, the
	// range of a float64. Converting a number between binary and decimal
	// costs time quadratic in its length, so a megabyte-long integer
	// would hold a handler link for a second; 1024 bits is far more than
	// any real integer (a 128-bit id has 39 digits) and costs microseconds.
	maxIntegerBits = 1024
	// maxIntegerDigits is the decimal length of 2^1024: a JSON integer
	// longer than this is refused from its length alone, before it is
	// parsed.
	maxIntegerDigits = 309
)

// checkIntegerSize refuses an integer whose magnitude is 2^1024 or more.
func checkIntegerSize(n *big.Int) error {
	if bits := n.BitLen(); bits > maxIntegerBits {
		return fmt.Errorf("integer of %d bits: at most %d are taken", bits, maxIntegerBits)
	}
	return nil
}

// The errors of shapes the decoder refuses too.
var (
	errTooDeep     = fmt.Errorf("nested more than %d levels deep", maxNestedLevels)
	errRepeatedKey = errors.New("a map has the same key twice")
)

// converting is the state both directions of Convert share: the input,
// read from off on, and the output with the maps being written.
type converting struct {
	mapWriter
	in  []byte
	off int
}

// newConverting starts a conversion of in whose output is expected to
// take about size bytes.
func newConverting(in []byte, size int) converting {
	return converting{in: in, mapWriter: mapWriter{out: make([]byte, 0, size)}}
}

// run converts the one value value reads, which must be all of the input,
// and names the codec and the offset in its error.
func (c *converting) run(codec string, value func() error) (RawValue, error) {
	if err := value(); err != nil {
		return nil, fmt.Errorf("%s data at offset %d: %w", codec, c.off, err)
	}
	if c.off != len(c.in) {
		return nil, fmt.Errorf("%s data at offset %d: trailing data after the value", codec, c.off)
	}
	return c.out, nil
}

// pairSpan locates one key/value pair of a map being written: the key at
// out[key:keyEnd], the pair at out[key:end].
type pairSpan struct {
	key, keyEnd, end int
}

// mapWriter collects the pairs of the maps being written, innermost last,
// and puts each map's pairs in the order of their encoded keys, so that a
// converted value has a single form whatever order its keys came in.
type mapWriter struct {
	out     []byte
	pairs   []pairSpan
	scratch []byte
}

// keyOf returns the encoded key of p.
func (w *mapWriter) keyOf(p pairSpan) []byte { return w.out[p.key:p.keyEnd] }

// ordered sorts the pairs from pairs[base:] by key and refuses a key that
// appears twice, which the decoder refuses too. It reports whether they
// were already in order, which is the common case and costs no copy.
func (w *mapWriter) ordered(base int) (inOrder bool, err error) {
	ps := w.pairs[base:]
	inOrder = true
	for i := 1; i < len(ps) && inOrder; i++ {
		inOrder = bytes.Compare(w.keyOf(ps[i-1]), w.keyOf(ps[i])) < 0
	}
	if !inOrder {
		slices.SortFunc(ps, func(a, b pairSpan) int { return bytes.Compare(w.keyOf(a), w.keyOf(b)) })
	}
	for i := 1; i < len(ps); i++ {
		if bytes.Equal(w.keyOf(ps[i-1]), w.keyOf(ps[i])) {
			return false, errRepeatedKey
		}
	}
	return inOrder, nil
}

// finish puts the pairs from pairs[base:], which lie in out after start,
// in key order and drops them from the stack. Pairs out of order are
// written again from start on, after head and separated by sep (see
// rewrite); moved reports that they were.
func (w *mapWriter) finish(start, base int, head []byte, sep byte) (moved bool, err error) {
	inOrder, err := w.ordered(base)
	if err != nil {
		return false, err
	}
	if inOrder {
		w.pairs = w.pairs[:base]
		return false, nil
	}
	w.rewrite(start, base, head, sep)
	return true, nil
}

// rewrite writes the pairs from pairs[base:], which lie in out after
// start, again from start on, in their order in the slice: after head, and
// separated by sep when sep is not 0. It drops the pairs from the stack.
func (w *mapWriter) rewrite(start, base int, head []byte, sep byte) {
	w.scratch = append(w.scratch[:0], w.out[start:]...)
	w.out = append(w.out[:start], head...)
	for i, p := range w.pairs[base:] {
		if i > 0 && sep != 0 {
			w.out = append(w.out, sep)
		}
		w.out = append(w.out, w.scratch[p.key-start:p.end-start]...)
	}
	w.pairs = w.pairs[:base]
}
