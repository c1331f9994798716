//go:build !race

package actors

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/ipc"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
	"github.com/bester-project/bester/wire/tlsconf"
)

// Three members, each with the relay handler: a client of one reaches the
// users of the others by their plain names, across codecs; a user
// connected nowhere is listed undelivered, exactly; a user connected to
// two members gets the message on both. The informer answers for the
// whole cluster, and /metrics counts the batches.
func TestClusterRelayAcrossMembers(t *testing.T) {
	servers := startCluster(t, staticCluster(t, 3), relayBlock+monitorBlock(""))
	a, b, c := servers[0], servers[1], servers[2]
	sender := a.dial("T", wire.CodecJSON)
	g := c.dial("G", wire.CodecCBOR)

	wantGood(t, sendForReport(t, sender, "relay", "m-1", map[string]any{"to": "G", "body": "hi"}))
	var got string
	in := expectDelivery(t, g, &got)
	if got != "hi" || in.From != (wire.Address{Server: "J", User: "T"}) || in.Type != "relay" {
		t.Fatalf("G got %q from %+v type %q", got, in.From, in.Type)
	}

	r := sendForReport(t, sender, "relay", "m-2", map[string]any{"to": []string{"G", "nobody"}, "body": "hi"})
	wantBad(t, r, wire.CodeUndelivered)
	if !slices.Equal(r.Payload.Undelivered, []string{"nobody"}) {
		t.Fatalf("undelivered %v, want [nobody]", r.Payload.Undelivered)
	}
	expectDelivery(t, g, &got)

	h1, h2 := b.dial("H", wire.CodecJSON), c.dial("H", wire.CodecCBOR)
	wantGood(t, sendForReport(t, sender, "relay", "m-3", map[string]any{"to": "H", "body": "both"}))
	for _, h := range []*client.Client{h1, h2} {
		expectDelivery(t, h, &got)
		if got != "both" {
			t.Fatalf("H got %q", got)
		}
	}

	// A user of the sender's own member who is connected to another
	// member too gets the message on both as well.
	k1, k2 := a.dial("K", wire.CodecJSON), c.dial("K", wire.CodecCBOR)
	wantGood(t, sendForReport(t, sender, "relay", "m-4", map[string]any{"to": "K", "body": "home"}))
	for _, k := range []*client.Client{k1, k2} {
		expectDelivery(t, k, &got)
		if got != "home" {
			t.Fatalf("K got %q", got)
		}
	}

	// The informer of any member answers for the whole cluster, and
	// serverInfo lists the members.
	inf, err := ipc.DialInformer(filepath.Join(b.dir, "informer.sock"), wire.CodecJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer inf.Close()
	users, err := inf.ListClients()
	if err != nil || !slices.Equal(users, []string{"G", "H", "K", "T"}) {
		t.Fatalf("listClients: %v %v, want [G H K T]", users, err)
	}
	if on, err := inf.IsClient("T"); err != nil || !on {
		t.Fatalf("isClient T (on another member): %v %v", on, err)
	}
	if on, err := inf.IsClient("nobody"); err != nil || on {
		t.Fatalf("isClient nobody: %v %v", on, err)
	}
	info, err := inf.ServerInfo()
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := info["cluster"].(map[string]any)
	members, _ := cl["members"].([]any)
	if cl["member"] != b.cluster.member.ID() || len(members) != 3 {
		t.Fatalf("serverInfo's cluster: %v", info["cluster"])
	}

	// The every-member directory locates each user at both other
	// members: each message went to both, one batch each, and each was
	// acknowledged.
	s := a.scrapeMetrics()
	s.wantValue(t, 8, "bester_cluster_batches_sent_total")
	s.wantValue(t, 0, "bester_cluster_batches_failed_total", "code=peer_unavailable")
	for _, other := range []*testServer{b, c} {
		id := "member=" + other.cluster.member.ID()
		s.wantValue(t, 1, "bester_cluster_member_up", id)
		s.wantValue(t, 4, "bester_cluster_member_round_trip_seconds", id)
		// The link publishes it once it has passed the last ack on.
		a.eventuallyValue(t, 0, "bester_cluster_member_unacked_batches", id)
	}
}

// Members whose cluster block has a tls block read their certificate and
// CA files and deliver to each other over mutual TLS.
func TestClusterOverMutualTLS(t *testing.T) {
	ca, err := tlsconf.NewCA("cluster test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	blocks := staticCluster(t, 2)
	for i, c := range blocks {
		cert, key, err := ca.Issue(tlsconf.LocalServer("member-" + strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		c.TLS = &config.ClusterTLS{CA: caFile, Cert: filepath.Join(dir, strconv.Itoa(i)+".crt"), Key: filepath.Join(dir, strconv.Itoa(i)+".key")}
		for path, data := range map[string][]byte{c.TLS.Cert: cert, c.TLS.Key: key} {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	servers := startCluster(t, blocks, relayBlock)
	sender, g := servers[0].dial("T", wire.CodecCBOR), servers[1].dial("G", wire.CodecJSON)
	wantGood(t, sendForReport(t, sender, "relay", "m-1", map[string]any{"to": "G", "body": "over tls"}))
	var got string
	if expectDelivery(t, g, &got); got != "over tls" {
		t.Fatalf("G got %q", got)
	}
}

// A member stops (Server.Stop) while a client of another sends to a user
// connected there: every message gets exactly one report (good, or bad
// undelivered or peer_unavailable), and once the user reconnects to a
// member still running, it is reachable again.
func TestClusterMemberStopsWhileSending(t *testing.T) {
	servers := startCluster(t, staticCluster(t, 3), relayBlock)
	a, b, c := servers[0], servers[1], servers[2]
	sender := a.dial("T", wire.CodecCBOR)
	g := c.dial("G", wire.CodecJSON)
	go func() { // G reads until its member closes the connection
		for {
			if _, err := g.Receive(); err != nil {
				return
			}
		}
	}()

	const n = 200
	sendErr := make(chan error, 1)
	go func() {
		for i := range n {
			if err := sender.Send("relay", strconv.Itoa(i), map[string]any{"to": "G", "body": i}); err != nil {
				sendErr <- err
				return
			}
			if i == n/4 {
				go c.Stop(context.Background())
			}
			time.Sleep(time.Millisecond)
		}
		sendErr <- nil
	}()
	reports := map[string]wire.ErrorCode{}
	for len(reports) < n {
		r := recv(t, sender).Report
		if r == nil {
			t.Fatal("the sender got something other than a report")
		}
		if _, twice := reports[r.Payload.ID]; twice {
			t.Fatalf("two reports for message %s", r.Payload.ID)
		}
		code := r.Header.Error
		if r.Header.Status == wire.StatusGood {
			code = "good"
		} else if code != wire.CodeUndelivered && code != wire.CodePeerUnavailable {
			t.Fatalf("message %s: bad %s: %s", r.Payload.ID, code, r.Header.Detail)
		}
		reports[r.Payload.ID] = code
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	counts := map[wire.ErrorCode]int{}
	for _, code := range reports {
		counts[code]++
	}
	t.Logf("reports: %v", counts)

	waitMembers(t, servers[:2], 2)
	g2 := b.dial("G", wire.CodecCBOR)
	wantGood(t, sendForReport(t, sender, "relay", "after", map[string]any{"to": "G", "body": "back"}))
	var got string
	expectDelivery(t, g2, &got)
	if got != "back" {
		t.Fatalf("G got %q", got)
	}
}

// With a window of one batch, a member that does not acknowledge (its
// inbox stopped) makes the next delivery to it overloaded at once, not
// queued; the one waiting is reported peer_unavailable at its timeout.
// The informer's listClients leaves that member's users out, and the log
// says so.
func TestClusterWindowFullIsOverloaded(t *testing.T) {
	blocks := staticCluster(t, 2)
	for _, c := range blocks {
		c.DeliveryWindow, c.DeliveryTimeout = 1, 3*time.Second
	}
	log := &logBuffer{}
	servers := startClusterLogged(t, blocks, relayBlock+monitorBlock(""), log)
	a, c := servers[0], servers[1]
	sender := a.dial("T", wire.CodecJSON)
	c.dial("G", wire.CodecJSON)
	c.sys.Root.PoisonFuture(c.cluster.inbox).Wait()

	// The handler may answer the two in either order (it has several
	// connections): whichever comes second finds the window full.
	for _, id := range []string{"first", "second"} {
		if err := sender.Send("relay", id, map[string]any{"to": "G", "body": id}); err != nil {
			t.Fatal(err)
		}
	}
	r := recv(t, sender).Report
	wantBad(t, r, wire.CodeOverloaded)
	if !slices.Equal(r.Payload.Undelivered, []string{"G"}) {
		t.Fatalf("undelivered %v, want [G]", r.Payload.Undelivered)
	}
	other := map[string]string{"first": "second", "second": "first"}[r.Payload.ID]
	wantBad(t, expectReport(t, sender, other), wire.CodePeerUnavailable)
	s := a.scrapeMetrics()
	s.wantValue(t, 1, "bester_cluster_batches_failed_total", "code=overloaded")
	s.wantValue(t, 1, "bester_cluster_batches_failed_total", "code=peer_unavailable")

	inf, err := ipc.DialInformer(filepath.Join(a.dir, "informer.sock"), wire.CodecCBOR)
	if err != nil {
		t.Fatal(err)
	}
	defer inf.Close()
	if users, err := inf.ListClients(); err != nil || !slices.Equal(users, []string{"T"}) {
		t.Fatalf("listClients: %v %v, want [T]", users, err)
	}
	if want := "member=" + c.cluster.member.ID(); !strings.Contains(log.String(), "did not list its users in time") ||
		!strings.Contains(log.String(), want) {
		t.Fatalf("the log does not say that %s did not answer", want)
	}
}

// The cluster block needs a restart: a reload whose file has another one
// (here none, which a member's file never means by accident) is refused
// and the server stays a member.
func TestClusterBlockChangeNeedsRestart(t *testing.T) {
	log := &logBuffer{}
	r := &reloadable{startServerWith(t, serverOptions{log: log, cluster: staticCluster(t, 1)[0]}, reloadBase()), log}
	r.rejected("", reloadBase(), "changing the cluster block needs a restart")
	if r.cfg().Cluster == nil {
		t.Fatal("the configuration in effect lost its cluster block")
	}
}

// A member that cannot join (its static health port is taken) fails
// Start with an error that says it was joining the cluster.
func TestClusterJoinFailureFailsStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	block := staticCluster(t, 1)[0]
	block.Static.HealthPort = taken.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	cfg, err := config.Load(writeConfig(t, dir, serverOptions{name: "J", tcp: "127.0.0.1:0"}, relayBlock))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cluster = block
	srv, err := New(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Start()
	if err == nil {
		srv.Stop(context.Background())
		t.Fatal("Start succeeded with the health port taken")
	}
	if !strings.Contains(err.Error(), `joining cluster "test"`) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("error: %v", err)
	}
}

// A member delivery is never passed on, so it is not a hop: a message a
// peer sends at the last hop reaches a user on the member it arrived at
// and a user on another member, and its report is good, as on a single
// server (federation's "last-hop"), not loop after the local delivery.
func TestClusterLastHopIsDelivered(t *testing.T) {
	peer := peerBlock("P", freeAddr(t), fedSecret, fastPeer)
	servers := startCluster(t, staticCluster(t, 2), relayBlock+peer)
	a, b := servers[0], servers[1]
	g, h := a.dial("G", wire.CodecJSON), b.dial("H", wire.CodecCBOR)
	r := a.dialRawTo(t, "tcp", a.Addr("tcp").String(), wire.CodecJSON)
	r.send(serverHello("P", fedSecret))
	wantGood(t, r.expectReport(wire.IDAuth))
	origin := map[string]any{"server": "P", "user": "T"}
	for _, to := range []string{"G", "H"} {
		r.send(serverMsg("relay", "last-hop-"+to, origin, maxHops, map[string]any{"to": to, "body": to}))
		wantGood(t, r.expectReport("last-hop-"+to))
	}
	var got string
	for _, c := range []*client.Client{g, h} {
		expectDelivery(t, c, &got)
	}
}

// Large messages cross members: several handler outputs near max_frame
// (1 MiB), sent at once, more than gRPC's default limit on one message
// (4 MiB) together, reach a user on another member whole, each reported
// good.
func TestClusterLargeMessagesCrossMembers(t *testing.T) {
	servers := startCluster(t, staticCluster(t, 2), relayBlock)
	sender := servers[0].dial("T", wire.CodecJSON)
	g := servers[1].dial("G", wire.CodecJSON)
	body := strings.Repeat("x", 900<<10)
	const n = 8
	sizes := make(chan int, n)
	go func() { // G reads as they come: its send queue holds 4 MiB
		for range n {
			var got string
			in, err := g.Receive()
			if err != nil || in.Decode(&got) != nil {
				close(sizes)
				return
			}
			sizes <- len(got)
		}
	}()
	for i := range n {
		if err := sender.Send("relay", "big-"+strconv.Itoa(i), map[string]any{"to": "G", "body": body}); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		in := recv(t, sender)
		if in.Report == nil {
			t.Fatalf("want a report, got %s", in.Kind)
		}
		wantGood(t, in.Report)
	}
	for range n {
		select {
		case size, ok := <-sizes:
			if !ok || size != len(body) {
				t.Fatalf("G got %d bytes (ok %v), want %d", size, ok, len(body))
			}
		case <-time.After(waitLong):
			t.Fatal("G did not get every message")
		}
	}
}
