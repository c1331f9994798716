package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bester-project/bester/loadgen"
	"github.com/bester-project/bester/wire"
)

// testTimeout bounds each command in these tests; generous, never raced.
const testTimeout = 10 * time.Second

// syncBuffer is a bytes.Buffer that a command writes while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is an env with in-memory streams and no terminal.
func testEnv(stdin string) (*env, *syncBuffer, *syncBuffer) {
	out, errs := &syncBuffer{}, &syncBuffer{}
	return &env{stdin: strings.NewReader(stdin), stdout: out, stderr: errs,
		readPassword: func() ([]byte, error) { return nil, errors.New("no terminal") }}, out, errs
}

// fakeServer accepts connections, authenticates anyone but user "bad",
// and answers per payload type: "ok" good, "relay" bad undelivered, dummy
// a dummy reply; push is written to every connection after authentication.
func fakeServer(t *testing.T, push ...any) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFakes(t, ln, push)
}

// serveFakes runs serveFake on every connection ln accepts until the
// test ends, and returns ln's address.
func serveFakes(t *testing.T, ln net.Listener, push []any) string {
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { serveFake(t, conn, push) })
		}
	})
	return ln.Addr().String()
}

func serveFake(t *testing.T, conn net.Conn, push []any) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	write := func(c wire.Codec, v any) {
		b, err := c.Marshal(v)
		if err != nil {
			t.Errorf("fake server: %v", err)
		}
		wire.WriteFrame(conn, b)
	}
	body, err := wire.ReadFrame(br, wire.DefaultMaxFrame, nil)
	if err != nil {
		return
	}
	codec, _ := wire.DetectCodec(body)
	var e wire.Envelope
	if err := codec.UnmarshalMap(body, &e); err != nil || e.Header == nil {
		t.Errorf("fake server: first message %q: %v", body, err)
		return
	}
	user, ok := fakeLogin(conn, e.Header)
	if !ok {
		t.Errorf("fake server: first message %q has no authentication and no client certificate came", body)
		return
	}
	if user == "bad" {
		write(codec, wire.BadReport(wire.IDAuth, wire.Errorf(wire.CodeUnauthorized, "bad username or password"), nil))
		return
	}
	write(codec, wire.GoodReport(wire.IDAuth))
	for _, v := range push {
		write(codec, v)
	}
	for {
		body, err := wire.ReadFrame(br, wire.DefaultMaxFrame, nil)
		if err != nil {
			return
		}
		var e wire.Envelope
		if err := codec.UnmarshalMap(body, &e); err != nil || e.Payload == nil {
			t.Errorf("fake server: %q: %v", body, err)
			return
		}
		switch p := e.Payload; p.Type {
		case "ok":
			write(codec, wire.GoodReport(p.ID))
		case "relay":
			write(codec, wire.BadReport(p.ID, wire.Errorf(wire.CodeUndelivered, "G2 is not connected"), []string{"G2"}))
		case wire.TypeDummy:
			write(codec, wire.NewDummyReply(p.ID))
		}
	}
}

// fakeLogin is the username of a first message: its authentication's or,
// on a TLS connection without one, the client certificate's common name.
func fakeLogin(conn net.Conn, h *wire.Header) (string, bool) {
	if h.Authentication != nil {
		return h.Authentication.Username, true
	}
	if tc, ok := conn.(*tls.Conn); ok && len(tc.ConnectionState().PeerCertificates) > 0 {
		return tc.ConnectionState().PeerCertificates[0].Subject.CommonName, true
	}
	return "", false
}

func runWith(t *testing.T, e *env, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	return run(ctx, append([]string{"bester"}, args...), e)
}

func TestSend(t *testing.T) {
	addr := fakeServer(t)
	cases := []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"-type", "ok", "-id", "m-9", `{"to":"G","body":"hello"}`}, "good m-9\n", 0},
		{[]string{"-type", "ok", "-codec", "json"}, "good m-1\n", 0},
		{[]string{"-type", "relay", `{"to":["G","G2"]}`}, "bad m-1 undelivered: G2 is not connected [G2]\n", 1},
		{[]string{"-type", "dummy", "-id", "p"}, "dummy p\n", 0},
	}
	for _, tc := range cases {
		e, out, errs := testEnv("")
		code := runWith(t, e, append([]string{"send", "-addr", addr, "-user", "T"}, tc.args...)...)
		if code != tc.code || out.String() != tc.out || errs.String() != "" {
			t.Errorf("%v: status %d, stdout %q, stderr %q; want %d, %q", tc.args, code, out, errs, tc.code, tc.out)
		}
	}
}

