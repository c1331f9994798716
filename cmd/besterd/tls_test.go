package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
	"github.com/bester-project/bester/wire/tlsconf"
)

// writeServerCert makes a CA and writes, into dir, a certificate of it
// for server J on loopback as server.crt and server.key.
func writeServerCert(t testing.TB, dir string) *tlsconf.CA {
	t.Helper()
	ca, err := tlsconf.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	replaceServerCert(t, dir, ca)
	return ca
}

// replaceServerCert writes a new certificate of ca for server J into dir
// as server.crt and server.key, each renamed into place, and returns its
// serial number.
func replaceServerCert(t testing.TB, dir string, ca *tlsconf.CA) *big.Int {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(tlsconf.LocalServer("J"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"server.key": keyPEM, "server.crt": certPEM} {
		tmp := filepath.Join(dir, name+".new")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := tlsconf.LoadKeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	return cert.Leaf.SerialNumber
}

// tlsConfig trusts the given CAs for the server's TLS listener.
func (s *server) tlsConfig(cas ...*tlsconf.CA) *tls.Config {
	pool := x509.NewCertPool()
	for _, ca := range cas {
		pool.AddCert(ca.Cert)
	}
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// dialTLS logs in on the server's TLS listener as user.
func (s *server) dialTLS(cfg *tls.Config, user string) (*client.Client, *tls.Conn, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: waitLong}, "tcp4", s.tlsAddr, cfg)
	if err != nil {
		return nil, nil, err
	}
	c, err := client.Handshake(context.Background(), conn, client.Options{Codec: wire.CodecCBOR, Username: user, Timeout: waitLong})
	return c, conn, err
}

// SIGHUP gives new TLS connections the certificate in the files now, and
// leaves open ones as they are; the reload's summary line says so.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	s := startServer(t)
	open, _, err := s.dialTLS(s.tlsConfig(s.ca), "G")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()

	next, err := tlsconf.NewCA("next CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	serial := replaceServerCert(t, s.dir, next)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reload is logged", func() bool { return strings.Contains(s.log.String(), "reload: TLS files tls") })
	c, conn, err := s.dialTLS(s.tlsConfig(s.ca, next), "T")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := conn.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(serial) != 0 {
		t.Fatalf("after SIGHUP a new connection got certificate %v, want %v", got, serial)
	}
	if err := open.Send(wire.TypeDummy, "still", nil); err != nil {
		t.Fatal(err)
	}
	if in, err := receive(t, open); err != nil || in.Kind != client.KindDummy {
		t.Fatalf("the connection open before SIGHUP: %v %v", in, err)
	}
}

// BenchmarkIdleConnections measures what an idle connection, logged in,
// costs besterd over plain TCP and over TLS: b.N clients log in and stay
// idle. rss-KiB/conn is how much the server's resident memory grew, which
// includes garbage not yet collected; heap-KiB/conn and stack-KiB/conn are
// what is live after a collection. Run it with a fixed count, as
//
//	go test -run '^$' -bench IdleConnections -benchtime 2000x ./cmd/besterd/
func BenchmarkIdleConnections(b *testing.B) {
	for _, mode := range []string{"plain", "tls"} {
		b.Run(mode, func(b *testing.B) {
			profiler := freeAddr(b)
			s := startServer(b, "-pprof", profiler)
			dial := func(user string) (*client.Client, error) {
				if mode == "plain" {
					return client.Dial(context.Background(), client.Options{Network: "tcp4", Address: s.addr,
						Codec: wire.CodecCBOR, Username: user, Timeout: waitLong})
				}
				c, _, err := s.dialTLS(s.tlsConfig(s.ca), user)
				return c, err
			}
			warm, err := dial("warm") // every path the clients take, once
			if err != nil {
				b.Fatal(err)
			}
			defer warm.Close()
			before := s.memory(profiler)
			conns := make([]*client.Client, b.N)
			var wg sync.WaitGroup
			sem := make(chan struct{}, 32)
			for i := range conns {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					c, err := dial("u" + strconv.Itoa(i))
					if err != nil {
						b.Error(err)
						return
					}
					conns[i] = c
				})
			}
			wg.Wait()
			time.Sleep(2 * time.Second) // let the readers settle into their wait
			after := s.memory(profiler)
			for i, what := range []string{"rss", "heap", "stack"} {
				b.ReportMetric(float64(after[i]-before[i])/float64(b.N)/1024, what+"-KiB/conn")
			}
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
		})
	}
}

// inUse finds the heap and stack memory in use in a heap profile's text.
var inUse = regexp.MustCompile(`# (HeapInuse|Stack) = (\d+)`)

// memory returns the server's resident memory, and its heap and stack
// in use after a collection, in bytes, read from /proc and from its
// profiler.
func (s *server) memory(profiler string) [3]int64 {
	s.t.Helper()
	var m [3]int64
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if fields := strings.Fields(sc.Text()); len(fields) > 1 && fields[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			m[0] = kb << 10
		}
	}
	resp, err := http.Get("http://" + profiler + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, match := range inUse.FindAllStringSubmatch(string(text), -1) {
		n, _ := strconv.ParseInt(match[2], 10, 64)
		if match[1] == "HeapInuse" {
			m[1] = n
		} else {
			m[2] = n
		}
	}
	return m
}
