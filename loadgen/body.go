package loadgen

import "errors"

// A message body starts with its id and the time it was meant to be sent,
// each as 16 hexadecimal digits, and is padded with 'x' to its size: plain
// text, so that it passes through JSON and CBOR alike and a relay keeps it
// unchanged.
const (
	// MinSize is the smallest body, in bytes: the id and the stamp.
	MinSize   = 32
	hexDigits = "0123456789abcdef"
)

// newBody returns a padded body of size bytes (at least MinSize).
func newBody(size int) []byte {
	b := make([]byte, max(size, MinSize))
	for i := MinSize; i < len(b); i++ {
		b[i] = 'x'
	}
	return b
}

// stampBody writes id and stamp (nanoseconds since the start of the run)
// into the head of b.
func stampBody(b []byte, id uint64, stamp int64) {
	putHex(b[0:16], id)
	putHex(b[16:32], uint64(stamp))
}

func putHex(b []byte, v uint64) {
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

var errBody = errors.New("not a message of this run")

// parseBody reads the id and stamp from the head of b.
func parseBody(b []byte) (id uint64, stamp int64, err error) {
	if len(b) < MinSize {
		return 0, 0, errBody
	}
	id, ok1 := getHex(b[0:16])
	st, ok2 := getHex(b[16:32])
	if !ok1 || !ok2 {
		return 0, 0, errBody
	}
	return id, int64(st), nil
}

func getHex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// Message ids hold the sender's index in their high bits and the sender's
// sequence number in the low ones.
const seqBits = 40

func makeID(sender int, seq uint64) uint64 { return uint64(sender)<<seqBits | seq }

func splitID(id uint64) (sender int, seq uint64) {
	return int(id >> seqBits), id & (1<<seqBits - 1)
}