func TestSendDataFromStdin(t *testing.T) {
	addr := fakeServer(t)
	e, out, errs := testEnv(`{"to": "G"}`)
	if code := runWith(t, e, "send", "-addr", addr, "-user", "T", "-type", "ok", "-"); code != 0 {
		t.Fatalf("status %d, stderr %q", code, errs)
	}
	if out.String() != "good m-1\n" {
		t.Fatalf("stdout %q", out)
	}
}

func TestSendErrors(t *testing.T) {
	addr := fakeServer(t)
	cases := map[string][]string{
		"unauthorized": {"-addr", addr, "-user", "bad", "-type", "ok"},
		"bad json":     {"-addr", addr, "-user", "T", "-type", "ok", "{"},
		"no user":      {"-addr", addr, "-type", "ok"},
		"no type":      {"-addr", addr, "-user", "T"},
		"two args":     {"-addr", addr, "-user", "T", "-type", "ok", "1", "2"},
		"bad codec":    {"-addr", addr, "-user", "T", "-type", "ok", "-codec", "auto"},
		"replies only": {"-addr", addr, "-user", "T", "-type", "ok", "-replies", "1"},
	}
	for name, args := range cases {
		e, out, errs := testEnv("")
		code := runWith(t, e, append([]string{"send"}, args...)...)
		msg := errs.String()
		if code != 1 || out.String() != "" || !strings.HasPrefix(msg, "bester: ") || strings.Count(msg, "\n") != 1 {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want 1 and one error line", name, code, out, msg)
		}
	}
}

func TestSendUsesEnvironment(t *testing.T) {
	addr := fakeServer(t)
	t.Setenv(envUser, "bad")
	t.Setenv(envAddr, addr)
	e, _, errs := testEnv("")
	if code := runWith(t, e, "send", "-type", "ok"); code != 1 || !strings.Contains(errs.String(), "unauthorized") {
		t.Fatalf("status %d, stderr %q; want the user from %s", code, errs, envUser)
	}
}

func TestListen(t *testing.T) {
	delivery := func(data []byte) *wire.Delivery {
		return &wire.Delivery{
			Header:  wire.DeliveryHeader{MessageType: wire.MessageTypeReceived, From: wire.Address{Server: "J", User: "T"}},
			Payload: wire.DeliveryPayload{Type: "relay", Data: data},
		}
	}
	addr := fakeServer(t,
		delivery([]byte{0xa1, 0x64, 'b', 'o', 'd', 'y', 0x65, 'h', 'e', 'l', 'l', 'o'}),
		delivery([]byte{0x42, 0x01, 0x02}),
		delivery(nil))
	e, out, errs := testEnv("")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, []string{"bester", "listen", "-addr", addr, "-user", "G"}, e) }()
	want := "from T@J type relay: {\"body\":\"hello\"}\nfrom T@J type relay: h'0102'\nfrom T@J type relay: null\n"
	deadline := time.Now().Add(testTimeout)
	for out.String() != want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("status %d after cancel, stderr %q", code, errs)
	}
	if out.String() != want {
		t.Fatalf("stdout\n%s\nwant\n%s", out, want)
	}
}

func TestUseraddFromStdin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.htpasswd")
	e, out, errs := testEnv("s3cret\nsecond line\n")
	if code := runWith(t, e, "useradd", "-file", path, "G"); code != 0 {
		t.Fatalf("status %d, stderr %q", code, errs)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "G:$2") {
		t.Fatalf("file %q, %v", b, err)
	}
	if !strings.Contains(out.String(), "G") {
		t.Fatalf("stdout %q", out)
	}
	e, _, errs = testEnv("")
	if code := runWith(t, e, "useradd", "-file", path, "G"); code != 1 || !strings.Contains(errs.String(), "no password") {
		t.Fatalf("empty stdin: status %d, stderr %q", code, errs)
	}
}

