package actors

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// fedSecret is the secret the servers of these tests share.
const fedSecret = "s3cret-of-J-and-K"

// fastPeer makes a peer link reconnect quickly.
const fastPeer = `  backoff_min = "20ms"
  backoff_max = "200ms"`

// fedHandlers are the handlers of every server in these tests: the test
// handler as "h" and the relay example as "relay".
func fedHandlers() string {
	return timedHandler("h", "stream", "cbor", "10s") + `
handler "relay" {
  socket  = "relay.sock"
  command = ["$RELAY"]
}
`
}

// startPair starts J and K, each the other's peer, and waits until both
// peer links are up.
func startPair(t *testing.T) (j, k *testServer) {
	t.Helper()
	return startPairLogged(t, nil, nil)
}

// startPairLogged is startPair that also writes J's log to logJ and K's to
// logK, where they are not nil.
func startPairLogged(t *testing.T, logJ, logK io.Writer) (j, k *testServer) {
	t.Helper()
	aj, ak := freeAddr(t), freeAddr(t)
	j = startServerWith(t, serverOptions{name: "J", tcp: aj, log: logJ}, fedHandlers()+peerBlock("K", ak, fedSecret, fastPeer))
	k = startServerWith(t, serverOptions{name: "K", tcp: ak, log: logK}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer))
	j.waitPeerUp(t, "K")
	k.waitPeerUp(t, "J")
	return j, k
}

// relayAcross sends body from `from` (user sender) to user@server through
// the relay handler and checks the delivery to `to` and the good report.
func relayAcross(t *testing.T, from, to *client.Client, sender, origin, recipient, id string) {
	t.Helper()
	wantGood(t, sendForReport(t, from, "relay", id, map[string]any{"to": recipient, "body": map[string]any{"id": id, "n": 7}}))
	var got struct {
		ID string `cbor:"id" json:"id"`
		N  int64  `cbor:"n" json:"n"`
	}
	in := expectDelivery(t, to, &got)
	if got.ID != id || got.N != 7 {
		t.Fatalf("delivery of %s: %+v", id, got)
	}
	if in.From != (wire.Address{Server: origin, User: sender}) || in.Type != "relay" {
		t.Fatalf("delivery of %s: from %+v, type %q", id, in.From, in.Type)
	}
}

func TestFederationRelay(t *testing.T) {
	j, k := startPair(t)
	for _, codecs := range [][2]wire.Codec{{wire.CodecJSON, wire.CodecCBOR}, {wire.CodecCBOR, wire.CodecJSON}} {
		tj, gk := j.dial("T", codecs[0]), k.dial("G", codecs[1])
		relayAcross(t, tj, gk, "T", "J", "G@K", "j-to-k")
		relayAcross(t, gk, tj, "G", "K", "T@J", "k-to-j")
		relayAcross(t, tj, gk, "T", "J", "G@K", "again")
		tj.Close()
		gk.Close()
	}

	// The informer shows the peer link.
	var info struct {
		Name  string      `cbor:"name"`
		Peers []PeerState `cbor:"peers"`
	}
	if err := j.dialInformer(t, wire.CodecCBOR).Query(wire.InformerServerInfo, nil, &info); err != nil {
		t.Fatal(err)
	}
	want := PeerState{Name: "K", Address: k.Addr("tcp").String(), State: stateUp, Connects: 1}
	if info.Name != "J" || len(info.Peers) != 1 || info.Peers[0] != want {
		t.Fatalf("serverInfo: %+v, want peers [%+v]", info, want)
	}
}

// A handler on a peer receives the message from the peer, on behalf of
// the user who wrote it; its errors reach the original sender with their
// own code.
func TestFederationRemoteErrors(t *testing.T) {
	j, k := startPair(t)
	tj := j.dial("T", wire.CodecJSON)
	k.dial("G", wire.CodecCBOR)

	r := sendForReport(t, tj, "h", "fail", act("route", "route", "K", "then", "fail"))
	wantBad(t, r, wire.CodeHandlerError)
	if !strings.Contains(r.Header.Detail, "peer K") || !slices.Equal(r.Payload.Undelivered, []string{"K"}) {
		t.Fatalf("report %+v", r)
	}

	r = sendForReport(t, tj, "relay", "absent", map[string]any{"to": []string{"G@K", "H@K"}, "body": 1})
	wantBad(t, r, wire.CodeUndelivered)
	if !strings.Contains(r.Header.Detail, "H") || !slices.Equal(r.Payload.Undelivered, []string{"K"}) {
		t.Fatalf("report %+v", r)
	}

	// K's handler sees the message as coming from server J: its echo goes
	// to K's user named J.
	jk := k.dial("J", wire.CodecJSON)
	wantGood(t, sendForReport(t, tj, "h", "echo", act("route", "route", "K", "then", "echo", "tag", "x")))
	var got struct {
		Tag string `json:"tag"`
	}
	in := expectDelivery(t, jk, &got)
	if got.Tag != "x" || in.From != (wire.Address{Server: "J", User: "T"}) {
		t.Fatalf("echo %+v from %+v", got, in.From)
	}
}

