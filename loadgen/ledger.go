package loadgen

import (
	"sync"
	"sync/atomic"
)

// entry is what the ledger knows of one message.
type entry struct {
	at          int64  // when it was meant to be sent, ns since the run's start
	acks        uint8  // acknowledgements received (saturates)
	code        uint8  // of the first acknowledgement: 0 good, else codeTable index
	undelivered uint16 // recipients the acknowledgement says were not reached
	// deliveries counts the recipients that got it, each once; it is
	// added to atomically, by every recipient's goroutine at once.
	deliveries atomic.Uint32
}

const (
	pageBits = 14
	pageSize = 1 << pageBits
)

// ledger records every message of one sender, indexed by sequence
// number, in pages so that it grows without copying. Recording a sending
// or an acknowledgement takes a lock; a delivery, the most frequent, only
// atomic operations.
type ledger struct {
	mu sync.Mutex
	// pages holds the pages; add replaces it with a longer copy, under
	// mu, when it needs one more page.
	pages atomic.Pointer[[]*[pageSize]entry]
	// n counts the messages recorded, stored once their entry is.
	n atomic.Uint64
}

// add records a new message meant to be sent at at and returns its
// sequence number.
func (l *ledger) add(at int64) uint64 {
	l.mu.Lock()
	seq := l.n.Load()
	pages := l.loadPages()
	if p := seq >> pageBits; p == uint64(len(pages)) {
		// A variable of its own, so that only a new page's call
		// allocates one.
		grown := append(pages[:len(pages):len(pages)], new([pageSize]entry))
		l.pages.Store(&grown)
		pages = grown
	}
	pages[seq>>pageBits][seq&(pageSize-1)].at = at
	l.n.Store(seq + 1)
	l.mu.Unlock()
	return seq
}

// loadPages is the current pages.
func (l *ledger) loadPages() []*[pageSize]entry {
	if p := l.pages.Load(); p != nil {
		return *p
	}
	return nil
}

// entry is the entry of seq, which was recorded.
func (l *ledger) entry(seq uint64) *entry {
	return &l.loadPages()[seq>>pageBits][seq&(pageSize-1)]
}

// sent is the number of messages recorded.
func (l *ledger) sent() uint64 { return l.n.Load() }

// ack records an acknowledgement of seq. It returns the message's
// intended send time, whether this is its first acknowledgement, and
// whether seq was sent at all.
func (l *ledger) ack(seq uint64, code uint8, undelivered int) (at int64, first, known bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq >= l.n.Load() {
		return 0, false, false
	}
	e := l.entry(seq)
	if e.acks < 255 {
		e.acks++
	}
	if e.acks > 1 {
		return e.at, false, true
	}
	e.code = code
	e.undelivered = uint16(min(undelivered, 65535))
	return e.at, true, true
}

// deliver records that one more recipient got seq, which was sent
// (seq < l.sent()).
func (l *ledger) deliver(seq uint64) { l.entry(seq).deliveries.Add(1) }

// each calls f for every message recorded, in order; nothing may be
// recording at the same time.
func (l *ledger) each(f func(seq uint64, e *entry)) {
	for seq := range l.n.Load() {
		f(seq, l.entry(seq))
	}
}

// expected is how many deliveries an acknowledged message should have
// had: all its recipients when the acknowledgement is good; those not
// listed as unreached when the code is undelivered; none for any other
// code (the target says it did not carry the message out).
func expected(e *entry, recipients int, undeliveredCode uint8) int {
	switch {
	case e.code == 0:
		return recipients
	case e.code == undeliveredCode:
		return max(recipients-int(e.undelivered), 0)
	}
	return 0
}

// codeTable numbers the error codes seen in a run, so that a ledger entry
// holds one byte for its code.
type codeTable struct {
	mu    sync.Mutex
	index map[string]uint8
	names []string // names[i-1] is code i
}

// otherCode stands for every code after the first 254.
const otherCode = 255

func newCodeTable() *codeTable {
	t := &codeTable{index: map[string]uint8{}}
	t.get(CodeUndelivered) // always code 1
	return t
}

// CodeUndelivered is the acknowledgement code for recipients that could
// not be reached; drivers of other targets use it too.
const CodeUndelivered = "undelivered"

// get numbers code ("" is good, 0).
func (t *codeTable) get(code string) uint8 {
	if code == "" {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := t.index[code]; ok {
		return i
	}
	if len(t.names) >= otherCode-1 {
		return otherCode
	}
	t.names = append(t.names, code)
	i := uint8(len(t.names))
	t.index[code] = i
	return i
}

// name is the code numbered i.
func (t *codeTable) name(i uint8) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i == 0 {
		return ""
	}
	if i == otherCode || int(i) > len(t.names) {
		return "other"
	}
	return t.names[i-1]
}

// bitset marks the sequence numbers one recipient got from one sender.
type bitset []uint64

// set marks i and reports whether it was already marked.
func (b *bitset) set(i uint64) bool {
	w := int(i >> 6)
	if w >= len(*b) {
		n := max(2*len(*b), w+1, 64)
		nb := make(bitset, n)
		copy(nb, *b)
		*b = nb
	}
	m := uint64(1) << (i & 63)
	was := (*b)[w]&m != 0
	(*b)[w] |= m
	return was
}
