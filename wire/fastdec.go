package wire

import "unicode/utf8"

// The strict decoder, decMode, finds struct fields by reflection, which
// costs more than anything else in passing a message on. The messages that
// every relayed message is read as, a client's Envelope, a handler's
// HandlerResponse, in the handler SDK, a HandlerRequest and, in a client,
// the Incoming it reads every message from its server as, are read here
// directly when they have their usual form.
//
// This parses untrusted input, so the rule is simple: a direct reader takes
// only a body that the strict decoder takes too, and gives exactly what the
// strict decoder gives. For anything else (an unknown or repeated key, a
// value of another type, a tag, an indefinite length, an item nested too
// deep or too long, ...) it answers false, and the caller decodes the body
// in full, errors included. Each check answers false when in doubt: a
// fallback costs time, never correctness.

// CBOR major types (RFC 8949 §3.1), but 6, tags, which the direct readers
// never take.
const (
	majorUint   = 0
	majorNint   = 1
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorSimple = 7
)

// fastMaxDepth bounds the nesting of arrays and maps inside a raw value
// that the direct readers take. The messages put raw values at most three
// maps deep, so what they take stays well within maxNestedLevels.
const fastMaxDepth = 16

// fastUnmarshalMap reads body into v directly when v is one of the
// messages above and holds its zero value: the strict decoder merges into
// what v already holds (it keeps fields the body does not set and reuses
// the memory of a RawValue), the direct readers build a new value. False
// leaves v untouched.
func fastUnmarshalMap(body []byte, v any) bool {
	switch m := v.(type) {
	case *Envelope:
		return m != nil && *m == Envelope{} && readEnvelope(body, m)
	case *HandlerResponse:
		return m != nil && m.ID == nil && m.Header == ResponseHeader{} && m.Data == nil &&
			readHandlerResponse(body, m)
	case *HandlerRequest:
		return m != nil && m.ID == 0 && m.Type == "" && m.From == From{} && m.Data == nil &&
			m.Origin == Address{} && readHandlerRequest(body, m, nil)
	case *Incoming:
		return m != nil && m.Header == IncomingHeader{} && m.Payload.Type == "" && m.Payload.ID == "" &&
			m.Payload.Data == nil && m.Payload.Undelivered == nil && readIncoming(body, m)
	}
	return false
}

// The keys of each message, as the strict decoder matches them: exactly,
// case included.
var (
	envelopeKeys = []string{"header", "payload"}
	payloadKeys  = []string{"type", "id", "data"}
	responseKeys = []string{"id", "header", "data"}
	rheaderKeys  = []string{"status", "command"}
	commandKeys  = []string{"type", "data"}
	requestKeys  = []string{"id", "type", "from", "data", "origin"}
	fromKeys     = []string{"scope", "name", "server"}
	incomingKeys = []string{"header", "payload"}
	iheaderKeys  = []string{"messageType", "status", "error", "detail", "from"}
	ipayloadKeys = []string{"type", "id", "data", "undelivered"}
	addressKeys  = []string{"server", "user"}
)

// The values of Incoming's fields that a server writes most, which
// readIncoming gives as these strings rather than new copies.
var (
	incomingMessageTypes = []string{MessageTypeStatusReport, MessageTypeReceived}
	incomingStatuses     = []string{StatusGood, StatusBad, HandlerStatusOK}
	incomingTypes        = []string{TypeDummy}
	incomingErrors       = []string{string(CodeUndelivered), string(CodeUnauthorized), string(CodeBadFrame),
		string(CodeFrameTooLarge), string(CodeBadMessage), string(CodeUnknownType), string(CodeUnknownCommand),
		string(CodeHandlerUnavailable), string(CodeHandlerTimeout), string(CodeHandlerError),
		string(CodeHandlerCrashed), string(CodePeerUnavailable), string(CodeLoop), string(CodeOverloaded),
		string(CodeRateLimited), string(CodeForbidden), string(CodeShuttingDown)}
)