func TestFederationChain(t *testing.T) {
	aj, ak, al := freeAddr(t), freeAddr(t), freeAddr(t)
	j := startServerWith(t, serverOptions{name: "J", tcp: aj}, fedHandlers()+peerBlock("K", ak, fedSecret, fastPeer))
	k := startServerWith(t, serverOptions{name: "K", tcp: ak}, fedHandlers()+
		peerBlock("J", aj, fedSecret, fastPeer)+peerBlock("L", al, "s3cret-of-K-and-L", fastPeer))
	l := startServerWith(t, serverOptions{name: "L", tcp: al}, fedHandlers()+peerBlock("K", ak, "s3cret-of-K-and-L", fastPeer))
	j.waitPeerUp(t, "K")
	k.waitPeerUp(t, "L")
	tj, gl := j.dial("T", wire.CodecCBOR), l.dial("G", wire.CodecJSON)

	wantGood(t, sendForReport(t, tj, "h", "chain", act("route", "route", []string{"K", "L"}, "to", "G", "body", "via K")))
	var got string
	in := expectDelivery(t, gl, &got)
	if got != "via K" || in.From != (wire.Address{Server: "J", User: "T"}) {
		t.Fatalf("chain delivery %q from %+v", got, in.From)
	}
	// L's failure travels back along the chain with its code.
	r := sendForReport(t, tj, "h", "chain-fail", act("route", "route", []string{"K", "L"}, "then", "fail"))
	wantBad(t, r, wire.CodeHandlerError)
	if !strings.Contains(r.Header.Detail, "peer K: ") || !strings.Contains(r.Header.Detail, "peer L: ") {
		t.Fatalf("detail %q does not name the chain", r.Header.Detail)
	}
}

// A message bounced between servers is stopped by its hop count.
func TestFederationLoop(t *testing.T) {
	j, _ := startPair(t)
	tj := j.dial("T", wire.CodecJSON)
	var route []string
	for range 6 {
		route = append(route, "K", "J")
	}
	r := sendForReport(t, tj, "h", "loop", act("route", "route", route, "to", "G"))
	wantBad(t, r, wire.CodeLoop)
	echoWorks(t, tj, "h", "after")
}

// sendServers to several peers: in parallel, and the report names the
// peers that failed.
func TestFederationFanout(t *testing.T) {
	aj, ak, al, am := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	j := startServerWith(t, serverOptions{name: "J", tcp: aj}, fedHandlers()+
		peerBlock("K", ak, fedSecret, fastPeer)+peerBlock("L", al, fedSecret, fastPeer)+
		peerBlock("M", am, fedSecret, fastPeer, `  timeout = "1s"`)) // M never runs
	k := startServerWith(t, serverOptions{name: "K", tcp: ak}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer))
	l := startServerWith(t, serverOptions{name: "L", tcp: al}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer))
	j.waitPeerUp(t, "K")
	j.waitPeerUp(t, "L")
	tj := j.dial("T", wire.CodecCBOR)
	gk, gl := k.dial("G", wire.CodecCBOR), l.dial("G", wire.CodecJSON)

	r := sendForReport(t, tj, "h", "fan", act("servers", "peers", []string{"K", "L", "X", "M", "K"}, "to", "G", "body", "all"))
	wantBad(t, r, wire.CodePeerUnavailable)
	if !slices.Equal(r.Payload.Undelivered, []string{"X", "M"}) || !strings.Contains(r.Header.Detail, `no peer named "X"`) {
		t.Fatalf("report %+v", r)
	}
	for _, g := range []*client.Client{gk, gl} {
		var got string
		if expectDelivery(t, g, &got); got != "all" {
			t.Fatalf("delivery %q", got)
		}
	}

	// Both peers' handlers take 1.5 s; in parallel the report comes well
	// before the 3 s one after the other would take. The handler's answer
	// goes to the user called J (the sender, for K and L).
	jk, jl := k.dial("J", wire.CodecCBOR), l.dial("J", wire.CodecCBOR)
	start := time.Now()
	wantGood(t, sendForReport(t, tj, "h", "slow", act("servers", "peers", []string{"K", "L"}, "then", "late", "ms", 1500)))
	if d := time.Since(start); d >= 2900*time.Millisecond {
		t.Fatalf("two peers answered in %s: not in parallel", d)
	}
	expectDelivery(t, jk, nil)
	expectDelivery(t, jl, nil)
}

