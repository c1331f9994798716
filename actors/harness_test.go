package actors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// waitLong bounds every wait in these tests. It is generous: these tests
// check what happens, never how fast.
const waitLong = 20 * time.Second

// bins holds handler programs built once for all tests.
var bins struct {
	testhandler, relay string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bester-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	build := func(pkg string) string {
		out := filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			os.Exit(2)
		}
		return out
	}
	bins.testhandler = build("github.com/bester-project/bester/ipc/internal/testhandler")
	bins.relay = build("github.com/bester-project/bester/examples/relay")
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		// goleak.Find retries for about a second; on a loaded machine the
		// last server's goroutines may take longer to end.
		err := goleak.Find(throttleTimers...)
		for i := 0; err != nil && i < 10; i++ {
			time.Sleep(time.Second)
			err = goleak.Find(throttleTimers...)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked after the tests:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// throttleTimers are the goroutines of protoactor's cluster gossip
// throttles, which a cluster member leaves behind when it stops: each
// waits out its throttle's period (up to a minute) and then ends by
// itself.
var throttleTimers = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster.(*Gossiper).StartGossiping.NewThrottle.func3.1"),
	goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster.NewGossipActor.NewThrottleWithLogger.func2.1"),
}

// testServer is a real server on loopback with real handler processes.
type testServer struct {
	*Server
	t       testing.TB
	dir     string // runtime dir: sockets live here
	cfgPath string
	opts    serverOptions // what it was started with, defaults filled
}

// serverOptions adjust the server a test starts; the zero value is
// server "J" on a free loopback port.
type serverOptions struct {
	name   string    // server name; "J" when empty
	tcp    string    // address of the "tcp" listener; 127.0.0.1:0 when empty
	server string    // more attributes of the server block, one per line
	log    io.Writer // also receives the server's log, when set
	// uncounted starts the server with its metrics off, as no server
	// outside this package runs: the baseline of their cost.
	uncounted bool
	// cluster, when set, makes the server a member of a cluster (the
	// configuration file cannot say so yet).
	cluster *config.Cluster
}

// startServer starts server J with extra and waits until every handler is
// up.
func startServer(t testing.TB, extra string) *testServer {
	t.Helper()
	return startServerWith(t, serverOptions{}, extra)
}

// newServer starts server J with extra, without waiting for its handlers.
func newServer(t testing.TB, extra string) *testServer {
	t.Helper()
	return newServerWith(t, serverOptions{}, extra)
}

// startServerWith is newServerWith that waits until every handler is up.
func startServerWith(t testing.TB, o serverOptions, extra string) *testServer {
	t.Helper()
	ts := newServerWith(t, o, extra)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := ts.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return ts
}

// newServerWith starts a real server from a config made of a fixed head (a
// TCP and a UNIX listener and an informer in a runtime dir of its own,
// open auth unless extra has an auth block, debug log level unless it has
// a log block) and extra: handler and peer
// blocks, which may use $TESTHANDLER, $RELAY and $DIR. It does not wait for
// the handlers; t's cleanup stops it.
func newServerWith(t testing.TB, o serverOptions, extra string) *testServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "bt") // short: UNIX socket paths are limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if o.name == "" {
		o.name = "J"
	}
	if o.tcp == "" {
		o.tcp = "127.0.0.1:0"
	}
	cfgPath := writeConfig(t, dir, o, extra)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cluster = o.cluster
	out := io.Writer(untilCleanup(t, t.Output()))
	if o.log != nil {
		out = io.MultiWriter(out, o.log)
	}
	srv, err := New(cfg, hclog.New(&hclog.LoggerOptions{Name: "besterd-" + o.name, Level: hclog.Debug, Output: out}))
	if err != nil {
		t.Fatal(err)
	}
	if o.uncounted {
		srv.metrics = nil
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	return &testServer{Server: srv, t: t, dir: dir, cfgPath: cfgPath, opts: o}
}

// writeConfig writes the configuration of newServerWith to dir, the
// fixed head o (with its defaults filled) and dir make and extra, and
// returns its path.
func writeConfig(t testing.TB, dir string, o serverOptions, extra string) string {
	t.Helper()
	src := fmt.Sprintf(`
server {
  name             = %q
  runtime_dir      = "$DIR"
  shutdown_timeout = "5s"
%s
}
listener "tcp" {
  network = "tcp4"
  address = %q
}
listener "unix" {
  network = "unix"
  address = "client.sock"
}
informer {
  socket = "informer.sock"
}
`, o.name, o.server, o.tcp)
	if !strings.Contains(extra, "\nauth") {
		src += "auth {\n  mode = \"open\"\n}\n"
	}
	if !strings.Contains(extra, "\nlog {") { // the level of the server's logger, which a reload sets
		src += "log {\n  level = \"debug\"\n}\n"
	}
	src = strings.NewReplacer("$TESTHANDLER", bins.testhandler, "$RELAY", bins.relay, "$DIR", dir).Replace(src + extra)
	cfgPath := filepath.Join(dir, "bester.hcl")
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}

// guardedWriter drops what is written once its test has ended: the actor
// system's dead-letter throttle may still log a summary a moment after
// the server stopped, and testing panics on a write after the test.
type guardedWriter struct {
	mu    sync.Mutex
	w     io.Writer
	ended bool
}

func (g *guardedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return len(p), nil
	}
	return g.w.Write(p)
}

// untilCleanup returns w guarded to stop writing when t's cleanups run,
// after every cleanup registered later (such as the server's stop).
func untilCleanup(t testing.TB, w io.Writer) io.Writer {
	g := &guardedWriter{w: w}
	t.Cleanup(func() {
		g.mu.Lock()
		g.ended = true
		g.mu.Unlock()
	})
	return g
}

