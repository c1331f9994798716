package actors

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
	"github.com/bester-project/bester/wire/tlsconf"
)

// bystanders are a TLS client and a plain one, logged in before the bad
// input a test tries, to show that it disturbs neither.
type bystanders struct{ overTLS, plain *client.Client }

func newBystanders(ts *testServer, pki *testPKI) *bystanders {
	return &bystanders{overTLS: ts.dialTLSClient(pki.tlsConfig(ts, ""), "W", wire.CodecCBOR),
		plain: ts.dial("V", wire.CodecJSON)}
}

// stillServed checks that both bystanders are still connected and served.
func (b *bystanders) stillServed(t *testing.T) {
	t.Helper()
	for _, c := range []*client.Client{b.overTLS, b.plain} {
		if err := c.Send(wire.TypeDummy, "still", nil); err != nil {
			t.Fatal(err)
		}
		if in := recv(t, c); in.Kind != client.KindDummy || in.ID != "still" {
			t.Fatalf("want the dummy reply, got %s", in.Raw)
		}
	}
}

// tlsLogin dials ts's "tls" listener with cfg and logs in as T, and
// returns the error that stopped it, if any: in TLS 1.3 a server that
// refuses the client's certificate says so after the client's side of
// the handshake is done, so the refusal may come with the first read.
func tlsLogin(ts *testServer, cfg *tls.Config) error {
	conn, err := ts.dialTLS(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	c, err := client.Handshake(ctx, conn, client.Options{Username: "T", Password: "pw"})
	if err == nil {
		c.Close()
	}
	return err
}

// wantLogged waits until the log holds every one of wants.
func wantLogged(t *testing.T, log *logBuffer, wants ...string) {
	t.Helper()
	eventually(t, "the log says "+strings.Join(wants, ", "), func() bool {
		for _, line := range strings.Split(log.String(), "\n") {
			all := true
			for _, w := range wants {
				all = all && strings.Contains(line, w)
			}
			if all {
				return true
			}
		}
		return false
	})
}

// Client certificates the server cannot trust are refused in the
// handshake with the TLS alert that says why, and logged with the reason;
// so is a client that refuses the server's certificate for its name.
func TestTLSBadCertificates(t *testing.T) {
	pki := newPKI(t, "test CA")
	past, future := time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour)
	pki.Issue("expired", tlsconf.Leaf{CommonName: "T", Client: true, NotBefore: past, NotAfter: past.Add(time.Hour)})
	pki.Issue("early", tlsconf.Leaf{CommonName: "T", Client: true, NotBefore: future, NotAfter: future.Add(time.Hour)})
	other := newPKI(t, "another CA")
	other.user("T")
	pki.Write("stranger.crt", readFile(t, other.Path("T.crt")))
	pki.Write("stranger.key", readFile(t, other.Path("T.key")))

	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log}, pki.listener(pki.clientAuth("request", "password")...))
	by := newBystanders(ts, pki)
	wrongName := pki.tlsConfig(ts, "")
	wrongName.ServerName = "wrong.example"
	for _, tc := range []struct {
		name      string
		cfg       *tls.Config
		client    string // what the client's error says
		logged    string // what the server's log line says
		refusedBy string
	}{
		{"expired", pki.tlsConfig(ts, "expired"), "expired certificate", "certificate has expired", "server"},
		{"not valid yet", pki.tlsConfig(ts, "early"), "expired certificate", "is before", "server"},
		{"another CA", presentAnyway(pki.tlsConfig(ts, "stranger")), "unknown certificate authority", "signed by unknown authority", "server"},
		{"wrong server name", wrongName, "not wrong.example", "remote error: tls: bad certificate", "client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tlsLogin(ts, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.client) {
				t.Fatalf("login: %v, want an error saying %q", err, tc.client)
			}
			wantLogged(t, log, "TLS handshake failed", "listener=tls", tc.logged)
		})
	}
	by.stillServed(t)
}

// presentAnyway makes cfg present its certificate whatever CAs the server
// names: Go's client otherwise sends none the server's CAs did not sign.
func presentAnyway(cfg *tls.Config) *tls.Config {
	cert := cfg.Certificates[0]
	cfg.Certificates = nil
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	return cfg
}