// tcpProxy forwards TCP connections to target, so that a test can cut a
// connection between two servers as if one had died.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, addr, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.pipe(c)
	}
}

func (p *tcpProxy) pipe(c net.Conn) {
	defer p.wg.Done()
	u, err := net.DialTimeout("tcp", p.target, waitLong)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var inner sync.WaitGroup
	inner.Add(1)
	go func() {
		defer inner.Done()
		io.Copy(u, c)
		c.Close()
		u.Close()
	}()
	io.Copy(c, u)
	c.Close()
	u.Close()
	inner.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// cut closes every connection under way, at once; new ones are accepted.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *tcpProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cut()
	p.wg.Wait()
}

// The peer is not running when J starts: messages wait in the peer link's
// queue and flow once the peer comes up.
func TestFederationPeerDownAtStart(t *testing.T) {
	aj, ak := freeAddr(t), freeAddr(t) // nothing listens on ak yet
	j := startServerWith(t, serverOptions{name: "J", tcp: aj},
		fedHandlers()+peerBlock("K", ak, fedSecret, fastPeer, `  timeout = "1m"`))
	tj := j.dial("T", wire.CodecJSON)
	for i := range 3 {
		if err := tj.Send("relay", fmt.Sprint("q-", i), map[string]any{"to": "G@K", "body": i}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "3 messages queued for K", func() bool {
		st := j.peerState("K")
		return st.Queued == 3 && st.State != stateUp
	})
	var info struct {
		Peers []PeerState `json:"peers"`
	}
	if err := j.dialInformer(t, wire.CodecJSON).Query(wire.InformerServerInfo, nil, &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Peers) != 1 || info.Peers[0].Queued != 3 || info.Peers[0].Connects != 0 {
		t.Fatalf("serverInfo peers %+v", info.Peers)
	}

	// K comes up on ak. (Through a proxy started last, so that G is
	// connected to K before J's link can reach it.)
	k := startServerWith(t, serverOptions{name: "K"}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer))
	gk := k.dial("G", wire.CodecCBOR)
	startProxy(t, ak, k.Addr("tcp").String())
	seen := map[string]bool{}
	for range 3 {
		in := recv(t, tj)
		if in.Report == nil {
			t.Fatalf("want reports, got %s", in.Raw)
		}
		wantGood(t, in.Report)
		seen[in.Report.Payload.ID] = true
	}
	sum := 0
	for range 3 {
		var n int
		expectDelivery(t, gk, &n)
		sum += n
	}
	if len(seen) != 3 || sum != 3 {
		t.Fatalf("reports %v, deliveries sum to %d", seen, sum)
	}
	if st := j.peerState("K"); st.State != stateUp || st.Queued != 0 || st.Connects != 1 {
		t.Fatalf("peer state %+v", st)
	}
}

// The connection to a peer dies with messages in flight: each gets a
// report, and the link comes back by itself.
func TestFederationPeerKilledMidStream(t *testing.T) {
	aj, proxyAddr := freeAddr(t), freeAddr(t)
	log := &logBuffer{}
	k := startServerWith(t, serverOptions{name: "K"}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer))
	proxy := startProxy(t, proxyAddr, k.Addr("tcp").String())
	j := startServerWith(t, serverOptions{name: "J", tcp: aj, log: log},
		fedHandlers()+peerBlock("K", proxyAddr, fedSecret, fastPeer, `  timeout = "1m"`))
	j.waitPeerUp(t, "K")
	tj := j.dial("T", wire.CodecCBOR)
	ids := []string{"a", "b", "c"}
	for _, id := range ids {
		if err := tj.Send("h", id, act("route", "route", "K", "then", "never")); err != nil {
			t.Fatal(err)
		}
	}
	k.waitInFlight(t, "h", 3)                    // the messages reached K's handler
	k.setShutdownTimeout(300 * time.Millisecond) // K's handler never answers them
	proxy.cut()
	collectReports(t, tj, wire.CodePeerUnavailable, ids...)

	eventually(t, "the link to K back up", func() bool {
		st := j.peerState("K")
		return st.State == stateUp && st.Connects == 2
	})
	if !strings.Contains(log.String(), "connection to peer lost, reconnecting") {
		t.Fatal("the lost connection was not logged")
	}
	gk := k.dial("G", wire.CodecJSON)
	relayAcross(t, tj, gk, "T", "J", "G@K", "after")
}

