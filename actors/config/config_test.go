package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
)

// write puts src into a fresh directory as bester.hcl, next to an empty
// users.htpasswd, and returns the config path.
func write(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.htpasswd"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bester.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadWith writes src, lets files write what it names beside it, and
// loads it.
func loadWith(t *testing.T, src string, files func(t *testing.T, dir string)) (*Config, string, error) {
	t.Helper()
	path := write(t, src)
	files(t, filepath.Dir(path))
	cfg, err := Load(path)
	return cfg, path, err
}

func mustLoad(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Load(write(t, src))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

func TestFullConfig(t *testing.T) {
	path := write(t, `
server {
  name             = "J"
  max_frame        = 65536
  runtime_dir      = "run"
  shutdown_timeout = "3s"
  auth_timeout     = "2s"
  idle_timeout     = "5m"
  send_queue       = 16
  max_in_flight    = 8
  gc_percent       = 150

  max_auth_frame              = 4096
  frame_timeout               = "20s"
  send_queue_bytes            = 1048576
  buffer_budget               = 67108864
  max_connections             = 1000
  max_connections_per_address = 100
  max_connections_per_user    = 10
  max_recipients              = 64
  message_rate                = 50
  message_burst               = 100
  byte_rate                   = 1000000

  max_login_failures     = 5
  login_block            = "10m"
  login_failure_delay    = "0s"
  max_logins_per_address = 4
}
log {
  level = "DEBUG"
  json  = true
}
auth {
  mode = "htpasswd"
  file = "users.htpasswd"
}
listener "tcp4" {
  network = "tcp4"
  address = "0.0.0.0:2223"
  codec   = "json"
  insecure_plaintext = true
}
listener "local" {
  network = "unix"
  address = "/tmp/bester-test.sock"
}
handler "afrikaans" {
  socket        = "afrikaans.sock"
  command       = ["./afrikaans", "-v"]
  dir           = "handlers"
  env           = { LANG = "af" }
  mode          = "oneshot"
  codec         = "json"
  connections   = 2
  timeout       = "1500ms"
  start_timeout = "1m"
  queue         = 10
  max_in_flight = 20
  restart {
    backoff_min  = "1s"
    backoff_max  = "30s"
    max_restarts = 0
    window       = "10m"
    retry_after  = "2m"
  }
}
informer {
  socket = "/tmp/bester-informer.sock"
}
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	dir := filepath.Dir(path)
	want := &Config{
		Path: path,
		Server: Server{
			Name:            "J",
			MaxFrame:        65536,
			RuntimeDir:      filepath.Join(dir, "run"),
			ShutdownTimeout: 3 * time.Second,
			AuthTimeout:     2 * time.Second,
			IdleTimeout:     5 * time.Minute,
			SendQueue:       16,
			MaxInFlight:     8,
			GCPercent:       150,

			MaxAuthFrame:             4096,
			FrameTimeout:             20 * time.Second,
			SendQueueBytes:           1 << 20,
			BufferBudget:             64 << 20,
			MaxConnections:           1000,
			MaxConnectionsPerAddress: 100,
			MaxConnectionsPerUser:    10,
			MaxRecipients:            64,
			MessageRate:              50,
			MessageBurst:             100,
			ByteRate:                 1000000,
			ByteBurst:                1000000,
			MaxLoginFailures:         5,
			LoginBlock:               10 * time.Minute,
			LoginFailureDelay:        0,
			MaxLoginsPerAddress:      4,
		},
		Log:  Log{Level: "debug", JSON: true},
		Auth: Auth{Mode: AuthHtpasswd, File: filepath.Join(dir, "users.htpasswd")},
		Listeners: []Listener{
			{Name: "tcp4", Network: "tcp4", Address: "0.0.0.0:2223", Codec: wire.CodecJSON, InsecurePlaintext: true},
			{Name: "local", Network: "unix", Address: "/tmp/bester-test.sock", Codec: wire.CodecAuto},
		},
		Handlers: []Handler{{
			Name:         "afrikaans",
			Socket:       filepath.Join(dir, "run", "afrikaans.sock"),
			Command:      []string{"./afrikaans", "-v"},
			Dir:          filepath.Join(dir, "handlers"),
			Env:          map[string]string{"LANG": "af"},
			Mode:         wire.ModeOneshot,
			Codec:        wire.CodecJSON,
			Connections:  2,
			Timeout:      1500 * time.Millisecond,
			StartTimeout: time.Minute,
			Queue:        10,
			MaxInFlight:  20,
			Restart: Restart{
				BackoffMin:  time.Second,
				BackoffMax:  30 * time.Second,
				MaxRestarts: 0,
				Window:      10 * time.Minute,
				RetryAfter:  2 * time.Minute,
			},
		}},
		Informer: &Informer{Socket: "/tmp/bester-informer.sock"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
}

func TestDefaults(t *testing.T) {
	path := write(t, `
auth {
  file = "users.htpasswd"
}
listener "main" {
  address = "127.0.0.1:2223"
}
handler "relay" {
  socket = "relay.sock"
}
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	runtimeDir := defaultRuntimeDir()
	want := &Config{
		Path: path,
		Server: Server{
			Name:            host,
			MaxFrame:        wire.DefaultMaxFrame,
			RuntimeDir:      runtimeDir,
			ShutdownTimeout: 10 * time.Second,
			AuthTimeout:     10 * time.Second,
			IdleTimeout:     0,
			SendQueue:       1024,
			MaxInFlight:     256,
			GCPercent:       DefaultGCPercent,

			MaxAuthFrame:             DefaultMaxAuthFrame,
			FrameTimeout:             DefaultFrameTimeout,
			SendQueueBytes:           DefaultSendQueueBytes,
			BufferBudget:             DefaultBufferBudget,
			MaxConnections:           DefaultMaxConnections,
			MaxConnectionsPerAddress: DefaultMaxConnectionsPerAddress,
			MaxConnectionsPerUser:    DefaultMaxConnectionsPerUser,
			MaxRecipients:            DefaultMaxRecipients,
			MessageBurst:             1,
			ByteBurst:                DefaultMaxFrame,
			MaxLoginFailures:         10,
			LoginBlock:               time.Minute,
			LoginFailureDelay:        500 * time.Millisecond,
			MaxLoginsPerAddress:      2,
		},
		Log:       Log{Level: "info"},
		Auth:      Auth{Mode: AuthHtpasswd, File: filepath.Join(dir, "users.htpasswd")},
		Listeners: []Listener{{Name: "main", Network: "tcp", Address: "127.0.0.1:2223", Codec: wire.CodecAuto}},
		Handlers: []Handler{{
			Name:         "relay",
			Socket:       filepath.Join(runtimeDir, "relay.sock"),
			Dir:          dir,
			Mode:         wire.ModeStream,
			Codec:        wire.CodecCBOR,
			Connections:  DefaultStreamConnections,
			Timeout:      5 * time.Second,
			StartTimeout: 30 * time.Second,
			Queue:        1024,
			MaxInFlight:  4096,
			Restart: Restart{
				BackoffMin:  100 * time.Millisecond,
				BackoffMax:  10 * time.Second,
				MaxRestarts: 5,
				Window:      time.Minute,
				RetryAfter:  time.Minute,
			},
		}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
}

// TestRootShape parses the shape of the repository's own root config. HCL
// allows a one-line block only with a single argument, so listeners take one
// argument per line.
func TestRootShape(t *testing.T) {
	path := write(t, `
server { name = "J" }
auth { mode = "open" }
listener "tcp4" {
  network = "tcp4"
  address = "127.0.0.1:2223"
}
listener "tcp6" {
  network = "tcp6"
  address = "[::1]:2224"
}
handler "relay" {
  socket        = "relay.sock"
  command       = ["go", "run", "./examples/relay"]
  start_timeout = "120s"
}
informer { socket = "informer.sock" }
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	rt := defaultRuntimeDir()
	if cfg.Server.Name != "J" || cfg.Auth.Mode != AuthOpen || len(cfg.Listeners) != 2 {
		t.Errorf("server/auth/listeners: %+v %+v %+v", cfg.Server, cfg.Auth, cfg.Listeners)
	}
	if l := cfg.Listeners[1]; l.Network != "tcp6" || l.Address != "[::1]:2224" {
		t.Errorf("tcp6 listener: %+v", l)
	}
	h := cfg.Handlers[0]
	if h.Socket != filepath.Join(rt, "relay.sock") || h.StartTimeout != 120*time.Second ||
		h.Dir != filepath.Dir(path) || !reflect.DeepEqual(h.Command, []string{"go", "run", "./examples/relay"}) {
		t.Errorf("handler: %+v", h)
	}
	if cfg.Informer == nil || cfg.Informer.Socket != filepath.Join(rt, "informer.sock") {
		t.Errorf("informer: %+v", cfg.Informer)
	}
}

func TestRelativePaths(t *testing.T) {
	cfg := mustLoad(t, `
server {
  runtime_dir = "/srv/bester/run"
}
auth {
  file = "./users.htpasswd"
}
listener "sock" {
  network = "unix"
  address = "clients.sock"
}
handler "a" {
  socket = "sub/a.sock"
  dir    = "/opt/a"
}
handler "b" {
  socket = "/var/run/b.sock"
  dir    = "../b"
}
informer {
  socket = "informer.sock"
}
`)
	dir := filepath.Dir(cfg.Path)
	checks := map[string][2]string{
		"listener": {cfg.Listeners[0].Address, "/srv/bester/run/clients.sock"},
		"a.socket": {cfg.Handlers[0].Socket, "/srv/bester/run/sub/a.sock"},
		"a.dir":    {cfg.Handlers[0].Dir, "/opt/a"},
		"b.socket": {cfg.Handlers[1].Socket, "/var/run/b.sock"},
		"b.dir":    {cfg.Handlers[1].Dir, filepath.Join(filepath.Dir(dir), "b")},
		"informer": {cfg.Informer.Socket, "/srv/bester/run/informer.sock"},
		"auth":     {cfg.Auth.File, filepath.Join(dir, "users.htpasswd")},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s: got %q, want %q", name, c[0], c[1])
		}
	}
}

// TestRelativeConfigPath checks that a config named relative to the working
// directory still yields absolute paths.
func TestRelativeConfigPath(t *testing.T) {
	path := write(t, `
auth {
  file = "users.htpasswd"
}
listener "l" {
  address = "127.0.0.1:0"
}
`)
	t.Chdir(filepath.Dir(path))
	cfg, err := Load("bester.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != "bester.hcl" || cfg.Auth.File != filepath.Join(filepath.Dir(path), "users.htpasswd") {
		t.Errorf("path %q, auth file %q", cfg.Path, cfg.Auth.File)
	}
}

func TestOpenModeLoopback(t *testing.T) {
	mustLoad(t, `
auth { mode = "open" }
listener "a" {
  address = "localhost:1"
}
listener "b" {
  network = "tcp4"
  address = "127.1.2.3:2"
}
listener "c" {
  network = "tcp6"
  address = "[::1]:3"
}
listener "d" {
  network = "unix"
  address = "/tmp/x.sock"
}
`)
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.hcl"))
	if err == nil || !strings.Contains(err.Error(), "absent.hcl") {
		t.Fatalf("got %v", err)
	}
}