// readFile returns the content of path.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Plain text on a TLS listener gets a plaintext refusal the client can
// read; a TLS client on a plain listener gets a TLS alert its library can
// print. Both are logged and closed.
func TestTLSWrongProtocol(t *testing.T) {
	pki := newPKI(t, "test CA")
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log}, pki.listener())
	by := newBystanders(ts, pki)

	for _, codec := range []wire.Codec{wire.CodecJSON, wire.CodecCBOR} {
		r := ts.dialRawTo(t, "tcp4", ts.Addr("tls").String(), codec)
		r.send(authMsg("T", "pw"))
		rep := r.expectReport(wire.IDAuth)
		wantBad(t, rep, wire.CodeUnauthorized)
		if !strings.Contains(rep.Header.Detail, `listener "tls" speaks TLS only`) {
			t.Fatalf("detail %q", rep.Header.Detail)
		}
		r.expectClosed()
	}
	_, err := client.Dial(context.Background(), client.Options{Address: ts.Addr("tls").String(), Username: "T", Password: "pw"})
	if err == nil || !strings.Contains(err.Error(), "speaks TLS only") {
		t.Fatalf("the Go client in clear on a TLS listener: %v", err)
	}
	wantLogged(t, log, "plain text sent to a TLS listener, refused", "listener=tls")

	cfg := pki.tlsConfig(ts, "")
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: waitLong}, "tcp4", ts.Addr("tcp").String(), cfg)
	if err == nil {
		conn.Close()
		t.Fatal("a TLS handshake with a plain listener succeeded")
	}
	if !strings.Contains(err.Error(), "protocol version not supported") {
		t.Fatalf("TLS on a plain listener: %v, want the server's protocol_version alert", err)
	}
	wantLogged(t, log, "TLS handshake sent to a plain listener, refused with a TLS alert")
	if path, err := exec.LookPath("openssl"); err == nil {
		out, _ := opensslClient(t, path, ts.Addr("tcp").String(), pki, "")
		if !strings.Contains(out, "alert protocol version") {
			t.Errorf("openssl s_client on a plain listener printed:\n%s", out)
		}
	}
	by.stillServed(t)
}

// A handshake that never finishes ends at auth_timeout; a client that
// tries to renegotiate is refused and cut; a client limited to TLS 1.2
// is refused by a listener whose min_version is 1.3. None disturbs
// anyone else.
func TestTLSHandshakeAbuse(t *testing.T) {
	pki := newPKI(t, "test CA")
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{server: `auth_timeout = "1s"`, log: log}, pki.listener())
	by := newBystanders(ts, pki)

	stalled, err := net.DialTimeout("tcp4", ts.Addr("tls").String(), waitLong)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.Write([]byte{0x16, 0x03, 0x01, 0x02}) // a ClientHello's record header, and no more
	stalled.SetReadDeadline(time.Now().Add(waitLong))
	if n, err := io.Copy(io.Discard, stalled); err != nil {
		t.Fatalf("a stalled handshake: read %d bytes, then %v; want the server to close it", n, err)
	}
	wantLogged(t, log, "TLS handshake not complete within auth_timeout", "listener=tls")

	if path, err := exec.LookPath("openssl"); err != nil {
		t.Log("openssl is not installed: renegotiation not tried")
	} else {
		out, err := opensslClient(t, path, ts.Addr("tls").String(), pki, "R\n")
		if err == nil || !strings.Contains(out, "RENEGOTIATING") || !strings.Contains(out, "alert unexpected message") {
			t.Errorf("openssl s_client asked to renegotiate: %v\n%s", err, out)
		}
		wantLogged(t, log, "TLS error, closing", "unexpected handshake message")
	}
	by.stillServed(t)

	strict := startServerWith(t, serverOptions{log: log}, pki.listener(`    min_version = "1.3"`))
	cfg := pki.tlsConfig(strict, "")
	cfg.MaxVersion = tls.VersionTLS12
	if err := tlsLogin(strict, cfg); err == nil || !strings.Contains(err.Error(), "protocol version not supported") {
		t.Fatalf("a TLS 1.2 client on a TLS 1.3 listener: %v", err)
	}
	wantLogged(t, log, "TLS handshake failed", "unsupported versions")
}

// opensslClient runs openssl s_client against address over TLS 1.2,
// trusting the PKI's CA, writes input to it, and returns what it printed
// when it ends.
func opensslClient(t *testing.T, openssl, address string, pki *testPKI, input string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, sClientArgs(address, pki, "-tls1_2")...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, input) // stdin stays open: its end would end s_client first
	err = cmd.Wait()
	stdin.Close()
	if ctx.Err() != nil {
		t.Fatalf("openssl s_client did not end:\n%s", out.String())
	}
	return out.String(), err
}

// sClientArgs are the arguments of openssl to run s_client against
// address, trusting the PKI's CA, with more arguments more.
func sClientArgs(address string, pki *testPKI, more ...string) []string {
	return append([]string{"s_client", "-connect", address, "-CAfile", pki.Path("ca.crt"), "-servername", "localhost"}, more...)
}

// A TLS connection the server has no room for is closed without a word:
// a report in clear would be garbage to a TLS client.
func TestTLSConnectionLimit(t *testing.T) {
	pki := newPKI(t, "test CA")
	ts := startServerWith(t, serverOptions{server: "max_connections_per_address = 1"}, pki.listener())
	ts.dialTLSClient(pki.tlsConfig(ts, ""), "T", wire.CodecCBOR)
	err := tlsLogin(ts, pki.tlsConfig(ts, ""))
	if err == nil || !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("a connection past max_connections_per_address: %v, want it closed", err)
	}
}

// Handshakes stalled by their clients hold none of the server's handshake
// slots: once each of many has had a slot for the bytes it sent, and waits
// for more (within an auth_timeout longer than the test), another client
// still gets through its handshake.
func TestTLSStalledHandshakesHoldNoSlot(t *testing.T) {
	pki := newPKI(t, "test CA")
	ts := startServerWith(t, serverOptions{server: `auth_timeout = "10m"`}, pki.listener())
	stallHandshakesSettled(t, ts, 4*cap(ts.handshakes))
	ts.dialTLSClient(pki.tlsConfig(ts, ""), "T", wire.CodecCBOR)
}

