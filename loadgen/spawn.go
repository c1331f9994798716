package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bester-project/bester/internal/procattr"
	"github.com/bester-project/bester/ipc"
	"github.com/bester-project/bester/wire"
)

// ModulePath is the import path of the Bester module, which SpawnBester
// builds the server and the relay handler from.
const ModulePath = "github.com/bester-project/bester"

// SpawnOptions say how to start a Bester server of its own for a run.
type SpawnOptions struct {
	// Besterd and Handler are the server and relay handler programs.
	// When both are empty they are built (go build) from ModuleDir, or
	// else taken from the directory of the running program.
	Besterd, Handler string
	// HandlerArgs are the relay handler's arguments (a script, for an
	// interpreter as Handler), and HandlerEnv its environment's
	// additions.
	HandlerArgs []string
	HandlerEnv  map[string]string
	// ModuleDir is the root of the Bester module to build from; when
	// empty, the module of the working directory (go list -m).
	ModuleDir string
	// Name is the server's name; default "bench".
	Name string
	// Listen is the TCP listener's address; default 127.0.0.1:0, a
	// free port. A server that is another's peer needs one fixed in
	// advance (FreeAddr).
	Listen string
	// MaxInFlight is server.max_in_flight, messages per connection;
	// default 256.
	MaxInFlight int
	// HandlerMaxInFlight is the relay handler's max_in_flight and
	// queue; default 65536.
	HandlerMaxInFlight int
	// LogLevel is the server's log level; default "warn".
	LogLevel string
	// Log receives the server's output (and its handler's); nil keeps
	// only its last lines, for errors.
	Log io.Writer
	// StartTimeout bounds building, starting and waiting for the relay
	// handler; default 2 minutes.
	StartTimeout time.Duration
	// Peers are the servers this one exchanges messages with, each
	// with the secret both give.
	Peers []Peer
	// MaxFrame is server.max_frame in bytes; default the server's.
	MaxFrame int
	// Users, when set, are the only users, by name with their
	// passwords (htpasswd authentication); otherwise authentication is
	// open.
	Users map[string]string
	// TLSCert and TLSKey, when set, are the PEM certificate and key of
	// the listener, which then speaks TLS only.
	TLSCert, TLSKey string
	// Cluster, when set, makes the server a member of a cluster.
	Cluster *SpawnCluster
	// Monitor, when set, is the address of a monitor block that serves
	// the Go profiler (pprof = true): a loopback host:port.
	Monitor string
}

// SpawnCluster makes a spawned server one member of a cluster on
// loopback, without TLS between members (allowed where every member
// address is loopback): with etcd membership when Etcd is set, else with
// static membership. Every member has the same Name, and the servers the
// same SpawnOptions.Name.
type SpawnCluster struct {
	// Name is the cluster's name.
	Name string
	// Bind is this member's member-to-member address, host:port.
	Bind string
	// Etcd is etcd's client address, host:port, for etcd membership.
	Etcd string
	// HealthPort is this member's health port, on Bind's host (static).
	HealthPort int
	// Members are every member's host:health_port, this one's included
	// (static).
	Members []string
}

// Spawned is a Bester server started for a run: a separate process with
// the relay handler, a loopback TCP listener on a free port and an
// informer, in a private temporary runtime directory.
type Spawned struct {
	// Addr is the TCP listener's address.
	Addr string
	// PID is the server's process id, HandlerPID its relay handler's.
	PID, HandlerPID int
	// Besterd and Handler are the programs run; Built tells whether
	// they were built for this run.
	Besterd, Handler string
	Built            bool
	// Dir is the runtime directory, with the configuration file.
	Dir string

	informer string
	cmd      *exec.Cmd
	done     chan struct{}
	tail     *tailBuffer
	binDir   string
	stopOnce sync.Once
}

