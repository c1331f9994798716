package actors

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
	"github.com/bester-project/bester/wire/tlsconf"
)

// peerTLS is a peer's tls block; attrs are its lines, such as `ca = "..."`.
func peerTLS(attrs ...string) string {
	return "  tls {\n    " + strings.Join(attrs, "\n    ") + "\n  }"
}

// A peer link whose TLS files cannot be read fails each attempt with the
// reason, logged at warn level only now and then, and backs off; messages
// for the peer get peer_unavailable, one report each.
func TestPeerTLSFilesUnreadable(t *testing.T) {
	pki := newPKI(t, "federation CA")
	log := &logBuffer{}
	j := startServerWith(t, serverOptions{name: "J", log: log}, fedHandlers()+peerBlock("K", freeAddr(t), fedSecret,
		`  backoff_min = "5ms"`, `  backoff_max = "20ms"`, `  timeout = "500ms"`,
		peerTLS(fmt.Sprintf("ca = %q", pki.Path("ca.crt")))))
	if err := os.Remove(pki.Path("ca.crt")); err != nil { // after the configuration was checked
		t.Fatal(err)
	}
	relaysUnavailable(t, j)

	const reason = "TLS settings: read CA file"
	var st *PeerState
	eventually(t, "the reason in the peer's state", func() bool {
		st = j.peerState("K")
		return strings.Contains(st.LastError, reason)
	})
	if !st.TLS || st.State == stateUp || st.Connects != 0 {
		t.Fatalf("peer state %+v", st)
	}
	// The same failure again and again is a warning the first time and
	// every tenth attempt, a debug line otherwise.
	var failures, warned int
	eventually(t, "30 attempts", func() bool {
		failures, warned = 0, 0
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, "cannot connect to peer") && strings.Contains(line, reason) {
				failures++
				if strings.Contains(line, "[WARN]") {
					warned++
				}
			}
		}
		return failures >= 30
	})
	if warned == 0 || warned > failures/peerLogEvery+2 {
		t.Fatalf("%d of %d failures logged at warn level", warned, failures)
	}
}

// relaysUnavailable sends two messages for G@K from a user of j: each
// gets one report, peer_unavailable, and the user's next message is
// answered as usual.
func relaysUnavailable(t *testing.T, j *testServer) {
	t.Helper()
	tj := j.dial("T", wire.CodecJSON)
	ids := []string{"m1", "m2"}
	for _, id := range ids {
		if err := tj.Send("relay", id, map[string]any{"to": "G@K", "body": id}); err != nil {
			t.Fatal(err)
		}
	}
	collectReports(t, tj, wire.CodePeerUnavailable, ids...)
	echoWorks(t, tj, "h", "after")
}

// A plain peer off loopback is accepted where insecure_plaintext allows
// it, with a warning at start; the state says the link is not TLS.
func TestPeerInsecurePlaintext(t *testing.T) {
	const far = "192.0.2.1:2323" // TEST-NET-1: never answers
	log := &logBuffer{}
	j := startServerWith(t, serverOptions{name: "J", log: log},
		fedHandlers()+peerBlock("K", far, fedSecret, `  insecure_plaintext = true`))
	eventually(t, "the warning", func() bool {
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, "[WARN]") && strings.Contains(line, "INSECURE") &&
				strings.Contains(line, "in clear") && strings.Contains(line, far) {
				return true
			}
		}
		return false
	})
	if st := j.peerState("K"); st.TLS || st.Address != far {
		t.Fatalf("peer state %+v", st)
	}
}

// listenerAt is p.listener on address, for a server that must come back
// on the same one.
func (p *testPKI) listenerAt(address string, lines ...string) string {
	return strings.Replace(p.listener(lines...), `"127.0.0.1:0"`, strconv.Quote(address), 1)
}

// startTLSPair starts K with a TLS listener serving the PKI's loopback
// certificate (listenerTLS: more lines of its tls block) and J, whose peer
// K reaches that listener; peerLines are more lines of J's peer block,
// its tls block among them. K's own peer link to J is plain, over
// loopback. It waits for neither link.
func startTLSPair(t *testing.T, pki *testPKI, logJ io.Writer, listenerTLS []string, peerLines ...string) (j, k *testServer) {
	t.Helper()
	aj := freeAddr(t)
	k = startServerWith(t, serverOptions{name: "K"},
		fedHandlers()+pki.listener(listenerTLS...)+peerBlock("J", aj, fedSecret, fastPeer))
	j = startServerWith(t, serverOptions{name: "J", tcp: aj, log: logJ},
		fedHandlers()+peerBlock("K", k.Addr("tls").String(), fedSecret, peerLines...))
	return j, k
}

