package testnet

import (
	"net"
	"testing"
)

// FreeLoopbackPorts returns n distinct ports on 127.0.0.1 that were free a
// moment ago, for servers that must be told their port before they start
// (etcd, a static list of cluster members).
func FreeLoopbackPorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}