// SpawnBester builds or finds besterd and the relay handler, writes a
// configuration, starts the server and waits until its relay handler is
// up. Stop it with Stop.
func SpawnBester(ctx context.Context, o SpawnOptions) (*Spawned, error) {
	if o.StartTimeout <= 0 {
		o.StartTimeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	s := &Spawned{done: make(chan struct{}), tail: &tailBuffer{}}
	var err error
	s.Besterd, s.Handler, s.binDir, err = locate(ctx, o)
	if err != nil {
		return nil, err
	}
	s.Built = s.binDir != ""
	// Short: UNIX socket paths are limited to 107 bytes.
	if s.Dir, err = os.MkdirTemp("", "bb"); err != nil {
		s.cleanup()
		return nil, err
	}
	s.informer = filepath.Join(s.Dir, "informer.sock")
	if err := writeUsers(s.Dir, o.Users); err != nil {
		s.cleanup()
		return nil, err
	}
	cfgPath := filepath.Join(s.Dir, "bester.hcl")
	if err := os.WriteFile(cfgPath, []byte(spawnConfig(o, s.Dir, s.Handler)), 0o600); err != nil {
		s.cleanup()
		return nil, err
	}
	s.cmd = exec.Command(s.Besterd, "-config", cfgPath)
	var out io.Writer = s.tail
	if o.Log != nil {
		out = io.MultiWriter(s.tail, o.Log)
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	// Its own process group: a Ctrl-C at the terminal reaches only the
	// load generator, which then stops the server with one SIGTERM.
	// Pdeathsig stops it should the generator die first.
	s.cmd.SysProcAttr = procattr.OwnGroup()
	if err := s.cmd.Start(); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("start %s: %w", s.Besterd, err)
	}
	s.PID = s.cmd.Process.Pid
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// spawnConfig is the server's configuration.
func spawnConfig(o SpawnOptions, dir, handler string) string {
	return fmt.Sprintf(`# Written by the load generator for one run.
server {
  name             = %q
  runtime_dir      = %q
  max_in_flight    = %d
  max_frame        = %d
  shutdown_timeout = "5s"
}

log {
  level = %q
}

%s

listener "tcp4" {
  network = "tcp4"
  address = %q%s
}

handler "relay" {
  socket        = "relay.sock"
  command       = [%s]%s
  timeout       = "30s"
  max_in_flight = %d
  queue         = %d
}

informer {
  socket = "informer.sock"
}
%s%s%s`, cmp(o.Name, "bench"), dir, cmp(o.MaxInFlight, 256), cmp(o.MaxFrame, wire.DefaultMaxFrame),
		cmp(o.LogLevel, "warn"), authBlock(o.Users), cmp(o.Listen, "127.0.0.1:0"), tlsBlock(o.TLSCert, o.TLSKey),
		hclStrings(append([]string{handler}, o.HandlerArgs...)), envLine(o.HandlerEnv), cmp(o.HandlerMaxInFlight, 65536), cmp(o.HandlerMaxInFlight, 65536), peerBlocks(o.Peers),
		clusterBlock(o.Cluster), monitorBlock(o.Monitor))
}

// hclStrings writes a list's strings, quoted, comma-separated.
func hclStrings(list []string) string {
	quoted := make([]string, len(list))
	for i, s := range list {
		quoted[i] = strconv.Quote(s)
	}
	return strings.Join(quoted, ", ")
}

// envLine is a handler block's env attribute, on a line of its own, or
// nothing.
func envLine(env map[string]string) string {
	if len(env) == 0 {
		return ""
	}
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		pairs = append(pairs, fmt.Sprintf("%s = %s", k, strconv.Quote(env[k])))
	}
	return "\n  env           = { " + strings.Join(pairs, ", ") + " }"
}

// clusterBlock is the cluster block of a member, or nothing.
func clusterBlock(c *SpawnCluster) string {
	if c == nil {
		return ""
	}
	if c.Etcd != "" {
		return fmt.Sprintf(`
cluster {
  name = %q
  bind = %q
  etcd {
    endpoints = [%q]
    prefix    = "/bench"
    lease_ttl = "3s"
  }
}
`, c.Name, c.Bind, c.Etcd)
	}
	members := make([]string, len(c.Members))
	for i, m := range c.Members {
		members[i] = strconv.Quote(m)
	}
	return fmt.Sprintf(`
cluster {
  name = %q
  bind = %q
  static {
    health_port = %d
    members     = [%s]
    refresh     = "500ms"
  }
}
`, c.Name, c.Bind, c.HealthPort, strings.Join(members, ", "))
}

// monitorBlock is a monitor block serving the profiler, or nothing.
func monitorBlock(addr string) string {
	if addr == "" {
		return ""
	}
	return fmt.Sprintf("\nmonitor {\n  address = %q\n  pprof   = true\n}\n", addr)
}

// tlsBlock is the listener's tls block, or nothing without a certificate.
func tlsBlock(cert, key string) string {
	if cert == "" {
		return ""
	}
	return fmt.Sprintf("\n  tls {\n    cert = %q\n    key  = %q\n  }", cert, key)
}

// usersFile is the htpasswd file of a spawned server with Users.
const usersFile = "users.htpasswd"

// authBlock is open authentication, or htpasswd when there are users.
func authBlock(users map[string]string) string {
	if len(users) == 0 {
		return "auth {\n  mode = \"open\"\n}"
	}
	return fmt.Sprintf("auth {\n  mode = \"htpasswd\"\n  file = %q\n}", usersFile)
}

// writeUsers writes the htpasswd file for users into dir. The hashes
// have bcrypt's lowest cost: the server's comparisons for unknown users
// and wrong passwords keep their own cost, and a run's own logins stay
// cheap.
func writeUsers(dir string, users map[string]string) error {
	if len(users) == 0 {
		return nil
	}
	var b strings.Builder
	for name, password := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			return fmt.Errorf("users of the spawned server: %w", err)
		}
		fmt.Fprintf(&b, "%s:%s\n", name, hash)
	}
	return os.WriteFile(filepath.Join(dir, usersFile), []byte(b.String()), 0o600)
}

