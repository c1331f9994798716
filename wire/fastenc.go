package wire

import (
	"bytes"
	"encoding/binary"
)

// The reflective encoder costs more than anything else in writing a
// message. The messages every relayed message is written as, a
// HandlerRequest to its handler, a Delivery to each recipient and a
// StatusReport to its sender, and, in the handler SDK, the
// HandlerResponse a handler answers with and the data of its command (a
// []string of names or a string, see marshalCBORFast) are encoded here
// directly, byte for byte as
// bufEncMode writes them: struct fields as map keys in bytewise lexical
// order of their encoding (SortBytewiseLexical: shorter keys first, as a
// key's length is in its first byte), omitempty fields left out when
// empty, heads as short as they can be, strings as they are (the encoder
// does not check UTF-8) and a RawValue as RawValue.MarshalCBOR returns it.
// A RawValue that is not a plain item (see fastReader.skip) is left to the
// encoder, which checks it and may refuse it.

// appendCBORFast appends the encoding of v to buf when v is one of the
// messages above, and reports whether it did; false leaves buf as it was.
// Whether to fall back is decided before anything is written: a nil
// message (which the encoder writes as null) and data that is not a plain
// item go to the encoder.
func appendCBORFast(buf *bytes.Buffer, v any) bool {
	b := buf.AvailableBuffer()
	switch m := v.(type) {
	case *HandlerRequest:
		if m == nil || !fastRaw(m.Data) {
			return false
		}
		b = appendHandlerRequest(b, m)
	case *Delivery:
		if m == nil || !fastRaw(m.Payload.Data) {
			return false
		}
		b = appendDelivery(b, m)
	case *StatusReport:
		if m == nil {
			return false
		}
		b = appendStatusReport(b, m)
	case *HandlerResponse:
		if m == nil || !fastRaw(m.Data) || m.Header.Command != nil && !fastRaw(m.Header.Command.Data) {
			return false
		}
		b = appendHandlerResponse(b, m)
	default:
		return false
	}
	buf.Write(b)
	return true
}

// appendHandlerRequest writes a request with or without an origin, an
// omitzero field: left out when both its names are empty. The keys in
// order: id, data, from, type, origin; user, server.
func appendHandlerRequest(b []byte, m *HandlerRequest) []byte {
	n := uint64(4)
	if m.Origin != (Address{}) {
		n++
	}
	b = appendHead(b, majorMap, n)
	b = appendHead(appendText(b, "id"), majorUint, m.ID)
	b = appendRaw(appendText(b, "data"), m.Data)
	b = appendHead(appendText(b, "from"), majorMap, 3)
	b = appendField(b, "name", m.From.Name)
	b = appendField(b, "scope", m.From.Scope)
	b = appendField(b, "server", m.From.Server)
	b = appendField(b, "type", m.Type)
	if n == 4 {
		return b
	}
	return appendAddress(appendText(b, "origin"), m.Origin)
}

// appendAddress writes an Address, a map whose keys in order are user,
// server.
func appendAddress(b []byte, a Address) []byte {
	b = appendHead(b, majorMap, 2)
	b = appendField(b, "user", a.User)
	return appendField(b, "server", a.Server)
}

func appendDelivery(b []byte, m *Delivery) []byte {
	b = appendHead(b, majorMap, 2)
	b = appendHead(appendText(b, "header"), majorMap, 2)
	b = appendAddress(appendText(b, "from"), m.Header.From)
	b = appendField(b, "messageType", m.Header.MessageType)
	b = appendHead(appendText(b, "payload"), majorMap, 2)
	b = appendRaw(appendText(b, "data"), m.Payload.Data)
	return appendField(b, "type", m.Payload.Type)
}

// appendStatusReport writes any report, good or bad: error, detail and
// undelivered are omitempty fields.
func appendStatusReport(b []byte, m *StatusReport) []byte {
	h, p := &m.Header, &m.Payload
	n := uint64(2)
	if h.Error != "" {
		n++
	}
	if h.Detail != "" {
		n++
	}
	b = appendHead(b, majorMap, 2)
	b = appendHead(appendText(b, "header"), majorMap, n)
	if h.Error != "" {
		b = appendField(b, "error", string(h.Error))
	}
	if h.Detail != "" {
		b = appendField(b, "detail", h.Detail)
	}
	b = appendField(b, "status", h.Status)
	b = appendField(b, "messageType", h.MessageType)
	if len(p.Undelivered) == 0 {
		b = appendHead(appendText(b, "payload"), majorMap, 1)
		return appendField(b, "id", p.ID)
	}
	b = appendHead(appendText(b, "payload"), majorMap, 2)
	b = appendField(b, "id", p.ID)
	b = appendHead(appendText(b, "undelivered"), majorArray, uint64(len(p.Undelivered)))
	for _, s := range p.Undelivered {
		b = appendText(b, s)
	}
	return b
}

