// Package targets starts the systems the comparison measures, each as
// separate server and handler processes on loopback, and gives the load
// engine a driver for each: Bester (besterd and its relay handler), NATS
// (natsd and natshandler) and rawrelay (its server and handler).
package targets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bester-project/bester/loadgen"
	"github.com/bester-project/bester/wire/tlsconf"
)

// Names are the targets, in the order the comparison runs them.
var Names = []string{"bester", "nats", "raw"}

// TLSNames are the targets whose clients connect with TLS (1.3, ECDSA
// P-256 certificates from a development CA made for the comparison). They
// run only when asked for.
var TLSNames = []string{"bester-tls", "nats-tls"}

// HandlerNames are targets that run Bester with another relay handler:
// bester-python runs examples/python/relay.py on the Python SDK (stream
// mode, CBOR). They run only when asked for.
var HandlerNames = []string{"bester-python"}

// ClusterNames are the targets of ClusterSize servers that act as one,
// over which a placement spreads the users; they run only when asked
// for. bester-cluster is three besterd members with static membership,
// each with its relay handler, bester-cluster-etcd the same with etcd
// membership (a private etcd started for the run); nats-cluster is three NATS servers joined
// by routes, each with a natshandler of its own, and nats-cluster-one the
// same with one natshandler, connected to the first server.
var ClusterNames = []string{"bester-cluster", "bester-cluster-etcd", "nats-cluster", "nats-cluster-one"}

// ClusterSize is how many servers a cluster target has.
const ClusterSize = 3

// benchModule is the import path of this module.
const benchModule = "github.com/bester-project/bester/bench"

// Binaries are the programs built for a comparison.
type Binaries struct {
	dir                          string
	mainDir                      string // the Bester module's root
	Besterd, Relay               string // from the Bester module
	Natsd, NatsHandler, RawRelay string // from this module
	// Certs is a directory of development certificates for the TLS
	// targets (tlsconf.WriteDev: ca.crt, server.crt, server.key).
	Certs string
}

// Build builds every program into a new temporary directory, from the
// Bester module and this one as the go command finds them from the
// working directory.
func Build(ctx context.Context) (*Binaries, error) {
	mainDir, err := loadgen.FindModule(ctx)
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", benchModule).Output()
	if err != nil {
		return nil, fmt.Errorf("find the %s module (run from the bench directory): %w", benchModule, err)
	}
	benchDir := strings.TrimSpace(string(out))
	dir, err := os.MkdirTemp("", "bester-compare-bin")
	if err != nil {
		return nil, err
	}
	b := &Binaries{dir: dir, mainDir: mainDir}
	for _, build := range []struct {
		dir  string
		pkgs []string
	}{{mainDir, []string{"./cmd/besterd", "./examples/relay"}}, {benchDir, []string{"./cmd/natsd", "./cmd/natshandler", "./cmd/rawrelay"}}} {
		cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", dir + string(filepath.Separator)}, build.pkgs...)...)
		cmd.Dir = build.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Remove()
			return nil, fmt.Errorf("go build %s in %s: %w\n%s", strings.Join(build.pkgs, " "), build.dir, err, out)
		}
	}
	b.Certs = filepath.Join(dir, "certs")
	if _, err := tlsconf.WriteDev(b.Certs, nil, false); err != nil {
		b.Remove()
		return nil, fmt.Errorf("make the TLS targets' certificates: %w", err)
	}
	b.Besterd, b.Relay = filepath.Join(dir, "besterd"), filepath.Join(dir, "relay")
	b.Natsd, b.NatsHandler, b.RawRelay = filepath.Join(dir, "natsd"), filepath.Join(dir, "natshandler"), filepath.Join(dir, "rawrelay")
	return b, nil
}

// Remove deletes the programs.
func (b *Binaries) Remove() { os.RemoveAll(b.dir) }

// Running is a started target.
type Running struct {
	Name string
	// Driver connects users to a single server; Members, instead, to
	// each server of a cluster target.
	Driver  loadgen.Driver
	Members []loadgen.Driver
	// Addr is where clients connect (the first server's, for a
	// cluster); PIDs are the server processes (the first one's memory
	// is measured) and HandlerPIDs their handlers.
	Addr              string
	PIDs, HandlerPIDs []int
	// Monitors are the bester-cluster members' monitor addresses, which
	// serve the Go profiler, when Options.Profile asked for them.
	Monitors []string
	// ServerConns asks the server how many clients it counts; nil when
	// it cannot be asked.
	ServerConns func() (int, error)
	stop        func() error
}

// RSS is the (first) server's resident memory in bytes.
func (r *Running) RSS() (int64, error) { return loadgen.RSS(r.PIDs[0]) }