// Peer is a peer server of a spawned one.
type Peer struct {
	Name, Address, Secret string
}

func peerBlocks(peers []Peer) string {
	var b strings.Builder
	for _, p := range peers {
		fmt.Fprintf(&b, "\npeer %q {\n  address = %q\n  secret  = %q\n  timeout = \"30s\"\n}\n", p.Name, p.Address, p.Secret)
	}
	return b.String()
}

// FreeAddr returns a loopback TCP address whose port was free a moment
// ago, for a server that must be named before it listens.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// locate returns the server and handler programs, building them into a
// new directory (returned, to be removed) when needed.
func locate(ctx context.Context, o SpawnOptions) (besterd, handler, binDir string, err error) {
	switch {
	case o.Besterd != "" && o.Handler != "":
		return o.Besterd, o.Handler, "", nil
	case o.Besterd != "" || o.Handler != "":
		return "", "", "", errors.New("give both the server and the relay handler program, or neither")
	}
	dir := o.ModuleDir
	if dir == "" {
		dir, err = FindModule(ctx)
	}
	if err == nil {
		besterd, handler, binDir, err = Build(ctx, dir)
		if err != nil {
			return "", "", "", err
		}
		return besterd, handler, binDir, nil
	}
	if exe, xerr := os.Executable(); xerr == nil {
		d := filepath.Dir(exe)
		b, h := filepath.Join(d, "besterd"), filepath.Join(d, "relay")
		if isFile(b) && isFile(h) {
			return b, h, "", nil
		}
	}
	return "", "", "", fmt.Errorf("no besterd and relay handler to start: run from a clone of the Bester repository "+
		"(they are built from it with go build), or name them with -besterd and -handler (%v)", err)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// FindModule returns the root directory of the Bester module as the go
// command sees it from the working directory: the main module, or the
// directory a replace directive points to.
func FindModule(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", ModulePath).Output()
	if err != nil {
		var xerr *exec.ExitError
		if errors.As(err, &xerr) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(xerr.Stderr)))
		}
		return "", fmt.Errorf("find the %s module: %w", ModulePath, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("find the %s module: not in the module graph here", ModulePath)
	}
	return dir, nil
}