func TestUseraddFromTerminal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.htpasswd")
	typed := func(lines ...string) func() ([]byte, error) {
		return func() ([]byte, error) {
			if len(lines) == 0 {
				return nil, errors.New("no more input")
			}
			l := lines[0]
			lines = lines[1:]
			return []byte(l), nil
		}
	}
	cases := []struct {
		typed []string
		code  int
		err   string
	}{
		{[]string{"pw", "pw"}, 0, ""},
		{[]string{"pw", "other"}, 1, "do not match"},
		{[]string{""}, 1, "empty"},
	}
	for _, tc := range cases {
		e, _, errs := testEnv("")
		e.stdinTerminal = true
		e.readPassword = typed(tc.typed...)
		code := runWith(t, e, "useradd", "-file", path, "T")
		if code != tc.code || !strings.Contains(errs.String(), tc.err) || !strings.Contains(errs.String(), "password") {
			t.Errorf("%q: status %d, stderr %q", tc.typed, code, errs)
		}
	}
}

func TestReportLine(t *testing.T) {
	cases := map[string]*wire.StatusReport{
		"good m-1":                       wire.GoodReport("m-1"),
		"bad m-2 undelivered: x [G2 G3]": wire.BadReport("m-2", wire.Errorf(wire.CodeUndelivered, "x"), []string{"G2", "G3"}),
		"bad m-3 loop":                   wire.BadReport("m-3", &wire.Error{Code: wire.CodeLoop}, nil),
	}
	for want, r := range cases {
		if got := reportLine(r); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestBenchSpawnRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a server")
	}
	// A terminal on stderr: the live progress line is drawn there.
	e, out, errs := testEnv("")
	e.stderrTerminal = true
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a cold build is slow
	defer cancel()
	code := run(ctx, []string{"bester", "bench", "-spawn", "relay", "-duration", "2s", "-warmup", "500ms", "-json"}, e)
	if code != 0 {
		t.Fatalf("status %d, stderr:\n%s\nstdout:\n%s", code, errs, out)
	}
	var res loadgen.Result
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("stdout is not the JSON result: %v\n%s", err, out)
	}
	a := res.Accounting
	if !a.Complete || a.Sent == 0 || a.Good != a.Sent || a.Delivered != a.Sent || len(res.Errors) != 0 {
		t.Fatalf("accounting %+v, errors %v", a, res.Errors)
	}
	if res.Senders != defaultPairs || res.Window != defaultWindow || res.Size != defaultSize ||
		res.Delivered.PerSecond <= 0 || res.Latency.Delivery.Count == 0 || res.Latency.Delivery.P99 <= 0 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(errs.String(), "open-file limit") || !strings.Contains(errs.String(), "\r\x1b[Krelay measuring") {
		t.Fatalf("stderr %q", errs)
	}
}

// TestBenchSpawnMessages: -messages measures that many messages, each
// accounted for, instead of a time.
func TestBenchSpawnMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a server")
	}
	e, out, errs := testEnv("")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a cold build is slow
	defer cancel()
	code := run(ctx, []string{"bester", "bench", "-spawn", "relay", "-messages", "3000", "-warmup", "200ms", "-json"}, e)
	if code != 0 {
		t.Fatalf("status %d, stderr:\n%s\nstdout:\n%s", code, errs, out)
	}
	var res loadgen.Result
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("stdout is not the JSON result: %v\n%s", err, out)
	}
	if a := res.Accounting; !a.Complete || a.Good != a.Sent || a.Delivered != a.Sent || res.Sent.Count != 3000 || res.Delivered.Count != 3000 {
		t.Fatalf("accounting %+v, sent %+v, delivered %+v; want 3000 measured", a, res.Sent, res.Delivered)
	}
}

func TestBenchSpawnConnect(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a server")
	}
	e, out, errs := testEnv("")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := run(ctx, []string{"bester", "bench", "connect", "-spawn", "-conns", "200", "-duration", "300ms"}, e)
	if code != 0 {
		t.Fatalf("status %d, stderr:\n%s\nstdout:\n%s", code, errs, out)
	}
	for _, want := range []string{"connected   200 of 200", "per connection", "counts 200 connections", "errors      none"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(errs.String(), "\r") {
		t.Errorf("a progress line on a stderr that is not a terminal: %q", errs)
	}
}

func TestBenchSpawnFederation(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts two servers")
	}
	e, out, errs := testEnv("")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := run(ctx, []string{"bester", "bench", "federation", "-spawn", "-pairs", "4", "-window", "8",
		"-duration", "1s", "-warmup", "200ms"}, e)
	if code != 0 {
		t.Fatalf("status %d, stderr:\n%s\nstdout:\n%s", code, errs, out)
	}
	for _, want := range []string{"federation:", "4 pairs", "recipients on its peer besterd B", "every id accounted for"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
}

