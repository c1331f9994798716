package ipc

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/bester-project/bester/wire"
)

func TestSocketPermissions(t *testing.T) {
	path := start(t, Options{}, relay)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != socketPerm {
		t.Fatalf("permissions %o", perm)
	}
}

// A socket file left behind by a dead handler is replaced.
func TestStaleSocketIsReplaced(t *testing.T) {
	path := socketPath(t)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("setup: %v", err)
	}
	start(t, Options{Socket: path}, relay)
	c := dial(t, path, wire.CodecCBOR)
	c.request(1, map[string]any{"to": "G"})
	c.response()
}

func TestSocketPathRefused(t *testing.T) {
	t.Run("regular file", func(t *testing.T) {
		path := socketPath(t)
		if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := ServeConfig(context.Background(), Options{Socket: path}, relay)
		if err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Fatalf("err %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "keep me" {
			t.Fatal("file was touched")
		}
	})
	t.Run("live socket", func(t *testing.T) {
		path := start(t, Options{}, relay)
		err := ServeConfig(context.Background(), Options{Socket: path}, relay)
		if err == nil || !strings.Contains(err.Error(), "in use") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, o := range []Options{{}, {Socket: "x", Mode: "batch"}, {Socket: "x", Codec: 9}} {
			if err := ServeConfig(context.Background(), o, relay); err == nil {
				t.Errorf("%+v accepted", o)
			}
		}
	})
}

func TestOptionsFromEnv(t *testing.T) {
	t.Setenv(wire.EnvSocket, "/tmp/x.sock")
	t.Setenv(wire.EnvType, "afrikaans")
	t.Setenv(wire.EnvMode, "")
	t.Setenv(wire.EnvCodec, "")
	t.Setenv(wire.EnvInformer, "/tmp/i.sock")
	o, err := OptionsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Socket: "/tmp/x.sock", Type: "afrikaans", Mode: wire.ModeStream,
		Codec: wire.CodecCBOR, Informer: "/tmp/i.sock"}
	if o != want {
		t.Fatalf("got %+v", o)
	}
	t.Setenv(wire.EnvMode, "oneshot")
	t.Setenv(wire.EnvCodec, "json")
	if o, err = OptionsFromEnv(); err != nil || o.Mode != wire.ModeOneshot || o.Codec != wire.CodecJSON {
		t.Fatalf("got %+v, %v", o, err)
	}
	for env, val := range map[string]string{wire.EnvMode: "batch", wire.EnvCodec: "auto", wire.EnvSocket: ""} {
		t.Run(env+"="+val, func(t *testing.T) {
			t.Setenv(env, val)
			if _, err := OptionsFromEnv(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
