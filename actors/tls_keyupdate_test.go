package actors

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
)

// A TLS 1.3 client that asks the server to update its keys long after the
// server last wrote to it is answered and served on: the server's answer
// to the key update, written by the connection's reader, gets a write
// deadline of its own instead of the outbox's last one, long expired.
// Go's client cannot ask for a key update; openssl s_client can.
func TestTLSKeyUpdateAfterIdle(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed: a client's key update cannot be tried")
	}
	pki := newPKI(t, "test CA")
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log}, pki.listener())
	s := startSClient(t, openssl, ts.Addr("tls").String(), pki, "-tls1_3")
	r := &rawConn{t: t, conn: s, codec: wire.CodecJSON}
	r.login("T")

	time.Sleep(writeTimeout + time.Second) // the outbox's write deadline, if left, has passed
	s.command("K", "KEYUPDATE")            // a key update that asks the server for one too
	r.dummy("after the key update")
	if strings.Contains(log.String(), "TLS error") {
		t.Fatalf("the server logged a TLS error:\n%s", log.String())
	}
}

// sClient is openssl s_client connected to a server over TLS, driven
// through its standard input and output as a net.Conn: what is written
// goes to the server, what the server sends is read. It prints nothing
// else on its output (-quiet), and still takes command letters at the
// start of what it reads (-no_ign_eof).
type sClient struct {
	net.Conn // only for the addresses, which no test asks for
	t        *testing.T
	in, out  *os.File // our ends of its standard input and output
	errors   *logBuffer
}

// startSClient starts openssl s_client against address, trusting the
// PKI's CA, with more arguments args; t's cleanup ends it.
func startSClient(t *testing.T, openssl, address string, pki *testPKI, args ...string) *sClient {
	t.Helper()
	stdin, in, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out, stdout, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &sClient{t: t, in: in, out: out, errors: new(logBuffer)}
	cmd := exec.Command(openssl, sClientArgs(address, pki, append([]string{"-quiet", "-no_ign_eof"}, args...)...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, s.errors
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	stdout.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		in.Close()
		out.Close()
	})
	return s
}

// Write sends p to the server; it must not start with a command letter.
func (s *sClient) Write(p []byte) (int, error) {
	if len(p) > 0 && strings.IndexByte("QRKk", p[0]) >= 0 {
		s.t.Fatalf("s_client would take %q at the start of a write for a command", p[0])
	}
	return s.in.Write(p)
}

func (s *sClient) Read(p []byte) (int, error) { return s.out.Read(p) }

func (s *sClient) SetReadDeadline(t time.Time) error  { return s.out.SetReadDeadline(t) }
func (s *sClient) SetWriteDeadline(t time.Time) error { return s.in.SetWriteDeadline(t) }

func (s *sClient) Close() error {
	s.in.Close()
	return s.out.Close()
}

// command gives s_client a command letter and waits until it says it
// took it with ack.
func (s *sClient) command(letter, ack string) {
	s.t.Helper()
	if _, err := s.in.WriteString(letter + "\n"); err != nil {
		s.t.Fatal(err)
	}
	eventually(s.t, "s_client says "+ack, func() bool { return strings.Contains(s.errors.String(), ack) })
}
