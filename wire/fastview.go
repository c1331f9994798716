package wire

import "slices"

// IncomingView is an Incoming read in place, for a reader that keeps
// nothing of a message, as a load generator: its byte slices alias the
// body it was read from and the usual values of its strings are
// constants, so that reading a report or a delivery allocates nothing. A
// field the body leaves out, or holds null or undefined in, is empty; but
// Data keeps a null as it is written, as RawValue does.
type IncomingView struct {
	MessageType, Status string
	Error               ErrorCode
	Detail              []byte
	FromServer          []byte
	FromUser            []byte
	Type, ID            []byte
	// Data is the data item as it is written; nil when absent.
	Data []byte
	// Undelivered counts the recipients a bad report lists as not
	// reached.
	Undelivered int
	// undelivered is their CBOR array, when the view was read in place.
	undelivered []byte
}

// ViewIncoming reads body, any message a server writes to a client in
// codec c, into v. A CBOR body of the usual form is read in place (see
// fastdec.go), and v then aliases body; any other is decoded in full, and
// v holds copies. It gives the error Incoming's decoding would.
func (c Codec) ViewIncoming(body []byte, v *IncomingView) error {
	if c == CodecCBOR && viewIncoming(body, v) {
		return nil
	}
	var m Incoming
	if err := c.UnmarshalMap(body, &m); err != nil {
		return err
	}
	h, p := &m.Header, &m.Payload
	*v = IncomingView{MessageType: h.MessageType, Status: h.Status, Error: h.Error, Detail: []byte(h.Detail),
		FromServer: []byte(h.From.Server), FromUser: []byte(h.From.User), Type: []byte(p.Type), ID: []byte(p.ID),
		Data: p.Data, Undelivered: len(p.Undelivered)}
	return nil
}

// viewIncoming reads body into v in place, taking what readIncoming
// takes. Unlike the other messages, every field may be null or undefined,
// as a server of another implementation may write one: the strict decoder
// then leaves the field as it is (a string, a struct) or sets it to nil (a
// slice), which, into a zero Incoming, is the zero value; data keeps the
// null as a RawValue does.
func viewIncoming(body []byte, v *IncomingView) bool {
	var m IncomingView
	r := fastReader{b: body}
	ok := r.fields(incomingKeys, func(key string) bool {
		if r.null() {
			return true
		}
		if key == "header" {
			return r.incomingHeader(&m)
		}
		return r.incomingPayload(&m)
	})
	if !ok || r.off != len(body) {
		return false
	}
	*v = m
	return true
}

func (r *fastReader) incomingHeader(m *IncomingView) bool {
	return r.fields(iheaderKeys, func(key string) bool {
		if r.null() {
			return true
		}
		switch key {
		case "messageType":
			return r.known(&m.MessageType, incomingMessageTypes)
		case "status":
			return r.known(&m.Status, incomingStatuses)
		case "error":
			var s string
			ok := r.known(&s, incomingErrors)
			m.Error = ErrorCode(s)
			return ok
		case "detail":
			return r.textIn(&m.Detail)
		}
		return r.fields(addressKeys, func(key string) bool {
			if r.null() {
				return true
			}
			if key == "server" {
				return r.textIn(&m.FromServer)
			}
			return r.textIn(&m.FromUser)
		})
	})
}

func (r *fastReader) incomingPayload(m *IncomingView) bool {
	return r.fields(ipayloadKeys, func(key string) bool {
		start := r.off
		if key == "data" {
			ok := r.skip(0)
			m.Data = r.b[start:r.off:r.off]
			return ok
		}
		if r.null() {
			return true
		}
		switch key {
		case "type":
			return r.textIn(&m.Type)
		case "id":
			return r.textIn(&m.ID)
		}
		if !r.strs(nil) {
			return false
		}
		m.undelivered = r.b[start:r.off:r.off]
		_, n, _ := (&fastReader{b: m.undelivered}).head()
		m.Undelivered = int(n)
		return true
	})
}

// textIn reads a text string like str, leaving its bytes where they are.
func (r *fastReader) textIn(v *[]byte) bool {
	s, ok := r.text()
	if ok {
		*v = s
	}
	return ok
}

// incoming is the Incoming v stands for, with copies of its bytes; v was
// read in place.
func (v *IncomingView) incoming() Incoming {
	typ, ok := lookup(v.Type, incomingTypes)
	if !ok {
		typ = string(v.Type)
	}
	m := Incoming{
		Header: IncomingHeader{MessageType: v.MessageType, Status: v.Status, Error: v.Error, Detail: string(v.Detail),
			From: Address{Server: string(v.FromServer), User: string(v.FromUser)}},
		Payload: IncomingPayload{Type: typ, ID: string(v.ID), Data: RawValue(slices.Clone(v.Data))},
	}
	if v.undelivered != nil {
		r := fastReader{b: v.undelivered}
		r.strs(&m.Payload.Undelivered) // taken by viewIncoming already
	}
	return m
}