// Each server has a different secret for the other: both refuse, both
// say so in their logs, and senders get unauthorized.
func TestFederationWrongSecret(t *testing.T) {
	aj, ak := freeAddr(t), freeAddr(t)
	logJ, logK := &logBuffer{}, &logBuffer{}
	j := startServerWith(t, serverOptions{name: "J", tcp: aj, log: logJ}, fedHandlers()+peerBlock("K", ak, "secret-one", fastPeer))
	k := startServerWith(t, serverOptions{name: "K", tcp: ak, log: logK}, fedHandlers()+peerBlock("J", aj, "secret-two", fastPeer))
	for _, l := range []*logBuffer{logJ, logK} {
		eventually(t, "refusals logged", func() bool {
			s := l.String()
			return strings.Contains(s, "refused our credentials") && strings.Contains(s, "peer server refused: wrong secret")
		})
	}
	if strings.Contains(logJ.String(), "secret-") || strings.Contains(logK.String(), "secret-") {
		t.Fatal("a secret is in the log")
	}
	for _, tc := range []struct {
		ts   *testServer
		peer string
	}{{j, "K"}, {k, "J"}} {
		c := tc.ts.dial("T", wire.CodecJSON)
		r := sendForReport(t, c, "h", "refused", act("servers", "peers", tc.peer, "to", "G"))
		wantBad(t, r, wire.CodeUnauthorized)
	}
	if j.peerState("K").Connects != 0 || k.peerState("J").Connects != 0 {
		t.Fatal("a link came up with the wrong secret")
	}
}

// fakePeer listens on loopback and runs serve on each connection.
func fakePeer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// A peer that accepts connections but never answers: messages time out
// with peer_unavailable, whether it is silent at once or after letting us
// in.
func TestFederationPeerNeverAnswers(t *testing.T) {
	silent := func(c net.Conn) {
		for {
			if _, err := wire.ReadFrame(c, wire.DefaultMaxFrame, nil); err != nil {
				return
			}
		}
	}
	authOnly := func(c net.Conn) {
		if _, err := wire.ReadFrame(c, wire.DefaultMaxFrame, nil); err != nil {
			return
		}
		body, _ := wire.CodecCBOR.Marshal(wire.GoodReport(wire.IDAuth))
		if wire.WriteFrame(c, body) != nil {
			return
		}
		silent(c)
	}
	for _, tc := range []struct {
		name   string
		serve  func(net.Conn)
		detail string
	}{
		{"silent", silent, "could not be reached"},
		{"silent after auth", authOnly, "did not report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakePeer(t, tc.serve)
			j := startServerWith(t, serverOptions{name: "J"}, fedHandlers()+peerBlock("K", addr, fedSecret, fastPeer, `  timeout = "700ms"`))
			if tc.name == "silent after auth" {
				j.waitPeerUp(t, "K")
			}
			tj := j.dial("T", wire.CodecJSON)
			r := sendForReport(t, tj, "relay", "m", map[string]any{"to": "G@K", "body": 1})
			wantBad(t, r, wire.CodePeerUnavailable)
			if !strings.Contains(r.Header.Detail, tc.detail) {
				t.Fatalf("detail %q, want %q", r.Header.Detail, tc.detail)
			}
			echoWorks(t, tj, "h", "after")
		})
	}
}

