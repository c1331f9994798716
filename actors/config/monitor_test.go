package config

import (
	"reflect"
	"testing"
)

func TestMonitor(t *testing.T) {
	handlers := "handler \"a\" {\n  socket = \"a.sock\"\n}\nhandler \"b\" {\n  socket = \"b.sock\"\n}\n"
	if cfg := mustLoad(t, okBase+handlers); cfg.Monitor != nil {
		t.Fatalf("no monitor block gave %+v", cfg.Monitor)
	}

	cfg := mustLoad(t, okBase+handlers+"monitor {\n  address = \"127.0.0.1:9090\"\n}\n")
	want := &Monitor{Address: "127.0.0.1:9090", AllowRemote: DefaultMonitorAllowRemote, PProf: DefaultMonitorPProf,
		ReadyHandlers: []string{"a", "b"}, TopSenders: DefaultMonitorTopSenders}
	if !reflect.DeepEqual(cfg.Monitor, want) {
		t.Fatalf("defaults: got %+v, want %+v", cfg.Monitor, want)
	}

	cfg = mustLoad(t, okBase+handlers+`monitor {
  address        = "0.0.0.0:9090"
  allow_remote   = true
  pprof          = false
  ready_handlers = ["b"]
  top_senders    = 0
}
`)
	want = &Monitor{Address: "0.0.0.0:9090", AllowRemote: true, ReadyHandlers: []string{"b"}}
	if !reflect.DeepEqual(cfg.Monitor, want) {
		t.Fatalf("set: got %+v, want %+v", cfg.Monitor, want)
	}
	if cfg = mustLoad(t, okBase+"monitor {\n  address = \"127.0.0.1:9090\"\n  pprof = true\n}\n"); !cfg.Monitor.PProf {
		t.Fatal("pprof = true on loopback: not set")
	}

	cfg = mustLoad(t, okBase+handlers+"monitor {\n  address = \"localhost:9090\"\n  ready_handlers = []\n}\n")
	if len(cfg.Monitor.ReadyHandlers) != 0 {
		t.Fatalf("ready_handlers = [] gave %v", cfg.Monitor.ReadyHandlers)
	}
}

func TestMonitorErrors(t *testing.T) {
	handler := "handler \"a\" {\n  socket = \"a.sock\"\n}\n"
	cases := []struct {
		name, src, field, also string
	}{
		{"missing address", okBase + "monitor { #!\n  pprof = true\n}\n", "address", "required"},
		{"empty address", okBase + "monitor {\n  address = \"\" #!\n}\n", "address", "empty"},
		{"no port", okBase + "monitor {\n  address = \"127.0.0.1\" #!\n}\n", "address", "host:port"},
		{"all interfaces", okBase + "monitor {\n  address = \":9090\" #!\n}\n", "address", "allow_remote"},
		{"remote IP", okBase + "monitor {\n  address = \"0.0.0.0:9090\" #!\n}\n", "address", "allow_remote"},
		{"remote name", okBase + "monitor {\n  address = \"example.com:9090\" #!\n}\n", "address", "allow_remote"},
		{"remote profiler", okBase + "monitor {\n  address = \"0.0.0.0:9090\" #!\n  allow_remote = true\n  pprof = true\n}\n", "address", "loopback addresses only"},
		{"remote not allowed", okBase + "monitor {\n  address = \"10.0.0.1:9090\" #!\n  allow_remote = false\n}\n", "address", "allow_remote"},
		{"unknown handler", okBase + handler + "monitor {\n  address = \"127.0.0.1:9090\"\n  ready_handlers = [\"a\", \"z\"] #!\n}\n", "ready_handlers", `"z"`},
		{"reserved type", okBase + handler + "monitor {\n  address = \"127.0.0.1:9090\"\n  ready_handlers = [\"dummy\"] #!\n}\n", "ready_handlers", `"dummy"`},
		{"negative top_senders", okBase + "monitor {\n  address = \"127.0.0.1:9090\"\n  top_senders = -1 #!\n}\n", "top_senders", "at least 0"},
		{"twice", okBase + handler + "monitor {\n  address = \"127.0.0.1:9090\"\n  ready_handlers = [\"a\", \"a\"] #!\n}\n", "ready_handlers", "twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := write(t, c.src)
			_, err := Load(path)
			wantOneError(t, path, c.src, err, c.field, c.also)
		})
	}
}
