package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bester-project/bester/internal/testnet"
	"github.com/bester-project/bester/loadgen"
	"github.com/bester-project/bester/wire/client"
	"github.com/bester-project/bester/wire/tlsconf"
)

// plainServerTemplate begins the configuration of server J in a runtime
// directory, with open authentication and a plain listener.
const plainServerTemplate = `
server {
  name        = "J"
  runtime_dir = %q
}

auth {
  mode = "open"
}

listener "plain" {
  network = "tcp4"
  address = %q
}
`

// tlsConfigTemplate is a server with the relay handler, a plain listener
// and two TLS listeners using the files of `bester certs dev` in certs/,
// relative to the configuration file: "tls" logs clients in by password
// (open authentication), "mtls" by client certificate. Its monitor
// endpoint speaks HTTPS with the server's certificate.
const tlsConfigTemplate = plainServerTemplate + `
listener "tls" {
  network = "tcp4"
  address = %q
  tls {
    cert = "certs/server.crt"
    key  = "certs/server.key"
  }
}

listener "mtls" {
  network = "tcp4"
  address = %q
  tls {
    cert        = "certs/server.crt"
    key         = "certs/server.key"
    client_ca   = "certs/ca.crt"
    client_auth = "require"
    login       = "certificate"
  }
}

handler "relay" {
  socket        = "relay.sock"
  command       = [%q]
  start_timeout = "30s"
  timeout       = "30s"
}

monitor {
  address = %q
  tls {
    cert = "certs/server.crt"
    key  = "certs/server.key"
  }
}
`

// tlsServer is a besterd started from tlsConfigTemplate.
type tlsServer struct {
	certs             string // the files of certs dev, for users T and G
	plain, addr, mtls string // the listeners' addresses
	monitor           string // the monitor endpoint's address
	besterd, config   string // what start runs
	// stop ends the besterd start began, and waits for it; the test's
	// end does too.
	stop func()
}

// startTLSServer builds and starts besterd and the relay handler, and
// waits until both TLS listeners log a client in. The server is stopped
// when the test ends.
func startTLSServer(t *testing.T) *tlsServer {
	t.Helper()
	besterd, relay := buildServer(t)
	dir, err := os.MkdirTemp("", "bt") // short: UNIX socket paths are limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &tlsServer{certs: devCerts(t, filepath.Join(dir, "certs"), "T", "G"), besterd: besterd,
		config: filepath.Join(dir, "bester.hcl")}
	for _, addr := range []*string{&s.plain, &s.addr, &s.mtls, &s.monitor} {
		if *addr, err = loadgen.FreeAddr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(s.config, fmt.Appendf(nil, tlsConfigTemplate, dir, s.plain, s.addr, s.mtls, relay, s.monitor), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	return s
}

// start runs besterd until s.stop or the end of the test, and waits
// until it is up.
func (s *tlsServer) start(t *testing.T) {
	t.Helper()
	p := runBesterd(t, s.besterd, s.config)
	s.stop = p.stop
	s.waitUp(t, p.exited, p.log)
}

// besterdProcess is a besterd that runBesterd started.
type besterdProcess struct {
	log    *syncBuffer   // its standard output and error
	exited chan struct{} // closed when it has ended
	// stop ends it with SIGTERM, and waits; the test's end does too.
	stop func()
}

// runBesterd starts besterd with the configuration file config until
// stop or the end of the test, whose log shows its output if it failed.
func runBesterd(t *testing.T, besterd, config string) *besterdProcess {
	t.Helper()
	p := &besterdProcess{log: &syncBuffer{}, exited: make(chan struct{})}
	cmd := exec.Command(besterd, "-config", config)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	p.stop = sync.OnceFunc(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(testTimeout):
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("besterd %s log:\n%s", config, p.log)
		}
	})
	t.Cleanup(p.stop)
	return p
}

