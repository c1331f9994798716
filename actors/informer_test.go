package actors

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bester-project/bester/ipc"
	"github.com/bester-project/bester/wire"
)

// serverInfo is the informer's serverInfo answer.
type serverInfo struct {
	Name      string         `cbor:"name" json:"name"`
	Clients   int            `cbor:"clients" json:"clients"`
	Users     int            `cbor:"users" json:"users"`
	Listeners []listenerInfo `cbor:"listeners" json:"listeners"`
	Handlers  []LinkState    `cbor:"handlers" json:"handlers"`
}

// listenerInfo is one listener in serverInfo.
type listenerInfo struct {
	Name    string `cbor:"name" json:"name"`
	Network string `cbor:"network" json:"network"`
	Address string `cbor:"address" json:"address"`
	Codec   string `cbor:"codec" json:"codec"`
	TLS     bool   `cbor:"tls" json:"tls"`
}

// dialInformer connects to ts's informer and closes it when the test ends.
func (ts *testServer) dialInformer(t *testing.T, codec wire.Codec) *ipc.Informer {
	t.Helper()
	inf, err := ipc.DialInformer(filepath.Join(ts.dir, "informer.sock"), codec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inf.Close() })
	return inf
}

func listClients(t *testing.T, inf *ipc.Informer) []string {
	t.Helper()
	users, err := inf.ListClients()
	if err != nil {
		t.Fatal(err)
	}
	return users
}

func isClient(t *testing.T, inf *ipc.Informer, user string) bool {
	t.Helper()
	ok, err := inf.IsClient(user)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestInformer(t *testing.T) {
	ts := startServer(t, handlerBlock("h", "stream", "cbor")+handlerBlock("o", "oneshot", "json"))
	tc := ts.dial("T", wire.CodecCBOR)
	g := ts.dial("G", wire.CodecJSON)
	ts.dial("G", wire.CodecCBOR) // a second connection of the same user

	for _, codec := range []wire.Codec{wire.CodecCBOR, wire.CodecJSON} {
		inf := ts.dialInformer(t, codec)
		if got := listClients(t, inf); !slices.Equal(got, []string{"G", "T"}) {
			t.Fatalf("%s: listClients %v, want [G T]", codec, got)
		}
		if !isClient(t, inf, "T") || isClient(t, inf, "X") {
			t.Fatalf("%s: isClient T/X wrong", codec)
		}
		var info serverInfo
		if err := inf.Query(wire.InformerServerInfo, nil, &info); err != nil {
			t.Fatal(err)
		}
		if info.Name != "J" || info.Clients != 3 || info.Users != 2 {
			t.Fatalf("%s: serverInfo %+v", codec, info)
		}
		var names []string
		for _, l := range info.Listeners {
			names = append(names, l.Name)
			if l.Name == "tcp" && (l.Address != ts.Addr("tcp").String() || l.Network != "tcp4" || l.Codec != "auto" || l.TLS) {
				t.Fatalf("%s: tcp listener %+v, want plain tcp4 on %s", codec, l, ts.Addr("tcp"))
			}
		}
		if !slices.Equal(names, []string{"tcp", "unix"}) {
			t.Fatalf("%s: listeners %v", codec, info.Listeners)
		}
		if len(info.Handlers) != 2 {
			t.Fatalf("%s: handlers %+v", codec, info.Handlers)
		}
		for i, want := range []struct{ name, mode, codec string }{{"h", "stream", "cbor"}, {"o", "oneshot", "json"}} {
			h := info.Handlers[i]
			if h.Name != want.name || h.Mode != want.mode || h.Codec != want.codec || h.State != stateUp || h.PID == 0 {
				t.Fatalf("%s: handler %d is %+v, want %v up", codec, i, h, want)
			}
		}
		// A question the informer does not know is refused, and the
		// connection goes on.
		if err := inf.Query("noSuchQuestion", nil, nil); !errors.Is(err, ipc.ErrInformerRefused) {
			t.Fatalf("%s: unknown question: %v", codec, err)
		}
		if err := inf.Query(wire.InformerIsClient, 42, nil); !errors.Is(err, ipc.ErrInformerRefused) {
			t.Fatalf("%s: isClient without a name: %v", codec, err)
		}
		if !isClient(t, inf, "G") {
			t.Fatalf("%s: G not a client after a refused question", codec)
		}
	}

	// A user is listed while any of its connections is.
	inf := ts.dialInformer(t, wire.CodecJSON)
	g.Close()
	eventually(t, "one G connection counted", func() bool {
		var info serverInfo
		return inf.Query(wire.InformerServerInfo, nil, &info) == nil && info.Clients == 2
	})
	if !isClient(t, inf, "G") {
		t.Fatal("G no longer listed while it has a connection")
	}
	ts.dialInformer(t, wire.CodecCBOR) // not a client: not counted
	wantGood(t, sendForReport(t, tc, "builtin", "bye", map[string]any{"command": map[string]any{"type": "close"}}))
	recvEnd(t, tc)
	eventually(t, "T gone", func() bool {
		return slices.Equal(listClients(t, inf), []string{"G"}) && !isClient(t, inf, "T")
	})

	// A handler asks the informer itself.
	x := ts.dial("X", wire.CodecJSON)
	if err := x.Send("h", "info", act("info")); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Clients []string `json:"clients"`
	}
	expectDelivery(t, x, &got)
	if !slices.Equal(got.Clients, []string{"G", "X"}) {
		t.Fatalf("the informer told the handler %v, want [G X]", got.Clients)
	}
	wantGood(t, expectReport(t, x, "info"))
}

func TestInformerHandlerCodecs(t *testing.T) {
	ts := startServer(t, handlerBlock("c", "stream", "cbor")+handlerBlock("j", "stream", "json"))
	x := ts.dial("X", wire.CodecCBOR)
	for _, h := range []string{"c", "j"} {
		if err := x.Send(h, h, act("info")); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Clients []string `cbor:"clients"`
		}
		expectDelivery(t, x, &got)
		if !slices.Equal(got.Clients, []string{"X"}) {
			t.Fatalf("%s handler: the informer listed %v, want [X]", h, got.Clients)
		}
		wantGood(t, expectReport(t, x, h))
	}
}

func TestInformerQuit(t *testing.T) {
	ts := startServer(t, "")
	conn, err := net.Dial("unix", filepath.Join(ts.dir, "informer.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitLong))
	ask := func(typ string) {
		t.Helper()
		if err := wire.WriteFrame(conn, []byte(`{"command":{"type":"`+typ+`"}}`)); err != nil {
			t.Fatal(err)
		}
	}
	ask(wire.InformerListClients)
	body, err := wire.ReadFrame(conn, wire.DefaultMaxFrame, nil)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Status string   `json:"status"`
		Data   []string `json:"data"`
	}
	if err := wire.CodecJSON.UnmarshalMap(body, &resp); err != nil || resp.Status != wire.InformerOK || resp.Data == nil || len(resp.Data) != 0 {
		t.Fatalf("listClients answered %s (%v)", body, err)
	}
	ask(wire.InformerQuit)
	if n, err := conn.Read(make([]byte, 16)); !errors.Is(err, io.EOF) {
		t.Fatalf("after quit: read %d bytes, %v; want the connection closed", n, err)
	}
}
