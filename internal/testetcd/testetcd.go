// Package testetcd finds the etcd server that tests of cluster membership
// run against: a real one, started on loopback by .ci/run (or by hand, see
// docs/cluster.md) and named by the environment.
package testetcd

import (
	"context"
	"net"
	"os"
	"testing"
	"time"
)

// EnvEndpoint names the variable that holds the etcd client endpoint
// (host:port) for tests.
const EnvEndpoint = "BESTER_TEST_ETCD"

// EnvRequired names the variable that, set to any non-empty value (.ci/run
// sets it), turns a missing etcd into a test failure instead of a skip.
const EnvRequired = "BESTER_TEST_ETCD_REQUIRED"

// Endpoint returns the etcd client endpoint the tests use, after checking
// that something listens there. Without one it skips the test with a
// message that says how to provide it, or fails it where EnvRequired is set.
func Endpoint(t testing.TB) string {
	t.Helper()
	endpoint := os.Getenv(EnvEndpoint)
	if endpoint == "" {
		absent(t, EnvEndpoint+" is not set")
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", endpoint)
	if err != nil {
		absent(t, EnvEndpoint+"="+endpoint+" does not answer: "+err.Error())
		return ""
	}
	conn.Close()
	return endpoint
}

func absent(t testing.TB, why string) {
	t.Helper()
	const how = "; start etcd on loopback and export " + EnvEndpoint + "=127.0.0.1:PORT (in a shell: source .ci/etcd.sh && start_test_etcd, then go test there)"
	if os.Getenv(EnvRequired) != "" {
		t.Fatal("etcd is required here (" + EnvRequired + " is set) but " + why + how)
	}
	t.Skip("no etcd for this test: " + why + how)
}