// trustK is the tls block of a peer link to K that trusts the PKI's CA
// and expects K's certificate to be for localhost; more are further
// lines of it.
func (p *testPKI) trustK(more ...string) string {
	return peerTLS(append([]string{fmt.Sprintf("ca = %q", p.Path("ca.crt")), `server_name = "localhost"`}, more...)...)
}

// J's peer link to K runs over TLS: it comes up, carries messages, and
// serverInfo says so.
func TestPeerTLSRelay(t *testing.T) {
	pki := newPKI(t, "federation CA")
	logJ := &logBuffer{}
	j, k := startTLSPair(t, pki, logJ, nil, fastPeer, pki.trustK())
	j.waitPeerUp(t, "K")
	k.waitPeerUp(t, "J")
	tj, gk := j.dial("T", wire.CodecJSON), k.dial("G", wire.CodecCBOR)
	relayAcross(t, tj, gk, "T", "J", "G@K", "over-tls")
	relayAcross(t, gk, tj, "G", "K", "T@J", "back-plain")

	var info struct {
		Peers []PeerState `cbor:"peers"`
	}
	if err := j.dialInformer(t, wire.CodecCBOR).Query(wire.InformerServerInfo, nil, &info); err != nil {
		t.Fatal(err)
	}
	want := PeerState{Name: "K", Address: k.Addr("tls").String(), State: stateUp, TLS: true, Connects: 1}
	if len(info.Peers) != 1 || info.Peers[0] != want {
		t.Fatalf("serverInfo peers %+v, want [%+v]", info.Peers, want)
	}
	if !strings.Contains(logJ.String(), `peer is up: peer=K address=`+want.Address+` tls="TLS 1.3"`) {
		t.Fatal("the log does not say the link is up over TLS 1.3")
	}
}

// K's listener requires a client certificate: J's link comes up when it
// presents one, and not without, saying why.
func TestPeerMutualTLS(t *testing.T) {
	pki := newPKI(t, "federation CA")
	pki.user("J")
	requireCert := pki.clientAuth("require", "password")
	t.Run("with a certificate", func(t *testing.T) {
		j, k := startTLSPair(t, pki, nil, requireCert, fastPeer,
			pki.trustK(fmt.Sprintf("cert = %q", pki.Path("J.crt")), fmt.Sprintf("key = %q", pki.Path("J.key"))))
		j.waitPeerUp(t, "K")
		relayAcross(t, j.dial("T", wire.CodecCBOR), k.dial("G", wire.CodecJSON), "T", "J", "G@K", "mutual")
	})
	t.Run("without", func(t *testing.T) {
		j, _ := startTLSPair(t, pki, nil, requireCert, fastPeer, pki.trustK())
		eventually(t, "the reason in the peer's state", func() bool {
			return strings.Contains(j.peerState("K").LastError, "certificate required")
		})
		if st := j.peerState("K"); st.Connects != 0 {
			t.Fatalf("the link came up without a certificate: %+v", st)
		}
	})
}