// While the peer is away its queue fills; one message more is refused with
// overloaded, and the queued ones time out.
func TestFederationQueueFull(t *testing.T) {
	j := startServerWith(t, serverOptions{name: "J"}, fedHandlers()+
		peerBlock("K", freeAddr(t), fedSecret, fastPeer, `  queue = 2`, `  timeout = "2s"`))
	tj := j.dial("T", wire.CodecJSON)
	for _, id := range []string{"q1", "q2"} {
		if err := tj.Send("relay", id, map[string]any{"to": "G@K", "body": id}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "2 queued", func() bool { return j.peerState("K").Queued == 2 })
	wantBad(t, sendForReport(t, tj, "relay", "q3", map[string]any{"to": "G@K", "body": "q3"}), wire.CodeOverloaded)
	collectReports(t, tj, wire.CodePeerUnavailable, "q1", "q2")
	if st := j.peerState("K"); st.Queued != 0 || st.InFlight != 0 {
		t.Fatalf("peer state after expiry %+v", st)
	}
}

// Both servers stop and start again on the same addresses: the links come
// back and messages flow.
func TestFederationBothRestarted(t *testing.T) {
	aj, ak := freeAddr(t), freeAddr(t)
	for round := range 2 {
		j := startServerWith(t, serverOptions{name: "J", tcp: aj}, fedHandlers()+peerBlock("K", ak, fedSecret, fastPeer))
		k := startServerWith(t, serverOptions{name: "K", tcp: ak}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer))
		j.waitPeerUp(t, "K")
		k.waitPeerUp(t, "J")
		tj, gk := j.dial("T", wire.CodecCBOR), k.dial("G", wire.CodecJSON)
		relayAcross(t, tj, gk, "T", "J", "G@K", fmt.Sprint("round-", round))
		relayAcross(t, gk, tj, "G", "K", "T@J", fmt.Sprint("back-", round))
		tj.Close()
		gk.Close()
		j.Stop(context.Background())
		k.Stop(context.Background())
	}
}

// A server that stops fails what waits for a peer with shutting_down.
func TestFederationShutdownWithMessagesAtPeer(t *testing.T) {
	j, k := startPair(t)
	tj := j.dial("T", wire.CodecCBOR)
	if err := tj.Send("h", "held", act("route", "route", "K", "then", "never")); err != nil {
		t.Fatal(err)
	}
	k.waitInFlight(t, "h", 1)
	k.setShutdownTimeout(300 * time.Millisecond) // K's handler never answers it
	j.setShutdownTimeout(300 * time.Millisecond)
	done := j.stopAsync(context.Background())
	collectReports(t, tj, wire.CodeShuttingDown, "held")
	recvEnd(t, tj)
	waitStopped(t, done)
}

// serverHello is the first message of a peer server: scope server and
// credentials.
func serverHello(name, secret string) map[string]any {
	return map[string]any{"header": map[string]any{"scope": "server",
		"authentication": map[string]any{"username": name, "password": secret}}}
}

// serverMsg is a later message of a peer server.
func serverMsg(typ, id string, origin map[string]any, hops int, data any) map[string]any {
	h := map[string]any{}
	if origin != nil {
		h["origin"] = origin
	}
	if hops != 0 {
		h["hops"] = hops
	}
	return map[string]any{"header": h, "payload": map[string]any{"type": typ, "id": id, "data": data}}
}

// Incoming connections with scope server, as protocol §6 has them.
func TestFederationIncomingServerScope(t *testing.T) {
	log := &logBuffer{}
	k := startServerWith(t, serverOptions{name: "K", log: log}, fedHandlers()+peerBlock("J", freeAddr(t), fedSecret, fastPeer))
	for _, tc := range []struct {
		name, logged string
		hello        map[string]any
	}{
		{"no authentication", "no authentication", map[string]any{"header": map[string]any{"scope": "server"},
			"payload": map[string]any{"type": "relay", "id": "x", "data": map[string]any{"to": "G"}}}},
		{"unknown peer", "unknown peer", serverHello("X", fedSecret)},
		{"wrong secret", "wrong secret", serverHello("J", fedSecret+"!")},
		{"empty secret", "wrong secret", serverHello("J", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
				r := k.dialRawTo(t, "tcp", k.Addr("tcp").String(), codec)
				r.send(tc.hello)
				r.wantUnauthorized()
			}
			if !strings.Contains(log.String(), "peer server refused: "+tc.logged) {
				t.Fatalf("no log line for %s", tc.name)
			}
		})
	}

	g := k.dial("G", wire.CodecJSON)
	for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
		r := k.dialRawTo(t, "tcp", k.Addr("tcp").String(), codec)
		r.send(serverHello("J", fedSecret))
		wantGood(t, r.expectReport(wire.IDAuth))
		origin := map[string]any{"server": "J", "user": "T"}

		r.send(serverMsg("relay", "no-origin", nil, 0, map[string]any{"to": "G", "body": 1}))
		wantBad(t, r.expectReport("no-origin"), wire.CodeBadMessage)

		r.send(serverMsg("relay", "ok", origin, 3, map[string]any{"to": []string{"G@K", "H@L"}, "body": "hi"}))
		wantGood(t, r.expectReport("ok"))
		var got string
		if in := expectDelivery(t, g, &got); got != "hi" || in.From != (wire.Address{Server: "J", User: "T"}) {
			t.Fatalf("delivery %q from %+v", got, in.From)
		}

		r.send(serverMsg("relay", "last-hop", origin, maxHops, map[string]any{"to": "G", "body": 2}))
		wantGood(t, r.expectReport("last-hop"))
		expectDelivery(t, g, nil)
		r.send(serverMsg("relay", "too-far", origin, maxHops+1, map[string]any{"to": "G", "body": 3}))
		wantBad(t, r.expectReport("too-far"), wire.CodeLoop)
		r.send(serverMsg("nosuch", "unknown", origin, 0, nil))
		wantBad(t, r.expectReport("unknown"), wire.CodeUnknownType)
	}
	if n := k.registry.count(); n != 1 {
		t.Fatalf("%d connections in the registry; peers must not be there", n)
	}
	if !slices.Equal(k.registry.names(), []string{"G"}) {
		t.Fatalf("registry %v", k.registry.names())
	}
}