// TestBenchAddresses: -addresses and -placement spread the users over
// the members named. Both members here are one server, so every message
// is delivered; the placement's own logic is tested in loadgen.
func TestBenchAddresses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a server")
	}
	besterd, handler := buildServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := loadgen.SpawnBester(ctx, loadgen.SpawnOptions{Besterd: besterd, Handler: handler})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for _, placement := range []string{"cross", "mixed"} {
		e, out, errs := testEnv("")
		code := run(ctx, []string{"bester", "bench", "relay", "-addresses", s.Addr + "," + s.Addr, "-placement", placement,
			"-pairs", "4", "-window", "8", "-messages", "400", "-warmup", "100ms", "-json"}, e)
		if code != 0 {
			t.Fatalf("%s: status %d, stderr:\n%s\nstdout:\n%s", placement, code, errs, out)
		}
		var res loadgen.Result
		if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
			t.Fatalf("stdout is not the JSON result: %v\n%s", err, out)
		}
		if p := res.Placement; p == nil || string(p.Placement) != placement || !slices.Equal(p.Users, []int{4, 4}) {
			t.Errorf("%s: placement %+v, want 4 users on each member", placement, p)
		}
		if a := res.Accounting; !a.Complete || a.Good != a.Sent || a.Delivered != a.Sent {
			t.Errorf("%s: accounting %+v", placement, a)
		}
	}
}

func TestBenchFlagErrors(t *testing.T) {
	cases := map[string][]string{
		"no workload":         {"bench"},
		"pingpong pairs":      {"bench", "pingpong", "-pairs", "4"},
		"connect rate":        {"bench", "connect", "-rate", "100"},
		"conns for relay":     {"bench", "relay", "-conns", "10"},
		"addr with spawn":     {"bench", "relay", "-spawn", "-addr", "127.0.0.1:1"},
		"handler w/o spawn":   {"bench", "relay", "-handler", "x"},
		"bad codec":           {"bench", "relay", "-codec", "auto"},
		"stray argument":      {"bench", "relay", "extra"},
		"unknown flag":        {"bench", "relay", "-bogus"},
		"nothing listening":   {"bench", "relay", "-addr", "127.0.0.1:1", "-timeout", "1s"},
		"federation w/o peer": {"bench", "federation", "-addr", "127.0.0.1:1"},
		"peer-addr for relay": {"bench", "relay", "-peer-addr", "127.0.0.1:1"},
		"tls with spawn":      {"bench", "relay", "-spawn", "-tls"},
		"tls for abuse":       {"bench", "abuse", "-attack", "prelogin", "-ca", "ca.crt"},
		"missing CA file":     {"bench", "relay", "-ca", "/nonexistent/ca.crt"},
		"negative messages":   {"bench", "relay", "-messages", "-1"},
		"messages, duration":  {"bench", "relay", "-messages", "10", "-duration", "1s"},
		"messages, rate":      {"bench", "relay", "-messages", "10", "-rate", "100"},
		"messages, connect":   {"bench", "connect", "-messages", "10"},
		"placement alone":     {"bench", "relay", "-placement", "cross"},
		"one address":         {"bench", "relay", "-addresses", "127.0.0.1:1", "-placement", "cross"},
		"no placement":        {"bench", "relay", "-addresses", "127.0.0.1:1,127.0.0.1:2"},
		"unknown placement":   {"bench", "relay", "-addresses", "127.0.0.1:1,127.0.0.1:2", "-placement", "spread"},
		"addresses, addr":     {"bench", "relay", "-addresses", "127.0.0.1:1,127.0.0.1:2", "-placement", "cross", "-addr", "127.0.0.1:1"},
		"addresses, spawn":    {"bench", "relay", "-addresses", "127.0.0.1:1,127.0.0.1:2", "-placement", "cross", "-spawn"},
		"addresses, connect":  {"bench", "connect", "-addresses", "127.0.0.1:1,127.0.0.1:2", "-placement", "cross"},
	}
	for name, args := range cases {
		e, out, errs := testEnv("")
		code := runWith(t, e, args...)
		msg := errs.String()
		if code != 1 || out.String() != "" || !strings.Contains(msg, "bester: ") {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want 1 and an error", name, code, out, msg)
		}
	}
}