// Build builds besterd and the relay handler from the module in dir into
// a new temporary directory binDir, which the caller removes.
func Build(ctx context.Context, dir string) (besterd, handler, binDir string, err error) {
	binDir, err = os.MkdirTemp("", "bester-bench-bin")
	if err != nil {
		return "", "", "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", binDir+string(filepath.Separator), "./cmd/besterd", "./examples/relay")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(binDir)
		return "", "", "", fmt.Errorf("build besterd and the relay handler in %s: %w\n%s", dir, err, out)
	}
	return filepath.Join(binDir, "besterd"), filepath.Join(binDir, "relay"), binDir, nil
}

// serverInfo is the part of the informer's serverInfo used here.
type serverInfo struct {
	Clients   int `json:"clients"`
	Listeners []struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"listeners"`
	Handlers []struct {
		Name  string `json:"name"`
		State string `json:"state"`
		PID   int    `json:"pid"`
	} `json:"handlers"`
	Peers []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"peers"`
}

func (s *Spawned) info() (*serverInfo, error) {
	in, err := ipc.DialInformer(s.informer, wire.CodecJSON)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	var info serverInfo
	if err := in.Query(wire.InformerServerInfo, nil, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// waitReady polls the informer until the relay handler is up.
func (s *Spawned) waitReady(ctx context.Context) error {
	for {
		select {
		case <-s.done:
			return fmt.Errorf("besterd exited: %v\n%s", s.cmd.ProcessState, s.tail)
		default:
		}
		if info, err := s.info(); err == nil {
			for _, l := range info.Listeners {
				if l.Name == "tcp4" {
					s.Addr = l.Address
				}
			}
			for _, h := range info.Handlers {
				if h.Name == "relay" && h.State == "up" && h.PID > 0 && s.Addr != "" {
					s.HandlerPID = h.PID
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("besterd did not get its relay handler up: %w\n%s", ctx.Err(), s.tail)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitPeers waits until the server's link to every peer is up.
func (s *Spawned) WaitPeers(ctx context.Context) error {
	for {
		info, err := s.info()
		if err == nil {
			up := 0
			for _, p := range info.Peers {
				if p.State == "up" {
					up++
				}
			}
			if up == len(info.Peers) {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("besterd exited: %v\n%s", s.cmd.ProcessState, s.tail)
		case <-ctx.Done():
			return fmt.Errorf("besterd's peer links did not come up: %w\n%s", ctx.Err(), s.tail)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Clients is the number of client connections the server counts.
func (s *Spawned) Clients() (int, error) {
	info, err := s.info()
	if err != nil {
		return 0, err
	}
	return info.Clients, nil
}

// RSS is the server's resident memory in bytes.
func (s *Spawned) RSS() (int64, error) { return RSS(s.PID) }

// Stop stops the server with SIGTERM (SIGKILL after 20 s) and removes
// its directory and the programs built for it. It returns an error when
// the server did not exit cleanly.
func (s *Spawned) Stop() error {
	var err error
	s.stopOnce.Do(func() {
		defer s.cleanup()
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
			err = errors.New("besterd did not stop within 20 s of SIGTERM")
			return
		}
		if st := s.cmd.ProcessState; st != nil && !st.Success() {
			err = fmt.Errorf("besterd: %v\n%s", st, s.tail)
		}
	})
	return err
}

func (s *Spawned) cleanup() {
	if s.Dir != "" {
		os.RemoveAll(s.Dir)
	}
	if s.binDir != "" {
		os.RemoveAll(s.binDir)
	}
}

// tailBuffer keeps the last lines written to it.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

const tailMax = 8 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		cut := len(t.b) - tailMax
		if i := bytes.IndexByte(t.b[cut:], '\n'); i >= 0 {
			cut += i + 1
		}
		t.b = append(t.b[:0], t.b[cut:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