// Original-style peers (one unauthenticated message per connection) are
// refused by default and served where allow_legacy_peers is set; handlers
// may name peers by address only where allow_unnamed_peers is set.
func TestFederationLegacyAndUnnamedPeers(t *testing.T) {
	k := startServerWith(t, serverOptions{name: "K", server: "allow_legacy_peers = true"}, fedHandlers())
	g := k.dial("G", wire.CodecCBOR)
	r := k.dialRawTo(t, "tcp", k.Addr("tcp").String(), wire.CodecJSON)
	r.send(map[string]any{"header": map[string]any{"scope": "server", "origin": map[string]any{"server": "old", "user": "T"}},
		"payload": map[string]any{"type": "relay", "id": "legacy", "data": map[string]any{"to": "G", "body": "old style"}}})
	wantGood(t, r.expectReport("legacy"))
	r.expectClosed()
	var got string
	if in := expectDelivery(t, g, &got); got != "old style" || in.From != (wire.Address{Server: "old", User: "T"}) {
		t.Fatalf("legacy delivery %q from %+v", got, in.From)
	}

	kAddr := k.Addr("tcp").String()
	strict := startServerWith(t, serverOptions{name: "J"}, fedHandlers())
	ts := strict.dial("T", wire.CodecJSON)
	rep := sendForReport(t, ts, "h", "unnamed", act("servers", "peers", kAddr, "to", "G", "body", "x"))
	wantBad(t, rep, wire.CodePeerUnavailable)
	if !strings.Contains(rep.Header.Detail, "allow_unnamed_peers") {
		t.Fatalf("detail %q", rep.Header.Detail)
	}

	open := startServerWith(t, serverOptions{name: "O", server: "allow_unnamed_peers = true"}, fedHandlers())
	to := open.dial("T", wire.CodecCBOR)
	wantGood(t, sendForReport(t, to, "h", "unnamed", act("servers", "peers", kAddr, "to", "G", "body", "by address")))
	if in := expectDelivery(t, g, &got); got != "by address" || in.From != (wire.Address{Server: "O", User: "T"}) {
		t.Fatalf("unnamed delivery %q from %+v", got, in.From)
	}
	// A server that does not take original-style messages refuses them.
	rep = sendForReport(t, to, "h", "refused", act("servers", "peers", strict.Addr("tcp").String(), "to", "G"))
	wantBad(t, rep, wire.CodeUnauthorized)
}

// A peer that lets us in and hangs up at once: messages still get their
// reports, the link keeps trying with a growing backoff, and the log does
// not repeat the same warning at every attempt.
func TestFederationPeerDropsAtOnce(t *testing.T) {
	var accepted sync.WaitGroup
	const drops = 6
	accepted.Add(drops)
	var count sync.Mutex
	n := 0
	addr := fakePeer(t, func(c net.Conn) {
		defer c.Close()
		if _, err := wire.ReadFrame(c, wire.DefaultMaxFrame, nil); err != nil {
			return
		}
		body, _ := wire.CodecCBOR.Marshal(wire.GoodReport(wire.IDAuth))
		wire.WriteFrame(c, body)
		count.Lock()
		if n++; n <= drops {
			accepted.Done()
		}
		count.Unlock()
	})
	log := &logBuffer{}
	j := startServerWith(t, serverOptions{name: "J", log: log}, fedHandlers()+
		peerBlock("K", addr, fedSecret, `  backoff_min = "5ms"`, `  backoff_max = "1m"`, `  timeout = "1s"`))
	tj := j.dial("T", wire.CodecJSON)
	wantBad(t, sendForReport(t, tj, "relay", "m", map[string]any{"to": "G@K", "body": 1}), wire.CodePeerUnavailable)
	accepted.Wait()
	warned := 0
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "[WARN]") && strings.Contains(line, "connection to peer lost") {
			warned++
		}
	}
	if warned != 1 {
		t.Fatalf("%d warnings for %d dropped connections, want 1", warned, drops)
	}
}

