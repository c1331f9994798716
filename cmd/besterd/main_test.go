package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/ipc"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
	"github.com/bester-project/bester/wire/tlsconf"
)

// waitLong bounds every wait in these tests. It is generous: they check
// what happens, never how fast.
const waitLong = 30 * time.Second

// bins holds the programs under test, built once by TestMain.
var bins struct {
	besterd, bester, relay string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bd-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	build := func(pkg string) string {
		out := filepath.Join(dir, path.Base(pkg))
		args := []string{"build", "-o", out}
		if raceEnabled() {
			args = append(args, "-race") // a race in the server then fails its exit status
		}
		cmd := exec.Command("go", append(args, pkg)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			os.RemoveAll(dir)
			os.Exit(2)
		}
		return out
	}
	bins.besterd = build("github.com/bester-project/bester/cmd/besterd")
	bins.bester = build("github.com/bester-project/bester/cmd/bester")
	bins.relay = build("github.com/bester-project/bester/examples/relay")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// raceEnabled tells whether this test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer a process writes while a test reads it.
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

// eventually polls cond until it holds, failing the test after waitLong.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// server is a besterd process running the relay handler.
type server struct {
	t        testing.TB
	cmd      *exec.Cmd
	args     []string    // cmd's arguments
	log      *syncBuffer // its stdout and stderr
	done     chan struct{}
	dir      string // runtime dir: every socket lives here
	addr     string // the tcp4 listener
	tlsAddr  string // the TLS listener, with dir's server.crt, issued by ca
	ca       *tlsconf.CA
	unix     string // the unix listener
	informer string
	relayPID int
}

const configTemplate = `
server {
  name        = "J"
  runtime_dir = %q
  # room for BenchmarkIdleConnections, whose clients all come from 127.0.0.1
  max_connections_per_address = 65536
}

auth {
  mode = "open"
}

listener "tcp4" {
  network = "tcp4"
  address = %q
}

listener "local" {
  network = "unix"
  address = "client.sock"
}

listener "tls" {
  network = "tcp4"
  address = %q
  tls {
    cert = "server.crt"
    key  = "server.key"
  }
}

handler "relay" {
  socket  = "relay.sock"
  command = [%q]
}

informer {
  socket = "informer.sock"
}
`

// startServer starts besterd, with args added to its command line, on
// free loopback ports and waits until its relay handler is up. It is
// stopped with SIGTERM at the end of the test unless the test stopped it
// already.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	return startConfigured(t, defaultConfig, args...)
}

// defaultConfig is configTemplate filled in for s.
func defaultConfig(s *server) string {
	return fmt.Sprintf(configTemplate, s.dir, s.addr, s.tlsAddr, bins.relay)
}

// startConfigured is startServer with the configuration config writes for
// s, which has its runtime dir and free addresses by then.
func startConfigured(t testing.TB, config func(s *server) string, args ...string) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, err := tryStart(t, config, args)
		if err == nil {
			return s
		}
		// Another process may take the free port between our check and
		// the server's bind; try another port then.
		if attempt == 3 || !strings.Contains(s.log.String(), "address already in use") {
			t.Fatalf("besterd did not start: %v\n%s", err, s.log)
		}
	}
}

func tryStart(t testing.TB, config func(s *server) string, args []string) (*server, error) {
	dir, err := os.MkdirTemp("", "bd") // short: UNIX socket paths are limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &server{t: t, log: &syncBuffer{}, dir: dir,
		addr: freeAddr(t), tlsAddr: freeAddr(t), unix: filepath.Join(dir, "client.sock"), informer: filepath.Join(dir, "informer.sock")}
	s.ca = writeServerCert(t, dir)
	cfg := filepath.Join(dir, "bester.hcl")
	if err := os.WriteFile(cfg, []byte(config(s)), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = append([]string{"-config", cfg, "-log-level", "debug"}, args...)
	t.Cleanup(func() {
		if !s.exited() {
			s.stop()
		}
		if t.Failed() {
			t.Logf("besterd log:\n%s", s.log)
		}
	})
	return s, s.launch()
}

