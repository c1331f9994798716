// Command natsd runs a NATS server (core NATS, no JetStream) embedded in
// its own process, on a loopback address, for the comparison. It prints
// `listening HOST:PORT` on standard output when it accepts connections,
// and stops on SIGINT or SIGTERM. With -tls-cert and -tls-key it accepts
// TLS clients only. With -cluster and -routes it is one server of a
// cluster joined by routes (NATS's clustering), and says it is listening
// only once it has a route to every server -routes names.
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on (loopback)")
	port := flag.Int("port", -1, "port to listen on (-1: a free one)")
	maxConn := flag.Int("max-connections", 1<<20, "most client connections")
	cert := flag.String("tls-cert", "", "PEM certificate: accept TLS clients only")
	key := flag.String("tls-key", "", "PEM key of -tls-cert")
	cluster := flag.String("cluster", "", "host:port to accept routes from the cluster's other servers on")
	routes := flag.String("routes", "", "with -cluster: the other servers' route URLs, comma-separated (nats://host:port)")
	// Larger than the default 64 MiB: a recipient behind by a whole
	// window must not be cut off as a slow consumer.
	maxPending := flag.Int64("max-pending", 256<<20, "bytes a client may have waiting to be written to it")
	writeDeadline := flag.Duration("write-deadline", server.DEFAULT_FLUSH_DEADLINE, "how long a write to a client may block")
	flag.Parse()
	opts := &server.Options{
		Host: *host, Port: *port, NoLog: true, NoSigs: true, MaxConn: *maxConn,
		MaxPending: *maxPending, WriteDeadline: *writeDeadline,
	}
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			fmt.Fprintln(os.Stderr, "natsd:", err)
			os.Exit(1)
		}
		// The same floor as Bester's listeners; Go prefers TLS 1.3 on both.
		opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		opts.TLSTimeout = 10
	}
	if err := clusterOptions(opts, *cluster, *routes); err != nil {
		fmt.Fprintln(os.Stderr, "natsd:", err)
		os.Exit(1)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsd:", err)
		os.Exit(1)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		fmt.Fprintln(os.Stderr, "natsd: not ready within 10 s")
		os.Exit(1)
	}
	if err := waitRoutes(s, len(opts.Routes), 30*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "natsd:", err)
		os.Exit(1)
	}
	fmt.Println("listening", s.Addr())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	s.Shutdown()
	s.WaitForShutdown()
}

// clusterName is the cluster's name: the same for every server of it.
const clusterName = "bench"

// clusterOptions makes the server one of a cluster that accepts routes on
// listen and dials the routes named, or leaves it alone without listen.
func clusterOptions(opts *server.Options, listen, routes string) error {
	if listen == "" {
		if routes != "" {
			return errors.New("-routes needs -cluster")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("-cluster %q: %w", listen, err)
	}
	opts.Cluster = server.ClusterOpts{Name: clusterName, Host: host}
	if opts.Cluster.Port, err = strconv.Atoi(port); err != nil {
		return fmt.Errorf("-cluster %q: port: %w", listen, err)
	}
	if routes != "" {
		opts.Routes = server.RoutesFromStr(routes)
	}
	return nil
}

// waitRoutes waits until the server has a route to want other servers.
func waitRoutes(s *server.Server, want int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for s.NumRemotes() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("routes to %d of %d servers after %s", s.NumRemotes(), want, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