// A link that speaks JSON: data is converted on the way and keeps its kinds.
func TestFederationJSONLink(t *testing.T) {
	aj, ak := freeAddr(t), freeAddr(t)
	j := startServerWith(t, serverOptions{name: "J", tcp: aj}, fedHandlers()+peerBlock("K", ak, fedSecret, fastPeer, `  codec = "json"`))
	k := startServerWith(t, serverOptions{name: "K", tcp: ak}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer, `  codec = "json"`))
	j.waitPeerUp(t, "K")
	k.waitPeerUp(t, "J")
	tj, gk := j.dial("T", wire.CodecCBOR), k.dial("G", wire.CodecCBOR)
	want := body{N: -7, Big: 18446744073709551615, Text: "hallo wêreld", List: []string{"a"}}
	wantGood(t, sendForReport(t, tj, "relay", "m", map[string]any{"to": "G@K", "body": want}))
	var got body
	if expectDelivery(t, gk, &got); got.N != want.N || got.Big != want.Big || got.Text != want.Text || len(got.List) != 1 {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// A CBOR byte string has no JSON form: the link refuses it.
	r := sendForReport(t, tj, "relay", "bytes", map[string]any{"to": "G@K", "body": []byte{0xde, 0xad}})
	wantBad(t, r, wire.CodeBadMessage)
	if !slices.Equal(r.Payload.Undelivered, []string{"K"}) {
		t.Fatalf("report %+v", r)
	}
}

// TestFanoutBackstop: a sendServers whose peer link never answers (here:
// it is gone) still gets the sender a report, once the backstop passes.
func TestFanoutBackstop(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor")+peerBlock("K", freeAddr(t), "s", `timeout = "200ms"`))
	ts.sys.Root.PoisonFuture(ts.peers.Load().byName["K"]).Wait()
	c := ts.dial("T", wire.CodecCBOR)
	r := sendForReport(t, c, "h", "gone", act("servers", "peers", []string{"K"}, "to", "G"))
	wantBad(t, r, wire.CodePeerUnavailable)
	if !strings.Contains(r.Header.Detail, "no result from the link to peer K") || len(r.Payload.Undelivered) != 1 {
		t.Fatalf("report %+v does not come from the backstop", r)
	}
}

// Handlers on two servers bounce 300 messages back and forth at once with
// sendServers. Every one ends in loop at the hop limit, quickly: a peer
// connection's in-flight slots are not held while its messages wait on
// the link back. Meanwhile other traffic between the two servers flows,
// and nothing bounced is delivered.
func TestFederationBounceStorm(t *testing.T) {
	const storm = 300
	const bound = 10 * time.Second // the jam this guards against lasted 15 s
	logJ, logK := &logBuffer{}, &logBuffer{}
	j, k := startPairLogged(t, logJ, logK)
	tj, uj := j.dial("T", wire.CodecCBOR), j.dial("U", wire.CodecJSON)
	gk, hk := k.dial("G", wire.CodecCBOR), k.dial("H", wire.CodecJSON)
	var route []string
	for range maxHops {
		route = append(route, "K", "J")
	}
	start := time.Now()
	ids := make([]string, storm)
	for i := range ids {
		ids[i] = fmt.Sprint("bounce-", i)
		if err := tj.Send("h", ids[i], act("route", "route", route, "to", "G")); err != nil {
			t.Fatal(err)
		}
	}

	// Unrelated messages between the same servers, one after the other
	// while the storm goes on.
	for i := range 20 {
		relayAcross(t, uj, hk, "U", "J", "H@K", fmt.Sprint("unrelated-", i))
		time.Sleep(50 * time.Millisecond)
	}

	collectReports(t, tj, wire.CodeLoop, ids...)
	d := time.Since(start)
	if d > bound {
		t.Fatalf("the storm took %s to be reported", d)
	}
	t.Logf("%d bounced messages reported in %s", storm, d)
	// Nothing bounced reached G: the first delivery G gets is this one.
	relayAcross(t, uj, gk, "U", "J", "G@K", "marker")
	for _, l := range []*logBuffer{logJ, logK} {
		if strings.Contains(l.String(), "not in flight") {
			t.Fatal("a peer connection was told of a message's end twice")
		}
	}
}

