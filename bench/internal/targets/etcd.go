package targets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// EtcdMissing says why the targets with etcd membership cannot run, or
// is nil when the etcd program is on PATH.
func EtcdMissing() error {
	if _, err := exec.LookPath("etcd"); err != nil {
		return fmt.Errorf("no etcd program on PATH (Debian: apt-get install etcd-server): %w", err)
	}
	return nil
}

// etcdServer is a private single-node etcd on loopback with its data in
// a temporary directory, as .ci/etcd.sh starts one for the tests.
type etcdServer struct {
	endpoint string // client address, host:port
	proc     *proc
	dir      string
}

// startEtcd starts an etcd of the run's own and waits (30 s at most)
// until it answers /health.
func startEtcd(ctx context.Context) (*etcdServer, error) {
	if err := EtcdMissing(); err != nil {
		return nil, err
	}
	addrs, err := freeAddrs(3)
	if err != nil {
		return nil, err
	}
	client, peer, metrics := addrs[0], addrs[1], addrs[2]
	dir, err := os.MkdirTemp("", "bester-compare-etcd")
	if err != nil {
		return nil, err
	}
	p, out, err := launch("etcd", "--name", "bench", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", "http://"+peer, "--initial-advertise-peer-urls", "http://"+peer,
		"--initial-cluster", "bench=http://"+peer, "--listen-metrics-urls", "http://"+metrics)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	go func() {
		io.Copy(io.Discard, out)
		p.cmd.Wait()
		close(p.done)
	}()
	e := &etcdServer{endpoint: client, proc: p, dir: dir}
	deadline := time.Now().Add(30 * time.Second)
	for !etcdHealthy(ctx, client) {
		select {
		case <-p.done:
			return nil, errors.Join(fmt.Errorf("etcd exited before it was healthy: %v\n%s", p.cmd.ProcessState, p.stderrText()), e.stop())
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), e.stop())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(errors.New("etcd was not healthy within 30 s"), e.stop())
		}
	}
	return e, nil
}

// etcdHealthy tells whether the etcd at client address addr says it is
// healthy.
func etcdHealthy(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"true"`))
}

// stop stops etcd and removes its data.
func (e *etcdServer) stop() error {
	err := e.proc.stop()
	return errors.Join(err, os.RemoveAll(e.dir))
}
