//go:build !race

// protoactor's cluster layer has data races of its own (see package
// cluster), so a besterd built with -race fails its exit status as soon as
// it joins a cluster: these tests run in .ci/run's pass without -race.

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bester-project/bester/internal/testetcd"
	"github.com/bester-project/bester/ipc"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// clusterTemplate is a member of a cluster: the relay handler, a TCP
// listener, the informer and a cluster block whose membership is the last
// argument.
const clusterTemplate = `
server {
  name        = "J"
  runtime_dir = %q
  max_connections_per_address = 65536
}

auth {
  mode = "open"
}

listener "tcp4" {
  network = "tcp4"
  address = %q
}

handler "relay" {
  socket  = "relay.sock"
  command = [%q]
}

informer {
  socket = "informer.sock"
}

cluster {
  name             = %q
  bind             = %q
  delivery_timeout = "2s"
%s
}
`

// leaseTTL is the etcd lease of the members in these tests: a killed
// member leaves the others' lists within about this long.
const leaseTTL = 3 * time.Second

// testCluster is a cluster of besterd processes on loopback.
type testCluster struct {
	t    *testing.T
	name string
	// membership is the cluster block's etcd or static block for member i.
	membership func(i int) string
	members    []*server
}

// newCluster names a cluster after the test, so that tests sharing one
// etcd never see each other's members.
func newCluster(t *testing.T, membership func(i int) string) *testCluster {
	name := regexp.MustCompile(`[^A-Za-z0-9-]`).ReplaceAllString(t.Name(), "-")
	return &testCluster{t: t, name: name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36), membership: membership}
}

// etcdMembership is the etcd block for a cluster on endpoint.
func etcdMembership(endpoint string) func(int) string {
	return func(int) string {
		return fmt.Sprintf(`
  etcd {
    endpoints    = [%q]
    prefix       = "/bester-e2e"
    lease_ttl    = "%s"
    dial_timeout = "3s"
  }`, endpoint, leaseTTL)
	}
}

// start starts n members one after the other and waits until each can
// deliver to every other.
func (c *testCluster) start(n int) {
	c.t.Helper()
	for i := range n {
		c.members = append(c.members, c.startMember(i))
	}
	for _, from := range c.members {
		for _, to := range c.members {
			if from != to {
				c.waitReachable(from, to)
			}
		}
	}
}

// startMember starts member i on a fresh runtime dir and member port.
func (c *testCluster) startMember(i int) *server {
	c.t.Helper()
	return startConfigured(c.t, func(s *server) string {
		return fmt.Sprintf(clusterTemplate, s.dir, s.addr, bins.relay, c.name, freeAddr(c.t), c.membership(i))
	})
}

// probes numbers the users waitReachable invents.
var probes struct {
	sync.Mutex
	n int
}

// waitReachable waits until a user connected to member to gets a message
// sent from member from, which is when both see each other and the
// directory has the user.
func (c *testCluster) waitReachable(from, to *server) time.Duration {
	c.t.Helper()
	probes.Lock()
	probes.n++
	user := "probe-" + strconv.Itoa(probes.n)
	probes.Unlock()
	rcpt := dial(c.t, "tcp4", to.addr, user, wire.CodecJSON)
	defer rcpt.Close()
	return c.waitDelivered(from, rcpt, user)
}