// Stop stops the server, then the handler.
func (r *Running) Stop() error { return r.stop() }

// Options size a target for a workload.
type Options struct {
	// Window is the load's window; the servers' limits are set above it.
	Window int
	// Pending is how many incoming messages a NATS client connection
	// holds for the reader (small for many idle connections).
	Pending int
	// BufferSize is each Bester and raw client connection's read and write
	// buffer, in bytes (NATS's client has 32 KiB).
	BufferSize int
	// NATSHandlerConnections is each natshandler's connection count;
	// 0 leaves natshandler's default, 1.
	NATSHandlerConnections int
	// NatsdArgs and NatsHandlerArgs are more arguments for every natsd
	// and natshandler of the NATS targets (to try their settings).
	NatsdArgs, NatsHandlerArgs []string
	// Profile gives each bester-cluster member a monitor that serves the
	// Go profiler (Running.Monitors).
	Profile bool
}

// Start starts target name.
func Start(ctx context.Context, name string, b *Binaries, o Options) (*Running, error) {
	switch name {
	case "bester":
		return startBester(ctx, b, o, false)
	case "bester-tls":
		return startBester(ctx, b, o, true)
	case "bester-python":
		return startBesterPython(ctx, b, o)
	case "nats":
		return startNATS(ctx, b, o, false)
	case "nats-tls":
		return startNATS(ctx, b, o, true)
	case "bester-cluster":
		return startBesterCluster(ctx, b, o, "")
	case "bester-cluster-etcd":
		etcd, err := startEtcd(ctx)
		if err != nil {
			return nil, err
		}
		r, err := startBesterCluster(ctx, b, o, etcd.endpoint)
		if err != nil {
			return nil, errors.Join(err, etcd.stop())
		}
		members := r.stop
		r.stop = func() error { return errors.Join(members(), etcd.stop()) }
		return r, nil
	case "nats-cluster":
		return startNATSCluster(ctx, b, o, ClusterSize)
	case "nats-cluster-one":
		return startNATSCluster(ctx, b, o, 1)
	case "raw":
		dir, err := os.MkdirTemp("", "rr")
		if err != nil {
			return nil, err
		}
		sock := filepath.Join(dir, "handler.sock")
		h, _, err := startProc(ctx, "ready", b.RawRelay, "handle", "-socket", sock)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		srv, line, err := startProc(ctx, "listening ", b.RawRelay, "serve", "-listen", "127.0.0.1:0", "-handler", sock)
		if err != nil {
			h.stop()
			os.RemoveAll(dir)
			return nil, err
		}
		addr := strings.TrimPrefix(line, "listening ")
		return &Running{Name: name, Driver: &Raw{Addr: addr, BufferSize: o.BufferSize}, Addr: addr,
			PIDs: []int{srv.pid()}, HandlerPIDs: []int{h.pid()},
			stop: func() error { err := errors.Join(srv.stop(), h.stop()); os.RemoveAll(dir); return err }}, nil
	}
	return nil, fmt.Errorf("unknown target %q: want one of %s", name, strings.Join(AllNames(), ", "))
}

// AllNames are every target's name.
func AllNames() []string { return slices.Concat(Names, TLSNames, HandlerNames, ClusterNames) }

// SingleOf is the single-server target a cluster target is made of.
func SingleOf(cluster string) string {
	name, _, _ := strings.Cut(cluster, "-cluster")
	return name
}

// IsCluster tells whether target name has several servers.
func IsCluster(name string) bool { return slices.Contains(ClusterNames, name) }

// besterOptions are the spawn options of a besterd for the load o sizes.
func besterOptions(b *Binaries, o Options) loadgen.SpawnOptions {
	return loadgen.SpawnOptions{Besterd: b.Besterd, Handler: b.Relay,
		MaxInFlight: max(256, 2*o.Window), StartTimeout: 30 * time.Second}
}

// startBester starts besterd and its relay handler, with a TLS listener
// when withTLS is set.
func startBester(ctx context.Context, b *Binaries, o Options, withTLS bool) (*Running, error) {
	name := "bester"
	if withTLS {
		name = "bester-tls"
	}
	return runBester(ctx, name, besterOptions(b, o), b, o, withTLS)
}

