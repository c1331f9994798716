package client_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/bester-project/bester/wire"
)

// Message types the fake server understands besides dummy.
const (
	typeEcho  = "echo"  // deliver the data back to the sender, then a good report
	typeFail  = "fail"  // a bad report with an undelivered list
	typeCount = "count" // a good report only
	typeClose = "close" // close the connection without a word
)

const (
	fakeServerName = "J"
	fakeUser       = "T"
	fakePassword   = "secret"
)

// fakeServer is a tiny Bester server on a real socket: it speaks frames in
// whatever codec the client picked (listener codec auto), authenticates
// one user and answers the message types above.
type fakeServer struct {
	t  testing.TB
	ln net.Listener
	wg sync.WaitGroup

	// silent makes the server accept connections and never answer.
	silent bool
	// drain makes the server read and drop everything after the
	// authentication, for benchmarks of the sending side.
	drain bool
	// frames receives the body of every frame after the first.
	frames chan []byte
	// tls, when set, makes the listener TLS. A client certificate then
	// logs its common name in: the first message may leave out the
	// authentication, and if it has one its username must be the
	// certificate's (the password is not checked), as in besterd.
	tls *tls.Config
	// logins receives the header of every first message accepted.
	logins chan *wire.Header
}

// startFakeServer listens on network ("tcp" on 127.0.0.1:0, or "unix" in
// a temporary directory) and stops when the test ends.
func startFakeServer(t testing.TB, network string, configure ...func(*fakeServer)) *fakeServer {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = t.TempDir() + "/bester.sock"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &fakeServer{t: t, ln: ln, frames: make(chan []byte, 1<<14), logins: make(chan *wire.Header, 16)}
	for _, f := range configure {
		f(s)
	}
	if s.tls != nil {
		s.ln = tls.NewListener(ln, s.tls)
	}
	var conns sync.Map
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := s.ln.Accept()
			if err != nil {
				return
			}
			conns.Store(conn, true)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				s.serve(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
		s.wg.Wait()
	})
	return s
}

// addr is the address to give Options.Address.
func (s *fakeServer) addr() string { return s.ln.Addr().String() }

// serve runs one connection; protocol errors end it, as in the real server.
func (s *fakeServer) serve(conn net.Conn) {
	br := bufio.NewReader(conn)
	body, err := wire.ReadFrame(br, wire.DefaultMaxFrame, nil)
	if err != nil || s.silent {
		io.Copy(io.Discard, br)
		return
	}
	codec, err := wire.DetectCodec(body)
	if err != nil {
		return
	}
	var first wire.Envelope
	if err := codec.UnmarshalMap(body, &first); err != nil {
		s.t.Errorf("fake server: first message: %v", err)
		return
	}
	h := first.Header
	if !s.admits(conn, h) {
		s.reply(conn, codec, wire.BadReport(wire.IDAuth, wire.Errorf(wire.CodeUnauthorized, "bad credentials"), nil))
		return
	}
	select {
	case s.logins <- h:
	default:
	}
	if first.Payload != nil {
		s.t.Errorf("fake server: the first message has a payload: %+v", first.Payload)
	}
	if !s.reply(conn, codec, wire.GoodReport(wire.IDAuth)) {
		return
	}
	if s.drain {
		io.Copy(io.Discard, br)
		return
	}
	for {
		body, err := wire.ReadFrame(br, wire.DefaultMaxFrame, nil)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.t.Logf("fake server: read: %v", err)
			}
			return
		}
		select {
		case s.frames <- body:
		default:
		}
		var e wire.Envelope
		if err := codec.UnmarshalMap(body, &e); err != nil || e.Payload == nil {
			s.reply(conn, codec, wire.BadReport("", wire.Errorf(wire.CodeBadMessage, "%v", err), nil))
			return
		}
		if !s.answer(conn, codec, e.Payload) {
			return
		}
	}
}

// admits checks the first message's header: the fake user's password,
// or a client certificate.
func (s *fakeServer) admits(conn net.Conn, h *wire.Header) bool {
	if h == nil || h.Scope != wire.ScopeClient {
		return false
	}
	if tc, ok := conn.(*tls.Conn); ok && len(tc.ConnectionState().PeerCertificates) > 0 {
		name := tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		return h.Authentication == nil || h.Authentication.Username == name
	}
	return h.Authentication != nil && h.Authentication.Username == fakeUser && h.Authentication.Password == fakePassword
}

// answer acts on one payload; false ends the connection.
func (s *fakeServer) answer(conn net.Conn, codec wire.Codec, p *wire.Payload) bool {
	switch p.Type {
	case wire.TypeDummy:
		return s.reply(conn, codec, wire.NewDummyReply(p.ID))
	case typeEcho:
		d := &wire.Delivery{
			Header:  wire.DeliveryHeader{MessageType: wire.MessageTypeReceived, From: wire.Address{Server: fakeServerName, User: fakeUser}},
			Payload: wire.DeliveryPayload{Type: p.Type, Data: p.Data},
		}
		return s.reply(conn, codec, d) && s.reply(conn, codec, wire.GoodReport(p.ID))
	case typeFail:
		return s.reply(conn, codec, wire.BadReport(p.ID, wire.Errorf(wire.CodeUndelivered, "G2 is not connected"), []string{"G2"}))
	case typeCount:
		return s.reply(conn, codec, wire.GoodReport(p.ID))
	case typeClose:
		return false
	}
	return s.reply(conn, codec, wire.BadReport(p.ID, wire.Errorf(wire.CodeUnknownType, "%q", p.Type), nil))
}

// reply writes one message; false when the connection is gone.
func (s *fakeServer) reply(conn net.Conn, codec wire.Codec, v any) bool {
	body, err := codec.Marshal(v)
	if err != nil {
		s.t.Errorf("fake server: encode %T: %v", v, err)
		return false
	}
	return wire.WriteFrame(conn, body) == nil
}