// stallHandshakesSettled is stallHandshakes that also waits until each
// of the n handshakes has had a slot for the bytes it read, and waits
// for more.
func stallHandshakesSettled(t *testing.T, ts *testServer, n int) {
	t.Helper()
	release := ts.holdHandshakeSlots() // so that each handshake waits for one, once
	stallHandshakes(t, ts, n)
	eventually(t, "every stalled handshake waits for a slot", func() bool { return goroutinesIn(slotWait) == n })
	release()
	eventually(t, "every stalled handshake has had its slot", func() bool { return goroutinesIn(slotWait) == 0 })
}

// stallHandshakes opens n connections to ts's "tls" listener that each
// send the record header of a ClientHello and the start of its body, and
// no more: the server reads them, computes nothing yet, and waits for the
// rest. It waits until the server has them all.
func stallHandshakes(t *testing.T, ts *testServer, n int) {
	t.Helper()
	ts.connLimits.mu.Lock()
	want := ts.connLimits.open + n
	ts.connLimits.mu.Unlock()
	for range n {
		stalled, err := net.DialTimeout("tcp4", ts.Addr("tls").String(), waitLong)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stalled.Close() })
		stalled.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00})
	}
	eventually(t, "the server has the stalled connections", func() bool {
		ts.connLimits.mu.Lock()
		defer ts.connLimits.mu.Unlock()
		return ts.connLimits.open == want
	})
}

// holdHandshakeSlots takes all of ts's handshake slots, as handshakes that
// compute would, and returns what gives them back.
func (ts *testServer) holdHandshakeSlots() (release func()) {
	for range cap(ts.handshakes) {
		ts.handshakes <- struct{}{}
	}
	return func() {
		for range cap(ts.handshakes) {
			<-ts.handshakes
		}
	}
}

// slotWait is the function, as a stack trace names it, in which a
// handshake waits for a slot.
const slotWait = "actors.(*handshakeTurn).take("

// goroutinesIn counts the goroutines whose stack holds fn, a function as
// a stack trace names it.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			count++
		}
	}
	return count
}

// A plain listener takes a first frame for a TLS client's hello only when
// the length its header claims is past the first frame's limit, where the
// frame would be refused as too large anyway. With max_auth_frame raised,
// a first message of 66,326 bytes, whose length starts like a TLS
// handshake record, is served, while a TLS client still gets its alert;
// under the default limit, those four bytes get the alert.
func TestTLSHelloSnifferFirstFrameLimit(t *testing.T) {
	pki := newPKI(t, "test CA")
	raised := startServerWith(t, serverOptions{server: "max_auth_frame = 200000"}, pki.listener())
	r := raised.dialRaw(t, wire.CodecJSON)
	first := authMsg("T", "pw")
	first["payload"] = map[string]any{"type": wire.TypeDummy, "id": "large"}
	body := paddedBody(t, wire.CodecJSON, first, 66_326)
	if !bytes.HasPrefix(wire.AppendFrame(nil, body), []byte{0x16, 0x03, 0x01, 0x00}) {
		t.Fatalf("a frame of %d bytes does not start like a TLS record", len(body))
	}
	r.writeBody(body)
	wantGood(t, r.expectReport(wire.IDAuth))
	if m := r.next(); m["payload"].(map[string]any)["id"] != "large" {
		t.Fatalf("want the dummy reply, got %v", m)
	}

	_, err := tls.DialWithDialer(&net.Dialer{Timeout: waitLong}, "tcp4", raised.Addr("tcp").String(), pki.tlsConfig(raised, ""))
	if err == nil || !strings.Contains(err.Error(), "protocol version not supported") {
		t.Fatalf("TLS on a plain listener with max_auth_frame raised: %v, want the server's protocol_version alert", err)
	}

	byDefault := startServer(t, "")
	r = byDefault.dialRaw(t, wire.CodecJSON)
	r.write([]byte{0x16, 0x03, 0x01, 0x00})
	r.conn.SetReadDeadline(time.Now().Add(waitLong))
	if got, err := io.ReadAll(r.conn); err != nil || !bytes.Equal(got, protocolVersionAlert) {
		t.Fatalf("a first frame claiming 66,326 bytes under the default max_auth_frame: read %x, %v; want the TLS alert", got, err)
	}
}

// paddedBody encodes m, a message with a payload, with data that makes
// the body size bytes long.
func paddedBody(t *testing.T, codec wire.Codec, m map[string]any, size int) []byte {
	t.Helper()
	payload := m["payload"].(map[string]any)
	payload["data"] = ""
	body, err := codec.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	payload["data"] = strings.Repeat("x", size-len(body))
	if body, err = codec.Marshal(m); err != nil || len(body) != size {
		t.Fatalf("padded body: %d bytes, %v; want %d", len(body), err, size)
	}
	return body
}
