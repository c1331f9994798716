package ipc

import (
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