// readEnvelope reads an envelope without a header (or with a null one),
// the form of every message of a client once it is authenticated.
func readEnvelope(body []byte, v *Envelope) bool {
	var m Envelope
	r := fastReader{b: body}
	ok := r.fields(envelopeKeys, func(key string) bool {
		if key == "header" {
			return r.null()
		}
		if r.null() {
			return true
		}
		p := new(Payload)
		m.Payload = p
		return r.fields(payloadKeys, func(key string) bool {
			switch key {
			case "type":
				return r.str(&p.Type)
			case "id":
				return r.str(&p.ID)
			}
			return r.raw(&p.Data)
		})
	})
	if !ok || r.off != len(body) {
		return false
	}
	*v = m
	return true
}

func readHandlerResponse(body []byte, v *HandlerResponse) bool {
	var m HandlerResponse
	r := fastReader{b: body}
	ok := r.fields(responseKeys, func(key string) bool {
		switch key {
		case "id":
			if r.null() {
				return true
			}
			m.ID = new(uint64)
			return r.uint(m.ID)
		case "header":
			return r.responseHeader(&m.Header)
		}
		return r.raw(&m.Data)
	})
	if !ok || r.off != len(body) {
		return false
	}
	*v = m
	return true
}

func (r *fastReader) responseHeader(h *ResponseHeader) bool {
	return r.fields(rheaderKeys, func(key string) bool {
		if key == "status" {
			return r.str(&h.Status)
		}
		if r.null() {
			return true
		}
		c := new(Command)
		h.Command = c
		return r.fields(commandKeys, func(key string) bool {
			if key == "type" {
				return r.str(&c.Type)
			}
			return r.raw(&c.Data)
		})
	})
}

// readHandlerRequest reads a request into v. The strings of like, when
// not nil, are given for those that equal them rather than new copies:
// a request repeats most of the previous one's.
func readHandlerRequest(body []byte, v, like *HandlerRequest) bool {
	var m, none HandlerRequest
	if like == nil {
		like = &none
	}
	r := fastReader{b: body}
	ok := r.fields(requestKeys, func(key string) bool {
		switch key {
		case "id":
			return r.uint(&m.ID)
		case "type":
			return r.strLike(&m.Type, like.Type)
		case "from":
			return r.fields(fromKeys, func(key string) bool {
				switch key {
				case "scope":
					return r.strLike(&m.From.Scope, like.From.Scope)
				case "name":
					return r.strLike(&m.From.Name, like.From.Name)
				}
				return r.strLike(&m.From.Server, like.From.Server)
			})
		case "origin":
			// A local client's origin repeats from's names.
			return r.fields(addressKeys, func(key string) bool {
				if key == "server" {
					return r.strLike(&m.Origin.Server, m.From.Server, like.Origin.Server)
				}
				return r.strLike(&m.Origin.User, m.From.Name, like.Origin.User)
			})
		}
		return r.raw(&m.Data)
	})
	if !ok || r.off != len(body) {
		return false
	}
	*v = m
	return true
}

// UnmarshalHandlerRequest is UnmarshalMap for a reader of many requests:
// m holds the previous request it read (or nothing), whose strings the
// new one shares where it repeats them, so that the fields that seldom
// change cost no allocation. A string read as equal to one of m's is
// not checked again for valid UTF-8: m's strings must be valid, as those
// of a request read are. plainData reports that m.Data was read as a
// plain item (see fastReader.skip), its text checked, which
// UnmarshalPlainData then need not check again.
func (c Codec) UnmarshalHandlerRequest(body []byte, m *HandlerRequest) (plainData bool, err error) {
	if c == CodecCBOR && len(body) > 0 && body[0]>>5 == majorMap && readHandlerRequest(body, m, m) {
		return true, nil
	}
	*m = HandlerRequest{}
	return false, c.UnmarshalMap(body, m)
}