// A peer whose certificate J does not trust: the link does not come up,
// the log and the state say why, and messages get peer_unavailable, one
// report each. Trusting K's CA in the same file and a SIGHUP bring the
// link up without a restart.
func TestPeerTLSUntrusted(t *testing.T) {
	pki, other := newPKI(t, "federation CA"), newPKI(t, "another CA")
	trusted := pki.Path("j-trusts.crt")
	for _, tc := range []struct {
		name, reason string
		tls          []string
	}{
		{"unknown CA", "x509: certificate signed by unknown authority", []string{fmt.Sprintf("ca = %q", trusted)}},
		{"wrong server name", "x509: certificate is valid for localhost, not k.example.net",
			[]string{fmt.Sprintf("ca = %q", pki.Path("ca.crt")), `server_name = "k.example.net"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pki.Write("j-trusts.crt", other.CA.PEM)
			logJ := &logBuffer{}
			// A backoff of a minute: only the SIGHUP below makes the
			// link try again within the test.
			j, _ := startTLSPair(t, pki, logJ, nil, `  timeout = "1s"`, `  backoff_min = "1m"`, `  backoff_max = "1m"`,
				peerTLS(tc.tls...))
			eventually(t, "the refusal logged", func() bool {
				for _, line := range strings.Split(logJ.String(), "\n") {
					if strings.Contains(line, "[WARN]") && strings.Contains(line, "cannot connect to peer") &&
						strings.Contains(line, "TLS handshake with ") && strings.Contains(line, tc.reason) {
						return true
					}
				}
				return false
			})
			if st := j.peerState("K"); st.State != stateBackoff || st.Connects != 0 || !strings.Contains(st.LastError, tc.reason) {
				t.Fatalf("peer state %+v", st)
			}
			relaysUnavailable(t, j)

			if tc.name == "unknown CA" {
				pki.Write("j-trusts.crt", pki.CA.PEM)
				j.Reload()
				j.waitPeerUp(t, "K")
			}
		})
	}
}

// K stops and starts again on the same address: J's TLS link reconnects
// with its backoff, as a plain one does, and messages flow again.
func TestPeerTLSPeerRestarts(t *testing.T) {
	pki := newPKI(t, "federation CA")
	aj, ak := freeAddr(t), freeAddr(t)
	kConfig := fedHandlers() + pki.listenerAt(ak) + peerBlock("J", aj, fedSecret, fastPeer)
	k := startServerWith(t, serverOptions{name: "K"}, kConfig)
	logJ := &logBuffer{}
	j := startServerWith(t, serverOptions{name: "J", tcp: aj, log: logJ},
		fedHandlers()+peerBlock("K", ak, fedSecret, fastPeer, pki.trustK()))
	j.waitPeerUp(t, "K")
	k.Stop(context.Background())
	eventually(t, "J sees K gone", func() bool { return j.peerState("K").State != stateUp })

	k = startServerWith(t, serverOptions{name: "K"}, kConfig)
	eventually(t, "the link to K back up", func() bool {
		st := j.peerState("K")
		return st.State == stateUp && st.Connects == 2
	})
	if !strings.Contains(logJ.String(), "connection to peer lost, reconnecting") {
		t.Fatal("the lost connection was not logged")
	}
	relayAcross(t, j.dial("T", wire.CodecCBOR), k.dial("G", wire.CodecJSON), "T", "J", "G@K", "after restart")
}

// J sends bursts of four times its peer link's queue to K over TLS, and K
// reads them all: none is refused, since they wait only for the writer.
// Were every TLS write counted as waiting for K, bursts would be cut at
// the queue's 16.
func TestPeerTLSBursts(t *testing.T) {
	pki := newPKI(t, "federation CA")
	j, k := startTLSPair(t, pki, nil, nil, fastPeer, `  queue = 16`, pki.trustK())
	j.waitPeerUp(t, "K")
	tj, received := j.dial("T", wire.CodecCBOR), countDeliveries(k.dial("G", wire.CodecCBOR))
	const bursts, perBurst = 5, 64
	body := strings.Repeat("x", 2000)
	for b := range bursts {
		sendBurst(t, tj, perBurst, func(int) any { return act("route", "route", "K", "to", "G", "body", body) })
		want := int64((b + 1) * perBurst)
		eventually(t, "G gets the burst", func() bool { return received.Load() == want })
	}
}

// countDeliveries counts, in the background until c closes, the
// deliveries c receives; it ignores all else.
func countDeliveries(c *client.Client) *atomic.Int64 {
	n := new(atomic.Int64)
	go func() {
		for {
			in, err := c.Receive()
			if err != nil {
				return
			}
			if in.Kind == wire.MessageTypeReceived {
				n.Add(1)
			}
		}
	}()
	return n
}

// A peer that lets J in over TLS and then reads nothing: once the socket
// takes no more and the link's queue is full, messages for it are refused
// with overloaded, saying why.
func TestPeerTLSNotReading(t *testing.T) {
	pki := newPKI(t, "federation CA")
	pair, err := tlsconf.LoadKeyPair(pki.Path("server.crt"), pki.Path("server.key"))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	addr := fakePeer(t, func(c net.Conn) {
		c.(*net.TCPConn).SetReadBuffer(4096)
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{pair}})
		if _, err := wire.ReadFrame(tc, wire.DefaultMaxFrame, nil); err != nil {
			return
		}
		body, _ := wire.CodecCBOR.Marshal(wire.GoodReport(wire.IDAuth))
		if wire.WriteFrame(tc, body) != nil {
			return
		}
		<-stop // and read no more
	})
	t.Cleanup(func() { close(stop) }) // runs before fakePeer's cleanup
	j := startServerWith(t, serverOptions{name: "J"}, fedHandlers()+
		peerBlock("K", addr, fedSecret, fastPeer, `  queue = 16`, `  timeout = "1m"`, pki.trustK()))
	j.waitPeerUp(t, "K")
	j.setShutdownTimeout(300 * time.Millisecond) // the peer never reports what it took
	tj := j.dial("T", wire.CodecCBOR)
	reports := make(chan *wire.StatusReport, 1)
	go func() {
		if in, err := tj.Receive(); err == nil {
			reports <- in.Report
		}
	}()
	body := strings.Repeat("x", 64<<10)
	for i := 0; ; i++ {
		if i == 5000 {
			t.Fatal("5,000 messages of 64 KiB for a peer that reads nothing, none refused")
		}
		if err := tj.Send("relay", fmt.Sprint("m-", i), map[string]any{"to": "G@K", "body": body}); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-reports:
			wantBad(t, r, wire.CodeOverloaded)
			if !strings.Contains(r.Header.Detail, "peer K is not reading its messages") {
				t.Fatalf("report %+v", r)
			}
			return
		case <-time.After(time.Millisecond):
		}
	}
}
