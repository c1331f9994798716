package main

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
)

// envRunMain makes the test binary run main instead of the tests, so that
// the handler is exercised as the separate process the server starts.
const envRunMain = "TESTHANDLER_RUN_MAIN"

const testTimeout = 5 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) != "" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// proc is a running testhandler and the server's side of one connection.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	conn  net.Conn
	codec wire.Codec
}

func startHandler(t *testing.T, codec wire.Codec, env ...string) *proc {
	t.Helper()
	dir, err := os.MkdirTemp("", "th")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "h.sock")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envRunMain+"=1", wire.EnvSocket+"="+sock,
		wire.EnvCodec+"="+codec.String(), wire.EnvType+"=test",
		// The race detector otherwise pauses a second at every exit.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, codec: codec}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(testTimeout)
	for p.conn == nil {
		if time.Now().After(deadline) {
			t.Fatal("testhandler never listened")
		}
		if c, err := net.Dial("unix", sock); err == nil {
			p.conn = c
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Cleanup(func() { p.conn.Close() })
	p.conn.SetDeadline(time.Now().Add(testTimeout))
	return p
}

func (p *proc) request(id uint64, data map[string]any) {
	p.t.Helper()
	raw, err := p.codec.Marshal(data)
	if err != nil {
		p.t.Fatal(err)
	}
	body, err := p.codec.Marshal(wire.HandlerRequest{ID: id, Type: "test",
		From: wire.From{Scope: wire.FromClient, Name: "T", Server: "J"}, Data: raw})
	if err != nil {
		p.t.Fatal(err)
	}
	if err := wire.WriteFrame(p.conn, body); err != nil {
		p.t.Fatal(err)
	}
}

func (p *proc) frame() ([]byte, error) {
	return wire.ReadFrame(p.conn, wire.DefaultMaxFrame, nil)
}

func (p *proc) response(id uint64) wire.HandlerResponse {
	p.t.Helper()
	body, err := p.frame()
	if err != nil {
		p.t.Fatal(err)
	}
	var r wire.HandlerResponse
	if err := p.codec.UnmarshalMap(body, &r); err != nil {
		p.t.Fatalf("%x: %v", body, err)
	}
	if r.ID == nil || *r.ID != id {
		p.t.Fatalf("id %v, want %d", r.ID, id)
	}
	return r
}

// expect checks a response's status, command and targets.
func (p *proc) expect(r wire.HandlerResponse, status, cmd string, targets any) {
	p.t.Helper()
	if r.Header.Status != status {
		p.t.Fatalf("status %q, want %q", r.Header.Status, status)
	}
	if cmd == "" {
		if r.Header.Command != nil {
			p.t.Fatalf("unexpected command %+v", r.Header.Command)
		}
		return
	}
	if r.Header.Command == nil || r.Header.Command.Type != cmd {
		p.t.Fatalf("command %+v, want %s", r.Header.Command, cmd)
	}
	want, _ := p.codec.Marshal(targets)
	if string(r.Header.Command.Data) != string(want) {
		p.t.Fatalf("targets %q, want %q", r.Header.Command.Data, want)
	}
}

func (p *proc) decode(raw wire.RawValue, v any) {
	p.t.Helper()
	if err := p.codec.Unmarshal(raw, v); err != nil {
		p.t.Fatal(err)
	}
}

func TestActs(t *testing.T) {
	for _, codec := range []wire.Codec{wire.CodecCBOR, wire.CodecJSON} {
		t.Run(codec.String(), func(t *testing.T) {
			p := startHandler(t, codec)

			p.request(1, map[string]any{"to": "G", "body": map[string]any{"n": 1}})
			r := p.response(1)
			p.expect(r, "0", wire.CommandSendClients, []string{"G"})
			want, _ := codec.Marshal(map[string]any{"n": 1})
			if string(r.Data) != string(want) {
				t.Fatalf("relay body %q", r.Data)
			}

			p.request(2, map[string]any{"act": "relay"})
			p.expect(p.response(2), "1", "", nil)

			p.request(3, map[string]any{"act": "echo", "x": "y"})
			r = p.response(3)
			p.expect(r, "0", wire.CommandSendClients, []string{"T"})
			var echoed map[string]string
			p.decode(r.Data, &echoed)
			if echoed["x"] != "y" || echoed["act"] != "echo" {
				t.Fatalf("echo data %v", echoed)
			}

			p.request(4, map[string]any{"act": "fail"})
			p.expect(p.response(4), "1", "", nil)

			// never is overtaken by late, which is answered first.
			p.request(5, map[string]any{"act": "never"})
			p.request(6, map[string]any{"act": "late", "ms": 20})
			p.expect(p.response(6), "0", wire.CommandSendClients, []string{"T"})

			p.request(7, map[string]any{"act": "forward", "next": "other", "keep": 1})
			r = p.response(7)
			p.expect(r, "0", wire.CommandSendHandler, "other")
			var fwd map[string]any
			p.decode(r.Data, &fwd)
			if fwd["act"] != "echo" || fwd["next"] != "other" {
				t.Fatalf("forwarded data %v", fwd)
			}

			p.request(8, map[string]any{"act": "servers", "peers": []string{"B"}, "to": "G"})
			r = p.response(8)
			p.expect(r, "0", wire.CommandSendServers, []string{"B"})
			p.decode(r.Data, &fwd)
			if fwd["act"] != "relay" || fwd["to"] != "G" {
				t.Fatalf("data for peers %v", fwd)
			}

			p.request(13, map[string]any{"act": "route", "route": []string{"K", "L"}, "to": "G"})
			r = p.response(13)
			p.expect(r, "0", wire.CommandSendServers, []string{"K"})
			var routed map[string]any
			p.decode(r.Data, &routed)
			if rest, _ := routed["route"].([]any); len(rest) != 1 || rest[0] != "L" || routed["to"] != "G" {
				t.Fatalf("routed data %v", routed)
			}
			p.request(14, map[string]any{"act": "route", "route": []string{}, "to": "G"})
			p.expect(p.response(14), "0", wire.CommandSendClients, []string{"G"})
			p.request(15, map[string]any{"act": "route", "then": "fail"})
			p.expect(p.response(15), "1", "", nil)

			p.request(9, map[string]any{"act": "bytes"})
			p.expect(p.response(9), "0", wire.CommandSendClients, []string{"T"})

			p.request(10, map[string]any{"act": "garbage"})
			body, err := p.frame()
			if err != nil || codec.UnmarshalMap(body, &map[string]any{}) == nil {
				t.Fatalf("garbage frame %x, %v", body, err)
			}
			p.request(11, map[string]any{"act": "garbage", "junk": "invalid"})
			if body, err := p.frame(); err != nil || string(body) != "\xff\x00" {
				t.Fatalf("invalid garbage frame %x, %v", body, err)
			}

			p.request(12, map[string]any{"act": "close"})
			if _, err := p.frame(); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("after close: %v", err)
			}
		})
	}
}