// launch runs besterd with s.args and waits until its relay handler is up.
func (s *server) launch() error {
	s.done = make(chan struct{})
	s.cmd = exec.Command(bins.besterd, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(s.cmd, s.done)
	deadline := time.Now().Add(waitLong)
	for {
		if s.exited() {
			return fmt.Errorf("besterd exited: %v", s.cmd.ProcessState)
		}
		if pid, ok := s.relayUp(); ok {
			s.relayPID = pid
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the relay handler did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// relayUp asks the informer whether the relay handler is up and returns
// the pid of its process.
func (s *server) relayUp() (int, bool) { return s.handlerUp("relay") }

// handlerUp asks the informer whether the named handler is up and returns
// the pid of its process.
func (s *server) handlerUp(name string) (int, bool) {
	in, err := ipc.DialInformer(s.informer, wire.CodecJSON)
	if err != nil {
		return 0, false
	}
	defer in.Close()
	var info struct {
		Handlers []struct {
			Name  string `json:"name"`
			State string `json:"state"`
			PID   int    `json:"pid"`
		} `json:"handlers"`
	}
	if err := in.Query(wire.InformerServerInfo, nil, &info); err != nil {
		return 0, false
	}
	for _, h := range info.Handlers {
		if h.Name == name && h.State == "up" && h.PID > 0 {
			return h.PID, true
		}
	}
	return 0, false
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and returns the exit status, killing the server if it
// does not stop within waitLong.
func (s *server) stop() int {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(waitLong):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("besterd did not stop within %s of SIGTERM", waitLong)
	}
	return s.cmd.ProcessState.ExitCode()
}

// dial connects and authenticates a client.
func dial(t *testing.T, network, addr, user string, codec wire.Codec) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), client.Options{
		Network: network, Address: addr, Codec: codec, Username: user, Timeout: waitLong})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receive reads one message; a client that gets nothing within waitLong is
// closed, which ends the read with an error.
func receive(t *testing.T, c *client.Client) (*client.Incoming, error) {
	t.Helper()
	timer := time.AfterFunc(waitLong, func() { c.Close() })
	defer timer.Stop()
	return c.Receive()
}

func TestRelayThenSIGTERM(t *testing.T) {
	s := startServer(t)
	g := dial(t, "unix", s.unix, "G", wire.CodecJSON)
	sender := dial(t, "tcp4", s.addr, "T", wire.CodecCBOR)

	type body struct {
		N    int64  `cbor:"n" json:"n"`
		Text string `cbor:"text" json:"text"`
	}
	want := body{N: 7, Text: "hallo wêreld"}
	if err := sender.Send("relay", "m-1", map[string]any{"to": "G", "body": want}); err != nil {
		t.Fatal(err)
	}
	report, err := receive(t, sender)
	if err != nil {
		t.Fatal(err)
	}
	if report.Report == nil || report.ID != "m-1" || report.Err() != nil {
		t.Fatalf("want a good report for m-1, got %s", report.Raw)
	}
	in, err := receive(t, g)
	if err != nil {
		t.Fatal(err)
	}
	var got body
	if err := in.Decode(&got); err != nil {
		t.Fatalf("%s: %v", in.Raw, err)
	}
	if in.Kind != wire.MessageTypeReceived || in.Type != "relay" ||
		in.From != (wire.Address{Server: "J", User: "T"}) || got != want {
		t.Fatalf("G got %s", in.Raw)
	}

	for _, p := range []string{s.unix, s.informer, filepath.Join(s.dir, "relay.sock")} {
		if _, err := os.Lstat(p); err != nil {
			t.Fatalf("while running: %v", err)
		}
	}
	if err := syscall.Kill(s.relayPID, 0); err != nil {
		t.Fatalf("relay handler (pid %d) while running: %v", s.relayPID, err)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(s.log.String(), "stopped") {
		t.Errorf("no \"stopped\" in the log")
	}
	if _, err := receive(t, g); err == nil {
		t.Errorf("G's connection is still open after the server stopped")
	}
	for _, p := range []string{s.unix, s.informer, filepath.Join(s.dir, "relay.sock")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}
	if err := syscall.Kill(s.relayPID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("relay handler (pid %d) still exists after the server stopped: %v", s.relayPID, err)
	}
}

func TestCheck(t *testing.T) {
	defaultConfig, err := filepath.Abs("../../config.hcl")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bins.besterd, "-check", "-config", defaultConfig).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "configuration is valid") {
		t.Errorf("-check of the default config: %v\n%s", err, out)
	}

	dir := t.TempDir()
	bad := `server {
  name         = "J"
  auth_timeout = "ten seconds"
  max_frames   = 4096
}

auth {
  mode = "open"
}

listener "public" {
  network = "tcp4"
  address = "0.0.0.0:2223"
}
`
	// Users and groups files that the server would refuse at start.
	files := `auth {
  file        = "users.htpasswd"
  groups_file = "groups"
}

listener "local" {
  network = "tcp4"
  address = "127.0.0.1:0"
}
`
	for name, content := range map[string]string{"bad.hcl": bad, "files.hcl": files,
		"users.htpasswd": "alice $2y$05$x\n", "groups": "ops alice\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	filesRefused := []string{`files.hcl line 2`, "users.htpasswd line 1: no ':' between user and hash",
		`files.hcl line 3`, "groups line 1: no ':' after the group name"}
	cases := []struct {
		args []string
		want []string // every one must be in the output
	}{
		// Every problem of the file, at once, each with its line and field.
		{[]string{"-check", "-config", "bad.hcl"}, []string{
			`bad.hcl line 3`, `"auth_timeout"`,
			`bad.hcl line 4`, `"max_frames"`,
			`bad.hcl line 13`, `auth mode "open"`,
		}},
		// -check refuses them as starting the server would.
		{[]string{"-check", "-config", "files.hcl"}, filesRefused},
		{[]string{"-config", "files.hcl"}, filesRefused},
		{[]string{"-check", "-config", "missing.hcl"}, []string{"missing.hcl", "no such file"}},
		{[]string{"-check", "-config", defaultConfig, "-log-level", "loud"}, []string{`unknown log level "loud"`}},
		{[]string{"-check", "config.hcl"}, []string{`unexpected argument "config.hcl"`}},
	}
	for _, tc := range cases {
		cmd := exec.Command(bins.besterd, tc.args...)
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%v: %v, want exit status 1", tc.args, err)
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: stdout %q, want nothing", tc.args, stdout.String())
		}
		words := strings.Join(strings.Fields(stderr.String()), " ") // undo the wrapping of details
		for _, w := range tc.want {
			if !strings.Contains(words, w) {
				t.Errorf("%v: no %q in\n%s", tc.args, w, stderr.String())
			}
		}
	}
}