// readIncoming reads any message a server writes to a client: as
// viewIncoming reads it, then copied.
func readIncoming(body []byte, v *Incoming) bool {
	var w IncomingView
	if !viewIncoming(body, &w) {
		return false
	}
	*v = w.incoming()
	return true
}

// fastReader reads the items of one CBOR body in order. Every method
// answers false for an item it does not take, and the reader is then
// abandoned.
type fastReader struct {
	b   []byte
	off int // of the next item in b
	// copied holds a copy of b from its first raw value on, and base is
	// that value's offset in b. Raw values are slices of it: the strict
	// decoder copies each one, so that they do not alias the body, which
	// the caller reuses; here they share one allocation.
	copied []byte
	base   int
	// checked is set when b's text is known to be valid UTF-8, read so
	// by a reader before: it is not checked again.
	checked bool
}

// head reads the head of an item of definite length.
func (r *fastReader) head() (major byte, val uint64, ok bool) {
	if r.off < len(r.b) && r.b[r.off]&0x1f < 24 { // a one-byte head, the most common
		c := r.b[r.off]
		r.off++
		return c >> 5, uint64(c & 0x1f), true
	}
	major, val, indef, next, err := cborHead(r.b, r.off)
	if err != nil || indef {
		return 0, 0, false
	}
	r.off = next
	return major, val, true
}

// fields reads a map whose keys are all among names, none twice, calling
// value with each key to read the value that follows it. Since every key
// is known and none repeats, the map has at most len(names) pairs.
func (r *fastReader) fields(names []string, value func(key string) bool) bool {
	major, n, ok := r.head()
	if !ok || major != majorMap || n > uint64(len(names)) {
		return false
	}
	var seen uint // bit i is set once names[i] is read
	for range n {
		k, ok := r.unchecked()
		if !ok {
			return false
		}
		i := 0 // a key equal to one of names is valid UTF-8 as they are
		for i < len(names) && names[i] != string(k) {
			i++
		}
		if i == len(names) || seen&(1<<i) != 0 || !value(names[i]) {
			return false
		}
		seen |= 1 << i
	}
	return true
}

// text reads a text string of definite length and valid UTF-8, as the
// strict decoder requires of keys and string fields. The bytes are b's.
func (r *fastReader) text() ([]byte, bool) {
	s, ok := r.unchecked()
	return s, ok && r.valid(s)
}

// valid reports whether s, text of b, is valid UTF-8.
func (r *fastReader) valid(s []byte) bool {
	return r.checked || utf8.Valid(s)
}

// unchecked reads a text string of definite length like text, leaving
// the check of its UTF-8 to the caller.
func (r *fastReader) unchecked() ([]byte, bool) {
	major, n, ok := r.head()
	if !ok || major != majorText {
		return nil, false
	}
	return r.content(n)
}

