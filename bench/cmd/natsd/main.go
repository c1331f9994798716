// Command natsd runs a NATS server (core NATS, no JetStream) embedded in
// its own process, on a loopback address, for the comparison. It prints
// `listening HOST:PORT` on standard output when it accepts connections,
// and stops on SIGINT or SIGTERM. With -tls-cert and -tls-key it accepts
// TLS clients only.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"os/signal"
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
	flag.Parse()
	opts := &server.Options{
		Host: *host, Port: *port, NoLog: true, NoSigs: true, MaxConn: *maxConn,
		// Larger than the default 64 MiB: a recipient behind by a whole
		// window must not be cut off as a slow consumer.
		MaxPending: 256 << 20,
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
	fmt.Println("listening", s.Addr())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	s.Shutdown()
	s.WaitForShutdown()
}
