package testetcd

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/internal/testnet"
)

// Server is an etcd of one test's own, for tests that stop and restart
// etcd under running members, which the shared one must not be.
type Server struct {
	t       testing.TB
	dataDir string
	client  string // host:port
	args    []string
	cmd     *exec.Cmd
	log     *os.File
}

// StartPrivate starts an etcd on free loopback ports with a data directory
// in t.TempDir, stopped when the test ends. Without the etcd binary the test
// is skipped, or fails where EnvRequired is set.
func StartPrivate(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("etcd"); err != nil {
		absent(t, "the etcd binary is not on PATH (Debian: apt-get install etcd-server)")
		return nil
	}
	dir := t.TempDir()
	ports := testnet.FreeLoopbackPorts(t, 3)
	client, peer, metrics := loopback(ports[0]), loopback(ports[1]), loopback(ports[2])
	s := &Server{t: t, dataDir: filepath.Join(dir, "data"), client: client}
	s.args = []string{
		"--name", "test", "--data-dir", s.dataDir,
		"--listen-client-urls", "http://" + client, "--advertise-client-urls", "http://" + client,
		"--listen-peer-urls", "http://" + peer, "--initial-advertise-peer-urls", "http://" + peer,
		"--initial-cluster", "test=http://" + peer, "--listen-metrics-urls", "http://" + metrics,
	}
	log, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.log = log
	t.Cleanup(func() {
		s.Stop()
		log.Close()
	})
	s.Start()
	return s
}

// Endpoint is the client endpoint, host:port.
func (s *Server) Endpoint() string { return s.client }

// Start starts etcd (again, on the same ports and data) and waits until it
// answers its health check.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command("etcd", s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting etcd: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !s.healthy() {
		if time.Now().After(deadline) {
			s.t.Fatalf("etcd on %s not healthy after 30 s; its log is %s", s.client, s.log.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop kills etcd, as a crash would, and waits until it is gone.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

func (s *Server) healthy() bool {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + s.client + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && strings.Contains(string(body), "true")
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