// waitDelivered sends to user from a client of member from until a
// message is reported good and rcpt receives it; it returns how long that
// took.
func (c *testCluster) waitDelivered(from *server, rcpt *client.Client, user string) time.Duration {
	c.t.Helper()
	sender := dial(c.t, "tcp4", from.addr, "sender-"+user, wire.CodecCBOR)
	defer sender.Close()
	start := time.Now()
	var last string
	for attempt := 0; time.Since(start) < waitLong; attempt++ {
		id := "try-" + strconv.Itoa(attempt)
		if err := sender.Send("relay", id, map[string]any{"to": user, "body": id}); err != nil {
			c.t.Fatal(err)
		}
		in, err := receive(c.t, sender)
		if err != nil {
			c.t.Fatal(err)
		}
		if in.Err() == nil {
			// An earlier try reported peer_unavailable may have arrived
			// too: a member it went to failed, which says nothing of
			// the one that holds the user.
			for {
				got, err := receive(c.t, rcpt)
				if err != nil {
					c.t.Fatalf("%s: reported good, but nothing arrived: %v", user, err)
				}
				var body string
				if err := got.Decode(&body); err != nil || !strings.HasPrefix(body, "try-") {
					c.t.Fatalf("%s got %s, want %q", user, got.Raw, id)
				}
				if body == id {
					return time.Since(start)
				}
			}
		}
		last = string(in.Raw)
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("no message reached %s within %s; last report %s", user, waitLong, last)
	return 0
}

// send sends one relay message to users and returns its report.
func send(t *testing.T, c *client.Client, id string, to ...string) *client.Incoming {
	t.Helper()
	if err := c.Send("relay", id, map[string]any{"to": to, "body": id}); err != nil {
		t.Fatal(err)
	}
	in, err := receive(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if in.Report == nil || in.ID != id {
		t.Fatalf("want the report of %s, got %s", id, in.Raw)
	}
	return in
}

// Three members relay across members in both codecs, on etcd and on a
// static list: a JSON sender on m1, a CBOR recipient on m3, a user on two
// members who gets the message on both, and a user connected nowhere,
// reported exactly.
func TestClusterRelayAcrossMembers(t *testing.T) {
	t.Run("etcd", func(t *testing.T) {
		testRelayAcrossMembers(t, newCluster(t, etcdMembership(testetcd.Endpoint(t))))
	})
	t.Run("static", func(t *testing.T) {
		testRelayAcrossMembers(t, newCluster(t, staticMembership(t, 3, 500*time.Millisecond)))
	})
}

// staticMembership is the static block of each of n members on loopback,
// polling each other every refresh.
func staticMembership(t *testing.T, n int, refresh time.Duration) func(int) string {
	var health []string
	for range n {
		health = append(health, freeAddr(t))
	}
	return func(i int) string {
		_, port, _ := net.SplitHostPort(health[i])
		return fmt.Sprintf(`
  static {
    health_port = %s
    members     = ["%s"]
    refresh     = "%s"
  }`, port, strings.Join(health, `", "`), refresh)
	}
}

func testRelayAcrossMembers(t *testing.T, c *testCluster) {
	c.start(3)
	m1, m2, m3 := c.members[0], c.members[1], c.members[2]

	// U logs in on m2 and m3 before G on m3 and a probe user on m2: a
	// member writes the users waiting for the directory no later than those
	// who log in after them, so once m1 reaches G and the probe, it finds
	// both of U's connections too. (A
	// probe to U itself could be reported good while only one connection
	// is known yet.)
	both := []*client.Client{dial(t, "tcp4", m2.addr, "U", wire.CodecJSON), dial(t, "tcp4", m3.addr, "U", wire.CodecCBOR)}
	g := dial(t, "tcp4", m3.addr, "G", wire.CodecCBOR)
	sender := dial(t, "tcp4", m1.addr, "T", wire.CodecJSON)
	c.waitDelivered(m1, g, "G")
	c.waitReachable(m1, m2)

	type body struct {
		N    int    `cbor:"n" json:"n"`
		Text string `cbor:"text" json:"text"`
	}
	want := body{N: 7, Text: "hallo wêreld"}
	if err := sender.Send("relay", "m-1", map[string]any{"to": []string{"G", "U"}, "body": want}); err != nil {
		t.Fatal(err)
	}
	if in, err := receive(t, sender); err != nil || in.ID != "m-1" || in.Err() != nil {
		t.Fatalf("report of m-1: %v %s", err, in.Raw)
	}
	for _, rcpt := range append([]*client.Client{g}, both...) {
		in, err := receive(t, rcpt)
		if err != nil {
			t.Fatal(err)
		}
		var got body
		if err := in.Decode(&got); err != nil {
			t.Fatalf("%s: %v", in.Raw, err)
		}
		if in.Kind != wire.MessageTypeReceived || in.Type != "relay" || in.From != (wire.Address{Server: "J", User: "T"}) || got != want {
			t.Fatalf("a %s recipient got %s", rcpt.Codec(), in.Raw)
		}
	}

	in := send(t, sender, "m-2", "G", "nobody", "U", "nobody-either")
	if in.Err() == nil || in.Report.Header.Error != wire.CodeUndelivered ||
		!slices.Equal(in.Report.Payload.Undelivered, []string{"nobody", "nobody-either"}) {
		t.Fatalf("want undelivered [nobody nobody-either], got %s", in.Raw)
	}

	// The informer of a member that holds neither knows G and U are
	// connected, and that nobody is not.
	inf, err := ipc.DialInformer(filepath.Join(m1.dir, "informer.sock"), wire.CodecJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer inf.Close()
	for user, want := range map[string]bool{"G": true, "U": true, "T": true, "nobody": false} {
		deadline := time.Now().Add(waitLong)
		for {
			on, err := inf.IsClient(user)
			if err != nil {
				t.Fatalf("isClient %s: %v", user, err)
			}
			if on == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("isClient %s: %v, want %v", user, on, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// ledger records a load's messages and their reports.
type ledger struct {
	mu      sync.Mutex
	sent    map[string]sentMessage
	reports map[string][]*wire.StatusReport
	strays  []string // reports for ids never sent
}

type sentMessage struct {
	to string
	at time.Time
}

func newLedger() *ledger {
	return &ledger{sent: make(map[string]sentMessage), reports: make(map[string][]*wire.StatusReport)}
}

func (l *ledger) recordSent(id, to string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent[id] = sentMessage{to: to, at: time.Now()}
}

func (l *ledger) recordReport(r *wire.StatusReport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := r.Payload.ID
	if _, ok := l.sent[id]; !ok {
		l.strays = append(l.strays, id)
		return
	}
	l.reports[id] = append(l.reports[id], r)
}

// complete tells whether every message sent has a report.
func (l *ledger) complete() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reports) == len(l.sent)
}

// load sends relay messages from sender to the users in turn, at most
// window of them unreported at once, until stop is closed; it returns
// once every message sent has its report or waitLong has passed.
func load(t *testing.T, sender *client.Client, users []string, stop <-chan struct{}) *ledger {
	t.Helper()
	l := newLedger()
	const window = 32
	slots := make(chan struct{}, window)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			in, err := sender.Receive()
			if err != nil {
				return
			}
			if in.Report != nil {
				l.recordReport(in.Report)
				<-slots
			}
		}
	}()
	for n := 0; ; n++ {
		select {
		case <-stop:
			eventually(t, "a report for every message of the load", l.complete)
			return l
		case slots <- struct{}{}:
		}
		id := "load-" + strconv.Itoa(n)
		to := users[n%len(users)]
		l.recordSent(id, to)
		if err := sender.Send("relay", id, map[string]any{"to": to, "body": n}); err != nil {
			t.Fatalf("sending %s: %v", id, err)
		}
	}
}

// drain reads what c receives until it closes.
func drain(c *client.Client) {
	go func() {
		for {
			if _, err := c.Receive(); err != nil {
				return
			}
		}
	}()
}

// A member of three, SIGKILLed under relay load: every message accepted
// gets exactly one report; once the lease has expired (plus 5 s), messages
// to the dead member's users are reported undelivered and those to the
// survivor's users good; the dead member's users, reconnected to a
// survivor, are reachable; and the member, restarted, rejoins by itself.
func TestClusterMemberKilledUnderLoad(t *testing.T) {
	c := newCluster(t, etcdMembership(testetcd.Endpoint(t)))
	c.start(3)
	m1, m2, m3 := c.members[0], c.members[1], c.members[2]

	// Users of a member that lives and of the one that will die.
	var onM3, all []string
	for i := range 8 {
		for _, user := range []string{"lives-" + strconv.Itoa(i), "dies-" + strconv.Itoa(i)} {
			at := m2
			if strings.HasPrefix(user, "dies-") {
				at = m3
				onM3 = append(onM3, user)
			}
			rcpt := dial(t, "tcp4", at.addr, user, wire.CodecCBOR)
			c.waitDelivered(m1, rcpt, user)
			drain(rcpt)
			all = append(all, user)
		}
	}
	sender := dial(t, "tcp4", m1.addr, "loader", wire.CodecCBOR)

	stop := make(chan struct{})
	var killedAt time.Time
	go func() {
		time.Sleep(1500 * time.Millisecond)
		killedAt = time.Now()
		if err := m3.cmd.Process.Kill(); err != nil {
			t.Errorf("SIGKILL m3: %v", err)
		}
		time.Sleep(leaseTTL + 8*time.Second)
		close(stop)
	}()
	l := load(t, sender, all, stop)

	settled := killedAt.Add(leaseTTL + 5*time.Second)
	codes := make(map[string]int)
	for id, msg := range l.sent {
		reports := l.reports[id]
		if len(reports) != 1 {
			t.Errorf("%s (to %s) got %d reports, want exactly 1", id, msg.to, len(reports))
			continue
		}
		r := reports[0]
		codes[string(r.Header.Error)]++
		if msg.at.Before(settled) {
			continue
		}
		dead := slices.Contains(onM3, msg.to)
		switch {
		case dead && (r.Header.Error != wire.CodeUndelivered || !slices.Equal(r.Payload.Undelivered, []string{msg.to})):
			t.Errorf("%s to %s of the dead member, sent %s after the kill: want undelivered [%s], got %+v",
				id, msg.to, msg.at.Sub(killedAt).Round(time.Millisecond), msg.to, r)
		case !dead && r.Header.Status != wire.StatusGood:
			t.Errorf("%s to %s of a survivor, sent %s after the kill: want good, got %+v",
				id, msg.to, msg.at.Sub(killedAt).Round(time.Millisecond), r)
		}
	}
	if len(l.strays) > 0 {
		t.Errorf("reports for messages never sent: %v", l.strays)
	}
	t.Logf("%d messages, reports by code (\"\" is good): %v", len(l.sent), codes)

	for _, user := range onM3 {
		rcpt := dial(t, "tcp4", m2.addr, user, wire.CodecJSON)
		took := c.waitDelivered(m1, rcpt, user)
		t.Logf("%s reconnected to m2: reachable from m1 after %s", user, took.Round(time.Millisecond))
	}

	if err := m3.launch(); err != nil {
		t.Fatalf("m3 did not start again: %v", err)
	}
	c.waitReachable(m1, m3)
	c.waitReachable(m3, m2)
}

// A member of a static list, SIGKILLed, leaves the others' lists: a
// message between the survivors is good again; started again on the same
// ports, it rejoins by itself and delivers both ways.
func TestClusterStaticMemberKilledAndRestarted(t *testing.T) {
	c := newCluster(t, staticMembership(t, 3, 500*time.Millisecond))
	c.start(3)
	m1, m2, m3 := c.members[0], c.members[1], c.members[2]
	if err := m3.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL m3: %v", err)
	}
	<-m3.done
	c.waitReachable(m1, m2)
	if err := m3.launch(); err != nil {
		t.Fatalf("m3 did not start again: %v", err)
	}
	c.waitReachable(m1, m3)
	c.waitReachable(m3, m2)
}

// A static member that stops answering for less than the grace period (a
// stall, a network blip: here SIGSTOP for 2 s, with polls every second)
// stays in the others' lists and delivers again when it answers:
// protoactor never takes back a member id that left, so a departure waits.
func TestClusterStaticMemberStalledBrieflyStays(t *testing.T) {
	c := newCluster(t, staticMembership(t, 3, time.Second))
	c.start(3)
	m1, m3 := c.members[0], c.members[2]
	if err := m3.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // past a poll's timeout of 1 s
	if err := m3.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	c.waitReachable(m1, m3)
	c.waitReachable(m3, m1)
}

// With etcd stopped for three lease periods, members keep serving their
// own clients and answer every cross-member message with one report; once
// etcd is back they register again and deliver across members, to users
// old and new.
func TestClusterSurvivesEtcdRestart(t *testing.T) {
	etcd := testetcd.StartPrivate(t)
	c := newCluster(t, etcdMembership(etcd.Endpoint()))
	c.start(2)
	m1, m2 := c.members[0], c.members[1]

	local := dial(t, "tcp4", m1.addr, "local", wire.CodecJSON)
	remote := dial(t, "tcp4", m2.addr, "remote", wire.CodecJSON)
	c.waitDelivered(m1, remote, "remote")
	drain(local)
	drain(remote)
	sender := dial(t, "tcp4", m1.addr, "sender", wire.CodecJSON)

	etcd.Stop()
	stop := make(chan struct{})
	time.AfterFunc(3*leaseTTL, func() { close(stop) })
	l := load(t, sender, []string{"local", "remote"}, stop)
	crossGood := 0
	for id, msg := range l.sent {
		reports := l.reports[id]
		if len(reports) != 1 {
			t.Errorf("%s (to %s) got %d reports while etcd was down, want exactly 1", id, msg.to, len(reports))
			continue
		}
		switch good := reports[0].Header.Status == wire.StatusGood; {
		case msg.to == "local" && !good:
			t.Errorf("%s to a user of the sender's own member failed while etcd was down: %+v", id, reports[0])
		case msg.to == "remote" && good:
			crossGood++
		}
	}
	t.Logf("etcd down: %d messages, %d of the cross-member ones good", len(l.sent), crossGood)

	etcd.Start()
	newcomer := dial(t, "tcp4", m2.addr, "newcomer", wire.CodecJSON)
	c.waitDelivered(m1, newcomer, "newcomer")
	old := dial(t, "tcp4", m2.addr, "remote-again", wire.CodecJSON)
	c.waitDelivered(m1, old, "remote-again")
	c.waitReachable(m2, m1)
}

// A member whose etcd cannot be reached exits at start with an error that
// says so, within seconds: no hang, no panic.
func TestClusterEtcdUnreachableAtStart(t *testing.T) {
	closed := freeAddr(t) // nothing listens there any more
	dir, err := os.MkdirTemp("", "bd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := newCluster(t, etcdMembership(closed))
	cfg := filepath.Join(dir, "bester.hcl")
	text := fmt.Sprintf(clusterTemplate, dir, freeAddr(t), bins.relay, c.name, freeAddr(t), c.membership(0))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins.besterd, "-config", cfg)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("besterd exited 0 without its etcd:\n%s", out)
		}
	case <-time.After(waitLong):
		cmd.Process.Kill()
		t.Fatalf("besterd still running %s after start without its etcd:\n%s", waitLong, out)
	}
	log := out.String()
	if !strings.Contains(log, "etcd") || !strings.Contains(log, closed) || strings.Contains(log, "panic") {
		t.Fatalf("want an error naming etcd at %s and no panic, got:\n%s", closed, log)
	}
	t.Logf("exited after %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(log))
}
