package ipc

import (
	"errors"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/bester-project/bester/wire"
)

// fakeInformer answers informer requests the way the server does and
// records the command types it saw.
func fakeInformer(t *testing.T, codec wire.Codec) (path string, seen func() []string) {
	t.Helper()
	path = socketPath(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		types []string
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			body, err := wire.ReadFrame(conn, wire.DefaultMaxFrame, nil)
			if err != nil {
				return
			}
			var req struct {
				Command struct {
					Type string `cbor:"type" json:"type"`
					Data any    `cbor:"data" json:"data"`
				} `cbor:"command" json:"command"`
			}
			if err := codec.UnmarshalMap(body, &req); err != nil {
				t.Errorf("informer request: %v", err)
				return
			}
			mu.Lock()
			types = append(types, req.Command.Type)
			mu.Unlock()
			resp := wire.InformerResponse{Status: wire.InformerOK}
			switch req.Command.Type {
			case wire.InformerListClients:
				resp.Data = []string{"G", "T"}
			case wire.InformerIsClient:
				resp.Data = req.Command.Data == "G"
			case wire.InformerServerInfo:
				resp.Data = map[string]any{"name": "J", "clients": 2}
			case wire.InformerQuit:
				return
			default:
				resp = wire.InformerResponse{Status: wire.InformerFailed, Data: "unknown command"}
			}
			out, _ := codec.Marshal(resp)
			if err := wire.WriteFrame(conn, out); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return path, func() []string {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return types
	}
}

func TestInformer(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			path, seen := fakeInformer(t, codec)
			in, err := DialInformer(path, codec)
			if err != nil {
				t.Fatal(err)
			}
			users, err := in.ListClients()
			if err != nil || !slices.Equal(users, []string{"G", "T"}) {
				t.Fatalf("ListClients: %v, %v", users, err)
			}
			if ok, err := in.IsClient("G"); err != nil || !ok {
				t.Fatalf("IsClient(G): %v, %v", ok, err)
			}
			if ok, err := in.IsClient("X"); err != nil || ok {
				t.Fatalf("IsClient(X): %v, %v", ok, err)
			}
			info, err := in.ServerInfo()
			if err != nil || info["name"] != "J" {
				t.Fatalf("ServerInfo: %v, %v", info, err)
			}
			err = in.Query("nonsense", nil, nil)
			if !errors.Is(err, ErrInformerRefused) {
				t.Fatalf("refused query: %v", err)
			}
			if err := in.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := in.ListClients(); err == nil {
				t.Fatal("call after Close succeeded")
			}
			want := []string{"listClients", "isClient", "isClient", "serverInfo", "nonsense", "quit"}
			if got := seen(); !slices.Equal(got, want) {
				t.Fatalf("informer saw %v", got)
			}
		})
	}
}

// A broken connection fails the call instead of hanging.
func TestInformerServerGone(t *testing.T) {
	path := socketPath(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{})
	go func() {
		if conn, err := ln.Accept(); err == nil {
			conn.Close()
		}
		close(accepted)
	}()
	in, err := DialInformer(path, wire.CodecJSON)
	if err != nil {
		t.Fatal(err)
	}
	<-accepted
	if _, err := in.ListClients(); err == nil {
		t.Fatal("ListClients on a closed connection succeeded")
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := DialInformer("", wire.CodecCBOR); err == nil {
		t.Fatal("empty path accepted")
	}
}
