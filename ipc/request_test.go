package ipc

import (
	"bytes"
	"testing"

	"github.com/bester-project/bester/wire"
)

// Data a handler puts in place of what was read is checked in full by
// Decode: only the data as read skips the check of its text.
func TestDecodeChecksReplacedData(t *testing.T) {
	type message struct {
		To string `cbor:"to"`
	}
	read, err := wire.CodecCBOR.Marshal(map[string]string{"to": "G"})
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), read...)
	bad[len(bad)-1] = 0xff // "G" becomes invalid UTF-8
	req := &Request{Data: read, plainData: read, Codec: wire.CodecCBOR}
	var m message
	if err := req.Decode(&m); err != nil || m.To != "G" {
		t.Fatalf("data as read: %+v, %v", m, err)
	}
	req.Data = bad
	m = message{}
	if err := req.Decode(&m); err == nil {
		t.Fatalf("invalid UTF-8 in replaced data decoded as %+v", m)
	}
}

// The data of a request, and the raw values Decode reads from it, stay
// as they were when the reader reads the next request into the same
// frame buffer and message: a handler may keep them.
func TestRequestDataOutlivesNextRead(t *testing.T) {
	type message struct {
		To   string        `cbor:"to"`
		Body wire.RawValue `cbor:"body"`
	}
	request := func(id uint64, to, body string) []byte {
		data, err := wire.CodecCBOR.Marshal(map[string]string{"to": to, "body": body})
		if err != nil {
			t.Fatal(err)
		}
		b, err := wire.CodecCBOR.Marshal(wire.HandlerRequest{ID: id, Type: "relay",
			From: wire.From{Scope: "client", Name: "T", Server: "J"}, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	o := &Options{Codec: wire.CodecCBOR}
	first, second := request(1, "G", "one"), request(2, "H", "two")
	if len(first) != len(second) {
		t.Fatal("the requests must have one length to share the buffer")
	}
	buf := append([]byte(nil), first...)
	var msg wire.HandlerRequest
	plain, err := o.Codec.UnmarshalHandlerRequest(buf, &msg)
	if err != nil || !plain {
		t.Fatalf("first request: plain %v, %v", plain, err)
	}
	req := newRequest(&msg, plain, o)
	var m message
	if err := req.Decode(&m); err != nil {
		t.Fatal(err)
	}
	data := append([]byte(nil), req.Data...)
	body := append([]byte(nil), m.Body...)

	copy(buf, second) // the reader reads the next frame into its buffer
	if _, err := o.Codec.UnmarshalHandlerRequest(buf, &msg); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(req.Data, data) || !bytes.Equal(m.Body, body) || m.To != "G" {
		t.Fatalf("the first request changed: data %x (was %x), body %x (was %x), to %q", []byte(req.Data), data, []byte(m.Body), body, m.To)
	}
	if bytes.Equal(msg.Data, req.Data) {
		t.Fatal("the second request was not read")
	}
}