// appendHandlerResponse writes a response with or without an id and a
// command, both omitempty pointers: left out when nil, written when set,
// even to a zero value. The keys in order: id, data, header; status,
// command; data, type.
func appendHandlerResponse(b []byte, m *HandlerResponse) []byte {
	n := uint64(2)
	if m.ID != nil {
		n++
	}
	b = appendHead(b, majorMap, n)
	if m.ID != nil {
		b = appendHead(appendText(b, "id"), majorUint, *m.ID)
	}
	b = appendRaw(appendText(b, "data"), m.Data)
	c := m.Header.Command
	if c == nil {
		b = appendHead(appendText(b, "header"), majorMap, 1)
		return appendField(b, "status", m.Header.Status)
	}
	b = appendHead(appendText(b, "header"), majorMap, 2)
	b = appendField(b, "status", m.Header.Status)
	b = appendHead(appendText(b, "command"), majorMap, 2)
	b = appendRaw(appendText(b, "data"), c.Data)
	return appendField(b, "type", c.Type)
}

// marshalCBORFast encodes, as encMode.Marshal does, the values the handler
// SDK encodes as a command's data: a []string of names (sendClients,
// sendServers) or a string (sendHandler). A nil []string is null, as the
// encoder writes nil containers (NilContainersAsNull), and an empty one an
// empty array. Other values, named string and slice types included, are
// left to the encoder. The result is a new slice of exactly its length.
func marshalCBORFast(v any) ([]byte, bool) {
	n, ok := fastValueLen(v)
	if !ok {
		return nil, false
	}
	return appendCBORValue(make([]byte, 0, n), v), true
}

// fastValueLen is the length of v's encoding when marshalCBORFast writes
// it.
func fastValueLen(v any) (int, bool) {
	switch s := v.(type) {
	case string:
		return headLen(uint64(len(s))) + len(s), true
	case []string:
		if s == nil {
			return 1, true
		}
		n := headLen(uint64(len(s)))
		for _, x := range s {
			n += headLen(uint64(len(x))) + len(x)
		}
		return n, true
	}
	return 0, false
}

// appendCBORValue appends v, which fastValueLen takes, as
// marshalCBORFast writes it.
func appendCBORValue(b []byte, v any) []byte {
	switch s := v.(type) {
	case string:
		return appendText(b, s)
	case []string:
		if s == nil {
			return append(b, cborNull...)
		}
		b = appendHead(b, majorArray, uint64(len(s)))
		for _, x := range s {
			b = appendText(b, x)
		}
	}
	return b
}

// headLen is the length of the head appendHead writes for argument n.
func headLen(n uint64) int {
	switch {
	case n < 24:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case n <= 0xffffffff:
		return 5
	}
	return 9
}

// appendHead appends the shortest head of an item of major type major
// with argument n.
func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

// AppendCBORTextHead appends the head of a CBOR text string of n bytes, for
// writers that append the string's bytes themselves.
func AppendCBORTextHead(b []byte, n int) []byte {
	return appendHead(b, majorText, uint64(n))
}

func appendText(b []byte, s string) []byte {
	return append(appendHead(b, majorText, uint64(len(s))), s...)
}

// appendField appends a string field: its key, then its value.
func appendField(b []byte, key, value string) []byte {
	return appendText(appendText(b, key), value)
}

// fastRaw reports whether r is written here: empty, or a plain item,
// which the encoder would check and write as it is.
func fastRaw(r RawValue) bool {
	return len(r) == 0 || plainItem(r)
}

// appendRaw appends r as RawValue.MarshalCBOR gives it: null when empty.
func appendRaw(b []byte, r RawValue) []byte {
	if len(r) == 0 {
		return append(b, cborNull...)
	}
	return append(b, r...)
}
