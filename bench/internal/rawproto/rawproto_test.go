package rawproto

import (
	"bufio"
	"bytes"
	"strings"
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

func TestFanoutFrames(t *testing.T) {
	list := AppendList(nil, []string{"G", "HH", "III"})
	var b []byte
	b = AppendFanout(b, 42, list, []byte("hello"))
	b = AppendFanoutRouted(b, FanoutAnswer, Routed{Conn: 7, ID: 43, To: list, Payload: []byte("hi")})
	r := bufio.NewReader(bytes.NewReader(b))

	body, err := ReadFrame(r, nil)
	if err != nil || body[0] != Fanout {
		t.Fatalf("%q %v", body, err)
	}
	m, err := ParseFanout(body)
	if err != nil || m.ID != 42 || !bytes.Equal(m.To, list) || string(m.Payload) != "hello" {
		t.Fatalf("fanout %+v %v", m, err)
	}
	var names []string
	if err := EachName(m.To, func(n []byte) bool { names = append(names, string(n)); return true }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "G,HH,III" {
		t.Fatalf("names %q", names)
	}
	body, _ = ReadFrame(r, nil)
	if a, err := ParseFanoutRouted(body); err != nil || body[0] != FanoutAnswer || a.Conn != 7 || a.ID != 43 ||
		!bytes.Equal(a.To, list) || string(a.Payload) != "hi" {
		t.Fatalf("answer %+v %v", a, err)
	}
	if err := EachName([]byte{5, 'a'}, func([]byte) bool { return true }); err == nil {
		t.Fatal("a malformed list was read")
	}
	if _, err := ParseFanout([]byte{Fanout, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0}); err == nil {
		t.Fatal("a short fanout parsed")
	}
}