// content passes over the n bytes of a string's content, and returns them.
func (r *fastReader) content(n uint64) ([]byte, bool) {
	if n > uint64(len(r.b)-r.off) {
		return nil, false
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s, true
}

// strLike reads a string like str, but gives the first of likes it
// equals, if any, rather than a new copy. A string equal to a like is
// valid UTF-8 as the like is (every like was read as valid text), so
// only one that equals none is checked.
func (r *fastReader) strLike(v *string, likes ...string) bool {
	s, ok := r.unchecked()
	if !ok {
		return false
	}
	if like, ok := lookup(s, likes); ok {
		*v = like
		return true
	}
	if !r.valid(s) {
		return false
	}
	*v = string(s)
	return true
}

func (r *fastReader) str(v *string) bool {
	s, ok := r.text()
	if ok {
		*v = string(s)
	}
	return ok
}

// known reads a string like str, but gives the one of names it equals,
// if any, rather than a new copy.
func (r *fastReader) known(v *string, names []string) bool {
	s, ok := r.unchecked()
	if !ok {
		return false
	}
	if name, ok := lookup(s, names); ok { // valid UTF-8, as name is
		*v = name
		return true
	}
	if !r.valid(s) {
		return false
	}
	*v = string(s)
	return true
}

// lookup is the one of names that equals s, if any.
func lookup(s []byte, names []string) (string, bool) {
	for _, name := range names {
		if string(s) == name {
			return name, true
		}
	}
	return "", false
}

// strs reads an array of definite length of strings, or nulls or
// undefineds, which leave an element "", into a nil slice, as the strict
// decoder does: an empty array gives an empty slice, not nil. With v nil
// it only checks the array, allocating nothing. The count is checked
// against the decoder's limit and against what is left of the body, which
// has at least one byte for each element, before the slice is made.
func (r *fastReader) strs(v *[]string) bool {
	major, n, ok := r.head()
	if !ok || major != majorArray || n > maxArrayElements || n > uint64(len(r.b)-r.off) {
		return false
	}
	var s []string
	if v != nil {
		s = make([]string, n)
	}
	for i := range n {
		if r.null() {
			continue
		}
		t, ok := r.text()
		if !ok {
			return false
		}
		if v != nil {
			s[i] = string(t)
		}
	}
	if v != nil {
		*v = s
	}
	return true
}

// uint reads an unsigned integer. The other items the strict decoder reads
// into a uint64 (a bignum, a simple value) are left to it.
func (r *fastReader) uint(v *uint64) bool {
	major, n, ok := r.head()
	if !ok || major != majorUint {
		return false
	}
	*v = n
	return true
}

// null passes over a null or an undefined, which the strict decoder reads
// into a pointer as nil, and reports whether there was one.
func (r *fastReader) null() bool {
	if r.off < len(r.b) && (r.b[r.off] == 0xf6 || r.b[r.off] == 0xf7) {
		r.off++
		return true
	}
	return false
}

// raw reads one plain item (see skip) as a RawValue, which holds its bytes
// as they are, as RawValue.UnmarshalCBOR does.
func (r *fastReader) raw(v *RawValue) bool {
	start := r.off
	if !r.skip(0) {
		return false
	}
	if r.copied == nil {
		r.copied = append([]byte(nil), r.b[start:]...)
		r.base = start
	}
	s, e := start-r.base, r.off-r.base
	*v = r.copied[s:e:e]
	return true
}

// skip passes over one plain item: an integer, a float, false, true, null,
// undefined, a byte or text string, or an array or a map of plain items,
// of definite lengths, within the strict decoder's limits and nested at
// most fastMaxDepth deep. A plain item is well formed and holds no tag, so
// RawValue.UnmarshalCBOR, and the encoder's check of what
// RawValue.MarshalCBOR returns, take it as it is. Its text is valid UTF-8,
// as RawValue.UnmarshalCBOR requires. What the strict decoder and the
// encoder do not look for inside a RawValue, repeated map keys, is let
// through here too.
func (r *fastReader) skip(depth int) bool {
	start := r.off
	major, n, ok := r.head()
	if !ok {
		return false
	}
	switch major {
	case majorUint, majorNint:
		return true
	case majorBytes:
		_, ok := r.content(n)
		return ok
	case majorText:
		s, ok := r.content(n)
		return ok && r.valid(s)
	case majorArray, majorMap:
		if depth == fastMaxDepth || n > uint64(len(r.b)-r.off) ||
			major == majorArray && n > maxArrayElements || major == majorMap && n > maxMapPairs {
			return false
		}
		if major == majorMap {
			n *= 2
		}
		for range n {
			if !r.skip(depth + 1) {
				return false
			}
		}
		return true
	case majorSimple:
		// 20 to 23: false, true, null, undefined; 25 to 27: the floats,
		// whose bits head has read. Other simple values are left out.
		ai := r.b[start] & 0x1f
		return ai >= 20 && ai <= 23 || ai >= 25 && ai <= 27
	}
	return false // a tag
}

// plainItem reports whether b is exactly one plain item (see skip).
func plainItem(b []byte) bool {
	r := fastReader{b: b}
	return r.skip(0) && r.off == len(b)
}