// waitUp dials both TLS listeners until each logs a client in.
func (s *tlsServer) waitUp(t *testing.T, exited <-chan struct{}, log *syncBuffer) {
	t.Helper()
	files := tlsconf.Client{CA: s.file("ca.crt"), Cert: s.file("T.crt"), Key: s.file("T.key")}
	deadline := time.Now().Add(testTimeout)
	for _, addr := range []string{s.addr, s.mtls} {
		cfg, err := files.Config(addr)
		if err != nil {
			t.Fatal(err)
		}
		for {
			c, err := client.Dial(context.Background(), client.Options{Address: addr, TLS: cfg, Username: "T", Timeout: testTimeout})
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				t.Fatalf("besterd exited:\n%s", log)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no login on %s: %v\n%s", addr, err, log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (s *tlsServer) file(name string) string { return filepath.Join(s.certs, name) }

// listen runs `bester listen` with args until the test ends, and returns
// its standard output once it is listening.
func listen(t *testing.T, args ...string) *syncBuffer {
	t.Helper()
	e, out, errs := testEnv("")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	code := 0
	go func() { code = run(ctx, append([]string{"bester", "listen"}, args...), e); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if code != 0 {
			t.Errorf("listen %v: status %d, stderr %q", args, code, errs)
		}
	})
	waitFor(t, "listen to start", func() bool {
		select {
		case <-done:
			t.Fatalf("listen %v ended: status %d, stderr %q", args, code, errs)
		default:
		}
		return strings.Contains(errs.String(), "listening as")
	})
	return out
}

// waitFor polls cond until it holds, failing the test after testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTLSEndToEnd runs the client commands against a real besterd over
// TLS: T→G with usernames, then with certificate logins over mutual TLS,
// the errors of connections TLS refuses, a password in clear to a server
// that counts as remote, and a short bench.
func TestTLSEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a server")
	}
	s := startTLSServer(t)
	ca := s.file("ca.crt")
	send := func(t *testing.T, args ...string) {
		t.Helper()
		e, out, errs := testEnv("")
		if code := runWith(t, e, append([]string{"send", "-type", "relay"}, args...)...); code != 0 || out.String() != "good m-1\n" {
			t.Fatalf("send %v: status %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}

	t.Run("password login", func(t *testing.T) {
		got := listen(t, "-addr", s.addr, "-ca", ca, "-user", "G")
		send(t, "-addr", s.addr, "-ca", ca, "-user", "T", `{"to":"G","body":"over TLS"}`)
		waitFor(t, "the delivery over TLS", func() bool { return got.String() == "from T@J type relay: \"over TLS\"\n" })
	})

	t.Run("certificate login", func(t *testing.T) {
		got := listen(t, "-addr", s.mtls, "-ca", ca, "-cert", s.file("G.crt"), "-key", s.file("G.key"))
		t.Setenv(envCA, ca) // the environment stands in for the flags
		t.Setenv(envCert, s.file("T.crt"))
		t.Setenv(envKey, s.file("T.key"))
		send(t, "-addr", s.mtls, `{"to":"G","body":"by certificate"}`)
		waitFor(t, "the delivery by certificate", func() bool { return got.String() == "from T@J type relay: \"by certificate\"\n" })
	})

	t.Run("refusals", func(t *testing.T) {
		cases := []struct {
			name string
			args []string
			err  string
		}{
			{"no -ca", []string{"-addr", s.addr, "-tls", "-user", "T"}, "(-ca names the file"},
			{"a plain listener", []string{"-addr", s.plain, "-ca", ca, "-user", "T"}, "is this a TLS listener?"},
			{"no certificate", []string{"-addr", s.mtls, "-ca", ca, "-user", "T"}, "certificate required"},
			{"another certificate's user", []string{"-addr", s.mtls, "-ca", ca, "-user", "G",
				"-cert", s.file("T.crt"), "-key", s.file("T.key")}, "unauthorized"},
		}
		for _, tc := range cases {
			e, out, errs := testEnv("")
			code := runWith(t, e, append([]string{"send", "-type", "dummy"}, tc.args...)...)
			if code != 1 || out.String() != "" || !strings.Contains(errs.String(), tc.err) {
				t.Errorf("%s: status %d, stdout %q, stderr %q; want an error with %q", tc.name, code, out, errs, tc.err)
			}
		}
	})

	// The plain listener through 0.0.0.0 stands for a server on another
	// machine: the password goes in clear only with -insecure-plaintext.
	t.Run("password in clear", func(t *testing.T) {
		remote := testnet.RemoteAlias(t, s.plain)
		got := listen(t, "-addr", remote, "-user", "G", "-password", "y", "-insecure-plaintext")
		send(t, "-addr", remote, "-user", "T", "-password", "x", "-insecure-plaintext", `{"to":"G","body":"in clear"}`)
		waitFor(t, "the delivery in clear", func() bool { return got.String() == "from T@J type relay: \"in clear\"\n" })

		e, out, errs := testEnv("")
		code := runWith(t, e, "bench", "relay", "-addr", remote, "-password", "x", "-insecure-plaintext",
			"-pairs", "2", "-window", "4", "-duration", "300ms", "-warmup", "100ms")
		if code != 0 || !strings.Contains(out.String(), "every id accounted for") || !strings.Contains(errs.String(), "in clear") {
			t.Fatalf("bench: status %d, stdout:\n%s\nstderr:\n%s", code, out, errs)
		}
	})

	t.Run("bench", func(t *testing.T) {
		e, out, errs := testEnv("")
		code := runWith(t, e, "bench", "relay", "-addr", s.addr, "-ca", ca, "-pairs", "2", "-window", "4",
			"-duration", "300ms", "-warmup", "100ms")
		if code != 0 || !strings.Contains(out.String(), "every id accounted for") {
			t.Fatalf("status %d, stdout:\n%s\nstderr:\n%s", code, out, errs)
		}
	})
}
