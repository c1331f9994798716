package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/internal/testnet"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// noConnection fails the test if ln has a connection waiting: one that a
// client opened before it returned is queued by then.
func noConnection(t *testing.T, ln *net.TCPListener) {
	t.Helper()
	ln.SetDeadline(time.Now().Add(100 * time.Millisecond))
	if conn, err := ln.Accept(); err == nil {
		conn.Close()
		t.Fatalf("a connection from %s reached the server", conn.RemoteAddr())
	}
}

// TestDialRefusesPasswordInClear: a password without TLS to an address
// that is not loopback is refused before anything is dialled, on every
// TCP network and for host names too, which are never resolved.
func TestDialRefusesPasswordInClear(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := l.(*net.TCPListener)
	defer ln.Close()
	remote := testnet.RemoteAlias(t, ln.Addr().String())
	probe, err := ln.Accept() // RemoteAlias's own, proof that remote reaches ln
	if err != nil {
		t.Fatal(err)
	}
	probe.Close()
	cases := []struct{ network, address string }{
		{"", remote},
		{"tcp4", remote},
		{"tcp", "host.example:2223"},
		{"tcp6", "[2001:db8::1]:2223"},
	}
	for _, tc := range cases {
		_, err := client.Dial(context.Background(), client.Options{Network: tc.network, Address: tc.address,
			Username: fakeUser, Password: fakePassword, Timeout: time.Second})
		if !errors.Is(err, client.ErrPasswordInClear) ||
			!strings.Contains(err.Error(), tc.address) || !strings.Contains(err.Error(), "Options.InsecurePlaintext") {
			t.Errorf("%s %s: got %v, want ErrPasswordInClear naming the address and Options.InsecurePlaintext",
				tc.network, tc.address, err)
		}
	}
	noConnection(t, ln)
}

// TestDialPasswordInClearAllowed: what the refusal leaves alone, and what
// InsecurePlaintext lets through, logs in at the fake server.
func TestDialPasswordInClearAllowed(t *testing.T) {
	plain := startFakeServer(t, "tcp")
	unix := startFakeServer(t, "unix")
	p := newTestPKI(t)
	secure := startFakeServer(t, "tcp", p.serverTLS(tls.NoClientCert))
	cases := []struct {
		name string
		o    client.Options
	}{
		{"loopback IP", client.Options{Address: plain.addr()}},
		{"localhost", client.Options{Address: strings.Replace(plain.addr(), "127.0.0.1", "localhost", 1)}},
		{"unix socket", client.Options{Network: "unix", Address: unix.addr()}},
		{"remote with InsecurePlaintext", client.Options{Address: testnet.RemoteAlias(t, plain.addr()), InsecurePlaintext: true}},
		{"remote over TLS", client.Options{Address: testnet.RemoteAlias(t, secure.addr()),
			TLS: &tls.Config{RootCAs: p.pool, ServerName: "localhost"}}},
	}
	for _, tc := range cases {
		o := tc.o
		o.Username, o.Password, o.Timeout = fakeUser, fakePassword, testTimeout
		c, err := client.Dial(context.Background(), o)
		if err != nil {
			t.Errorf("%s: Dial: %v", tc.name, err)
			continue
		}
		c.Close()
	}
}

// TestDialWithoutPasswordToRemote: with no password there is nothing to
// hide, so the login is tried (and refused by the fake server, which
// wants its user's password).
func TestDialWithoutPasswordToRemote(t *testing.T) {
	s := startFakeServer(t, "tcp")
	_, err := client.Dial(context.Background(), client.Options{Address: testnet.RemoteAlias(t, s.addr()),
		Username: fakeUser, Timeout: testTimeout})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeUnauthorized {
		t.Fatalf("got %v, want the server's unauthorized", err)
	}
}

// remotePeer is a real connection that says its peer is on another
// machine, as a connection to one would.
type remotePeer struct{ net.Conn }

func (remotePeer) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 2223}
}

// TestHandshakePasswordInClear: Handshake judges by the connection's
// remote address. To a remote one it refuses without writing a byte and
// closes the connection; with InsecurePlaintext it logs in.
func TestHandshakePasswordInClear(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan []byte, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			received <- []byte(err.Error())
			return
		}
		defer conn.Close()
		b, _ := io.ReadAll(conn)
		received <- b
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Handshake(context.Background(), remotePeer{conn}, client.Options{Username: fakeUser,
		Password: fakePassword, Timeout: testTimeout})
	if !errors.Is(err, client.ErrPasswordInClear) || !strings.Contains(err.Error(), "192.0.2.1:2223") {
		t.Fatalf("got %v, want ErrPasswordInClear naming the remote address", err)
	}
	if b := <-received; len(b) != 0 {
		t.Fatalf("the server received %q, want nothing and the connection closed", b)
	}

	s := startFakeServer(t, "tcp")
	conn, err = net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Handshake(context.Background(), remotePeer{conn}, client.Options{Username: fakeUser,
		Password: fakePassword, InsecurePlaintext: true, Timeout: testTimeout})
	if err != nil {
		t.Fatalf("Handshake with InsecurePlaintext: %v", err)
	}
	c.Close()
}

func TestPasswordInClear(t *testing.T) {
	remote := client.Options{Address: "192.0.2.1:2223", Password: "pw"}
	with := func(change func(*client.Options)) client.Options {
		o := remote
		change(&o)
		return o
	}
	cases := []struct {
		name string
		o    client.Options
		want bool
	}{
		{"remote IP", remote, true},
		{"remote name", with(func(o *client.Options) { o.Address = "bester.example:2223" }), true},
		{"unspecified", with(func(o *client.Options) { o.Address = "0.0.0.0:2223" }), true},
		{"tcp6", with(func(o *client.Options) { o.Network, o.Address = "tcp6", "[2001:db8::1]:2223" }), true},
		{"no port", with(func(o *client.Options) { o.Address = "bester.example" }), true},
		{"InsecurePlaintext does not change the answer", with(func(o *client.Options) { o.InsecurePlaintext = true }), true},
		{"127.0.0.0/8", with(func(o *client.Options) { o.Address = "127.0.0.2:2223" }), false},
		{"::1", with(func(o *client.Options) { o.Address = "[::1]:2223" }), false},
		{"localhost", with(func(o *client.Options) { o.Address = "localhost:2223" }), false},
		{"no password", with(func(o *client.Options) { o.Password = "" }), false},
		{"TLS", with(func(o *client.Options) { o.TLS = &tls.Config{} }), false},
		{"unix", with(func(o *client.Options) { o.Network, o.Address = "unix", "/run/bester.sock" }), false},
	}
	for _, tc := range cases {
		if got := tc.o.PasswordInClear(); got != tc.want {
			t.Errorf("%s: PasswordInClear %v, want %v", tc.name, got, tc.want)
		}
	}
}