// runBester starts the server so describes as target name, with a TLS
// listener when withTLS is set.
func runBester(ctx context.Context, name string, so loadgen.SpawnOptions, b *Binaries, o Options, withTLS bool) (*Running, error) {
	if withTLS {
		so.TLSCert, so.TLSKey = filepath.Join(b.Certs, "server.crt"), filepath.Join(b.Certs, "server.key")
	}
	s, err := loadgen.SpawnBester(ctx, so)
	if err != nil {
		return nil, err
	}
	driver := &loadgen.Bester{Network: "tcp4", Address: s.Addr, BufferSize: o.BufferSize}
	if withTLS {
		if driver.TLS, err = (tlsconf.Client{CA: filepath.Join(b.Certs, "ca.crt")}).Config(s.Addr); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return &Running{Name: name, Driver: driver, Addr: s.Addr,
		PIDs: []int{s.PID}, HandlerPIDs: []int{s.HandlerPID}, ServerConns: s.Clients, stop: s.Stop}, nil
}

// startNATS starts natsd and natshandler, with TLS for every client
// (handler included) when withTLS is set.
func startNATS(ctx context.Context, b *Binaries, o Options, withTLS bool) (*Running, error) {
	var serverArgs, handlerArgs []string
	scheme, ca := "nats://", ""
	if withTLS {
		ca = filepath.Join(b.Certs, "ca.crt")
		serverArgs = []string{"-tls-cert", filepath.Join(b.Certs, "server.crt"), "-tls-key", filepath.Join(b.Certs, "server.key")}
		handlerArgs = []string{"-tls-ca", ca}
		scheme = "tls://"
	}
	srv, line, err := startProc(ctx, "listening ", b.Natsd, append(serverArgs, o.NatsdArgs...)...)
	if err != nil {
		return nil, err
	}
	addr := strings.TrimPrefix(line, "listening ")
	url := scheme + addr
	h, _, err := startProc(ctx, "ready", b.NatsHandler, slices.Concat([]string{"-url", url}, handlerArgs, o.natsHandlerArgs())...)
	if err != nil {
		srv.stop()
		return nil, err
	}
	name := "nats"
	if withTLS {
		name = "nats-tls"
	}
	return &Running{Name: name, Driver: &NATS{URL: url, Pending: o.Pending, CA: ca}, Addr: addr, PIDs: []int{srv.pid()},
		HandlerPIDs: []int{h.pid()}, stop: func() error { return errors.Join(h.stop(), srv.stop()) }}, nil
}

// natsHandlerArgs are the arguments o gives every natshandler.
func (o Options) natsHandlerArgs() []string {
	var args []string
	if o.NATSHandlerConnections > 0 {
		args = []string{"-connections", strconv.Itoa(o.NATSHandlerConnections)}
	}
	return append(args, o.NatsHandlerArgs...)
}

// proc is a started server or handler process.
type proc struct {
	cmd      *exec.Cmd
	done     chan struct{}
	mu       sync.Mutex
	stderr   strings.Builder
	stopOnce sync.Once
	stopErr  error
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// startProc starts a program and waits (30 s at most) for the first line
// of its standard output that starts with ready, which it returns.
func startProc(ctx context.Context, ready, path string, args ...string) (*proc, string, error) {
	p, out, err := launch(path, args...)
	if err != nil {
		return nil, "", err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if !sent && strings.HasPrefix(sc.Text(), ready) {
				lines <- sc.Text()
				sent = true
			}
		}
		p.cmd.Wait()
		close(p.done)
	}()
	name := filepath.Base(path)
	select {
	case line := <-lines:
		return p, line, nil
	case <-p.done:
		return nil, "", fmt.Errorf("%s exited before it was ready: %v\n%s", name, p.cmd.ProcessState, p.stderrText())
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, "", fmt.Errorf("%s was not ready within 30 s", name)
	case <-ctx.Done():
		p.stop()
		return nil, "", ctx.Err()
	}
}

// launch starts a program, keeping the start of its standard error, and
// returns its standard output, which the caller reads to the end and then
// waits for the program and closes done.
func launch(path string, args ...string) (*proc, io.Reader, error) {
	p := &proc{cmd: exec.Command(path, args...), done: make(chan struct{})}
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.stderr.Len() < 8<<10 {
			p.stderr.Write(b)
		}
		return len(b), nil
	})
	// Its own process group, so that a Ctrl-C reaches only the
	// comparison, which stops it; and stopped if the comparison dies.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, nil, err
	}
	return p, out, nil
}

func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// stop sends SIGTERM and waits, killing it after 10 s.
func (p *proc) stop() error {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			p.stopErr = fmt.Errorf("%s did not stop within 10 s of SIGTERM", filepath.Base(p.cmd.Path))
		}
	})
	return p.stopErr
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// CPUSeconds is the processor time (user and system) process pid has
// used, from /proc/PID/stat.
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis. utime and stime are fields 14 and
	// 15 of the line, 12 and 13 after the name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(ut+st) / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc's times: 100 on Linux.
const clockTicks = 100