// handlerBlock is a stream or oneshot handler running the test handler.
func handlerBlock(name, mode, codec string, extra ...string) string {
	return fmt.Sprintf(`
handler %q {
  socket  = "%s.sock"
  command = ["$TESTHANDLER"]
  mode    = %q
  codec   = %q
  timeout = "2s"
%s
}
`, name, name, mode, codec, strings.Join(extra, "\n"))
}

// dial connects a client as user over TCP.
func (ts *testServer) dial(user string, codec wire.Codec) *client.Client {
	ts.t.Helper()
	return ts.dialOpts(client.Options{Address: ts.Addr("tcp").String(), Codec: codec, Username: user, Password: "pw"})
}

func (ts *testServer) dialOpts(o client.Options) *client.Client {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	c, err := client.Dial(ctx, o)
	if err != nil {
		ts.t.Fatalf("dial as %s: %v", o.Username, err)
	}
	ts.t.Cleanup(func() { c.Close() })
	return c
}

// recv waits for the next message on c.
func recv(t *testing.T, c *client.Client) *client.Incoming {
	t.Helper()
	type result struct {
		in  *client.Incoming
		err error
	}
	ch := make(chan result, 1)
	go func() {
		in, err := c.Receive()
		ch <- result{in, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("receive: %v", r.err)
		}
		return r.in
	case <-time.After(waitLong):
		c.Close()
		t.Fatal("nothing received in time")
	}
	return nil
}

// recvEnd waits for the server to close c's connection.
func recvEnd(t *testing.T, c *client.Client) {
	t.Helper()
	ch := make(chan error, 1)
	go func() {
		for {
			if _, err := c.Receive(); err != nil {
				ch <- err
				return
			}
		}
	}()
	select {
	case err := <-ch:
		if !errors.Is(err, os.ErrDeadlineExceeded) && err == nil {
			t.Fatalf("unexpected: %v", err)
		}
	case <-time.After(waitLong):
		c.Close()
		t.Fatal("connection not closed in time")
	}
}

// sendForReport sends a message and returns its status report, failing the test on
// any other message first.
func sendForReport(t *testing.T, c *client.Client, typ, id string, data any) *wire.StatusReport {
	t.Helper()
	if err := c.Send(typ, id, data); err != nil {
		t.Fatalf("send: %v", err)
	}
	return expectReport(t, c, id)
}

// expectReport waits for the status report of id.
func expectReport(t *testing.T, c *client.Client, id string) *wire.StatusReport {
	t.Helper()
	in := recv(t, c)
	if in.Kind != wire.MessageTypeStatusReport {
		t.Fatalf("want the report of %q, got %s %s", id, in.Kind, in.Raw)
	}
	if in.Report.Payload.ID != id {
		t.Fatalf("want the report of %q, got the report of %q: %s %s: %s", id, in.Report.Payload.ID,
			in.Report.Header.Status, in.Report.Header.Error, in.Report.Header.Detail)
	}
	return in.Report
}

// wantGood fails unless r is a good report.
func wantGood(t *testing.T, r *wire.StatusReport) {
	t.Helper()
	if r.Header.Status != wire.StatusGood {
		t.Fatalf("want good, got %s %s: %s", r.Header.Status, r.Header.Error, r.Header.Detail)
	}
}

// wantBad fails unless r is a bad report with code.
func wantBad(t *testing.T, r *wire.StatusReport, code wire.ErrorCode) {
	t.Helper()
	if r.Header.Status != wire.StatusBad || r.Header.Error != code {
		t.Fatalf("want bad %s, got %s %s: %s", code, r.Header.Status, r.Header.Error, r.Header.Detail)
	}
	if r.Header.Detail == "" {
		t.Fatalf("bad %s report has no detail", code)
	}
}

// expectDelivery waits for a receivedMessage and decodes its data into v.
func expectDelivery(t *testing.T, c *client.Client, v any) *client.Incoming {
	t.Helper()
	in := recv(t, c)
	if in.Kind != wire.MessageTypeReceived {
		t.Fatalf("want a delivery, got %s %s", in.Kind, in.Raw)
	}
	if v != nil {
		if err := in.Decode(v); err != nil {
			t.Fatalf("decode delivery: %v", err)
		}
	}
	return in
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// handlerState returns the named link's state.
func (ts *testServer) handlerState(name string) *LinkState {
	for _, st := range ts.HandlerStates() {
		if st.Name == name {
			return st
		}
	}
	ts.t.Fatalf("no handler %q", name)
	return nil
}

// logBuffer collects a server's log for checks; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddr reserves a loopback TCP address: it listens on port 0 and
// closes at once, so that a server or peer can be told the address before
// anything listens there.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// peerBlock is a peer block; extra holds more attributes, one per line.
func peerBlock(name, address, secret string, extra ...string) string {
	return fmt.Sprintf(`
peer %q {
  address = %q
  secret  = %q
%s
}
`, name, address, secret, strings.Join(extra, "\n"))
}

// peerState returns the named peer's state.
func (ts *testServer) peerState(name string) *PeerState {
	for _, st := range ts.PeerStates() {
		if st.Name == name {
			return st
		}
	}
	ts.t.Fatalf("no peer %q", name)
	return nil
}

// waitPeerUp waits until the named peer link is up.
func (ts *testServer) waitPeerUp(t *testing.T, name string) {
	t.Helper()
	eventually(t, "peer "+name+" up", func() bool { return ts.peerState(name).State == stateUp })
}