func TestActFromEnvironment(t *testing.T) {
	p := startHandler(t, wire.CodecJSON, envAct+"=echo")
	p.request(1, map[string]any{"act": "fail"})
	p.expect(p.response(1), "0", wire.CommandSendClients, []string{"T"})
}

func TestCrash(t *testing.T) {
	p := startHandler(t, wire.CodecCBOR)
	p.request(1, map[string]any{"act": "crash"})
	err := p.cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != crashStatus {
		t.Fatalf("exit: %v", err)
	}
}

func TestInfo(t *testing.T) {
	dir, err := os.MkdirTemp("", "inf")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "i.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go fakeInformer(ln)
	p := startHandler(t, wire.CodecJSON, wire.EnvInformer+"="+path)
	p.request(1, map[string]any{"act": "info"})
	r := p.response(1)
	p.expect(r, "0", wire.CommandSendClients, []string{"T"})
	var out struct {
		Clients []string `json:"clients"`
	}
	p.decode(r.Data, &out)
	if !slices.Equal(out.Clients, []string{"G", "T"}) {
		t.Fatalf("clients %v", out.Clients)
	}
}

// fakeInformer answers every JSON informer query on one connection with
// the clients G and T.
func fakeInformer(ln net.Listener) {
	conn, err := ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	for {
		if _, err := wire.ReadFrame(conn, wire.DefaultMaxFrame, nil); err != nil {
			return
		}
		if wire.WriteFrame(conn, []byte(`{"status":"0","data":["G","T"]}`)) != nil {
			return
		}
	}
}
