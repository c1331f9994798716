package rawproto

import (
	"bufio"
	"bytes"
	"testing"
)

func TestFrames(t *testing.T) {
	var b []byte
	b = AppendMessage(b, 42, "G", []byte("hello"))
	b = AppendRouted(b, Request, Routed{Conn: 7, ID: 43, To: []byte("H"), Payload: []byte("hi")})
	b = AppendAck(b, 44, StatusLost)
	b = AppendDelivery(b, []byte("x"))
	r := bufio.NewReader(bytes.NewReader(b))

	body, err := ReadFrame(r, nil)
	if err != nil || body[0] != Message {
		t.Fatalf("%q %v", body, err)
	}
	if m, err := ParseMessage(body); err != nil || m.ID != 42 || string(m.To) != "G" || string(m.Payload) != "hello" {
		t.Fatalf("message %+v %v", m, err)
	}
	body, _ = ReadFrame(r, nil)
	if m, err := ParseRouted(body); err != nil || m.Conn != 7 || m.ID != 43 || string(m.To) != "H" || string(m.Payload) != "hi" {
		t.Fatalf("request %+v %v", m, err)
	}
	if body, _ = ReadFrame(r, nil); len(body) != 10 || body[0] != Ack || body[1] != 44 || body[9] != StatusLost {
		t.Fatalf("ack %q", body)
	}
	if body, _ = ReadFrame(r, nil); string(body) != "dx" {
		t.Fatalf("delivery %q", body)
	}
	if _, err := ParseMessage([]byte{Message, 1, 2}); err == nil {
		t.Fatal("a short message parsed")
	}
}
