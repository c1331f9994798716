// Package testnet helps tests that listen on loopback only stand for a
// server on another machine.
package testnet

import (
	"net"
	"testing"
	"time"
)

// RemoteAlias is addr's port on 0.0.0.0. Clients count 0.0.0.0 as remote
// (only 127.0.0.0/8, ::1 and localhost are loopback, see
// tlsconf.LoopbackHost), yet Linux connects it to a listener on
// 127.0.0.1: a test reaches its loopback server through it as it would
// one on another machine. The test is skipped where the system connects
// it nowhere.
func RemoteAlias(t testing.TB, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	alias := net.JoinHostPort("0.0.0.0", port)
	conn, err := net.DialTimeout("tcp", alias, 10*time.Second)
	if err != nil {
		t.Skipf("0.0.0.0 does not reach a loopback listener here: %v", err)
	}
	conn.Close()
	return alias
}