// A peer link holds at most max_in_flight messages awaiting their
// reports; one more is refused with overloaded, and the rest go on.
func TestFederationPeerInFlightFull(t *testing.T) {
	aj, ak := freeAddr(t), freeAddr(t)
	j := startServerWith(t, serverOptions{name: "J", tcp: aj},
		fedHandlers()+peerBlock("K", ak, fedSecret, fastPeer, `  max_in_flight = 2`))
	k := startServerWith(t, serverOptions{name: "K", tcp: ak}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer))
	j.waitPeerUp(t, "K")
	tj := j.dial("T", wire.CodecCBOR)
	jk := k.dial("J", wire.CodecCBOR) // the late echoes go to the sender: server J
	for _, id := range []string{"held-1", "held-2"} {
		if err := tj.Send("h", id, act("route", "route", "K", "then", "late", "ms", 1000)); err != nil {
			t.Fatal(err)
		}
	}
	k.waitInFlight(t, "h", 2)
	r := sendForReport(t, tj, "h", "one-more", act("route", "route", "K", "then", "late", "ms", 1000))
	wantBad(t, r, wire.CodeOverloaded)
	if !strings.Contains(r.Header.Detail, "max_in_flight") || !slices.Equal(r.Payload.Undelivered, []string{"K"}) {
		t.Fatalf("report %+v", r)
	}
	collectReports(t, tj, "", "held-1", "held-2")
	expectDelivery(t, jk, nil)
	expectDelivery(t, jk, nil)
	if st := j.peerState("K"); st.InFlight != 0 {
		t.Fatalf("peer state %+v", st)
	}
}

// A handler answers whoever wrote a message from its request's origin
// alone: T on J writes to J's handler, which passes the message to K; K's
// handler sends it back to origin.server, and J's handler, told by a peer
// (from K), delivers it to origin.user. A sendHandler hop keeps the
// origin too. Both handler codecs.
func TestFederationReplyToOrigin(t *testing.T) {
	handlers := fedHandlers() + timedHandler("hj", "stream", "json", "10s")
	aj, ak := freeAddr(t), freeAddr(t)
	j := startServerWith(t, serverOptions{name: "J", tcp: aj}, handlers+peerBlock("K", ak, fedSecret, fastPeer))
	k := startServerWith(t, serverOptions{name: "K", tcp: ak}, handlers+peerBlock("J", aj, fedSecret, fastPeer))
	j.waitPeerUp(t, "K")
	k.waitPeerUp(t, "J")
	tj := j.dial("T", wire.CodecJSON)
	k.dial("T", wire.CodecCBOR) // a namesake on K, who must not get the answer
	for _, typ := range []string{"h", "hj"} {
		id := "via-K-" + typ
		if err := tj.Send(typ, id, act("servers", "peers", []string{"K"}, "then", "reply", "tag", id)); err != nil {
			t.Fatal(err)
		}
		expectAnswerAndReport(t, tj, typ, id)

		id = "via-h-" + typ
		if err := tj.Send(typ, id, act("forward", "next", typ, "then", "toorigin", "tag", id)); err != nil {
			t.Fatal(err)
		}
		expectAnswerAndReport(t, tj, typ, id)
	}
}

// taggedAct is the part of a test handler's data these tests check.
type taggedAct struct {
	Act string `cbor:"act" json:"act"`
	Tag string `cbor:"tag" json:"tag"`
}

// expectAnswerAndReport waits for both the delivery to T@J tagged id and
// the good report of id, in whichever order they come.
func expectAnswerAndReport(t *testing.T, c *client.Client, typ, id string) {
	t.Helper()
	var delivered, reported bool
	for !delivered || !reported {
		in := recv(t, c)
		switch in.Kind {
		case wire.MessageTypeStatusReport:
			if in.Report.Payload.ID != id {
				t.Fatalf("report of %q while waiting for %q", in.Report.Payload.ID, id)
			}
			wantGood(t, in.Report)
			reported = true
		case wire.MessageTypeReceived:
			var got taggedAct
			if err := in.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got != (taggedAct{Act: "toorigin", Tag: id}) || in.From != (wire.Address{Server: "J", User: "T"}) || in.Type != typ {
				t.Fatalf("delivery %+v from %+v of type %q while waiting for %q", got, in.From, in.Type, id)
			}
			delivered = true
		default:
			t.Fatalf("unexpected %s %s", in.Kind, in.Raw)
		}
	}
}