// TestCheckWarnings: -check warns, with file and line, of handler commands
// that are not found and of handler sockets in directories others may
// write, and still exits 0.
func TestCheckWarnings(t *testing.T) {
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok.sh"), []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	src := `server {
  name        = "J"
  runtime_dir = "run"
}
auth {
  mode = "open"
}
listener "local" {
  address = "127.0.0.1:2223"
}
handler "missing" {
  socket  = "missing.sock"
  command = ["./missing-handler", "-v"]
}
handler "shared" {
  socket  = "` + shared + `/shared.sock"
  command = ["sh"]
}
handler "nowhere" {
  socket  = "nowhere.sock"
  command = ["bester-no-such-program"]
}
handler "fine" {
  socket  = "fine.sock"
  command = ["./ok.sh"]
}
`
	if err := os.WriteFile(filepath.Join(dir, "warn.hcl"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins.besterd, "-check", "-config", "warn.hcl")
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || !strings.Contains(stdout.String(), "configuration is valid") {
		t.Fatalf("-check: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stderr.String()
	for _, want := range []string{
		"Warning: Handler command not found", `warn.hcl line 13, in handler "missing"`, "missing-handler",
		`warn.hcl line 21, in handler "nowhere"`, "bester-no-such-program",
		"Warning: Handler socket in a directory others may write", `warn.hcl line 16, in handler "shared"`, shared,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if n := strings.Count(out, "Warning:"); n != 3 {
		t.Errorf("%d warnings, want 3:\n%s", n, out)
	}
}

// TestCLI drives the bester binary against a real server, as the README's
// quickstart does.
func TestCLI(t *testing.T) {
	s := startServer(t)
	var listenOut, listenErr syncBuffer
	listen := exec.Command(bins.bester, "listen", "-addr", s.addr, "-user", "G")
	listen.Stdout, listen.Stderr = &listenOut, &listenErr
	if err := listen.Start(); err != nil {
		t.Fatal(err)
	}
	listenDone := make(chan struct{})
	var listenExit error
	go func() {
		listenExit = listen.Wait()
		close(listenDone)
	}()
	t.Cleanup(func() {
		listen.Process.Kill()
		<-listenDone
	})
	eventually(t, `"listening as G"`, func() bool {
		return strings.Contains(listenErr.String(), "listening as G")
	})

	send := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bins.bester, append([]string{"send", "-user", "T"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		if stderr.Len() != 0 {
			t.Errorf("send %v: stderr %q", args, stderr.String())
		}
		return string(out), cmd.ProcessState.ExitCode()
	}

	out, code := send("-addr", s.addr, "-type", "relay", `{"to":"G","body":"hello"}`)
	if out != "good m-1\n" || code != 0 {
		t.Errorf("send: %q, exit status %d; want \"good m-1\", 0", out, code)
	}
	out, code = send("-network", "unix", "-addr", s.unix, "-codec", "json", "-id", "m-2",
		"-type", "relay", `{"to":["G","H"],"body":{"n":1}}`)
	if !strings.HasPrefix(out, "bad m-2 undelivered") || !strings.HasSuffix(out, " [H]\n") || code != 1 {
		t.Errorf("send to G and H: %q, exit status %d; want bad m-2 undelivered ... [H], 1", out, code)
	}
	want := "from T@J type relay: \"hello\"\nfrom T@J type relay: {\"n\":1}\n"
	eventually(t, "both deliveries", func() bool { return listenOut.String() == want })

	if err := listen.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-listenDone:
		if listenExit != nil {
			t.Errorf("listen after SIGINT: %v; stderr %q", listenExit, listenErr.String())
		}
	case <-time.After(waitLong):
		t.Fatal("listen did not end after SIGINT")
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("server exit status %d, want 0", code)
	}
}

func TestProfilerOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", "[::]:6060", "example.com:6060", "6060"} {
		if _, err := serveProfiler(addr, hclog.NewNullLogger()); err == nil {
			t.Errorf("-pprof %s was accepted", addr)
		}
	}
	a, err := serveProfiler("127.0.0.1:0", hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + a.String() + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /debug/pprof/cmdline: %s", resp.Status)
	}
}

// A besterd killed with SIGKILL, which stops nothing itself, takes its
// handler processes with it: none keeps running and holding its socket.
func TestHandlersEndWithAKilledServer(t *testing.T) {
	s := startServer(t)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done
	eventually(t, fmt.Sprintf("the relay handler (pid %d) to end", s.relayPID), func() bool {
		return !running(s.relayPID)
	})
}

// running tells whether process pid exists and has not exited: a process
// whose new parent does not reap it stays a zombie ("Z") in /proc.
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
