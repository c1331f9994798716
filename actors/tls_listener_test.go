package actors

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// relayHandler is the example relay handler.
const relayHandler = `
handler "relay" {
  socket  = "relay.sock"
  command = ["$RELAY"]
}`

// A TLS listener beside a plain one: clients on either reach each other,
// with the same messages in both codecs, and the TLS one speaks TLS 1.3.
func TestTLSListener(t *testing.T) {
	pki := newPKI(t, "test CA")
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log}, pki.listener()+relayHandler)
	cfg := pki.tlsConfig(ts, "")

	for _, codecs := range [][2]wire.Codec{{wire.CodecCBOR, wire.CodecJSON}, {wire.CodecJSON, wire.CodecCBOR}} {
		overTLS, plain := ts.dialTLSClient(cfg, "T", codecs[0]), ts.dial("G", codecs[1])
		relayOnce(t, overTLS, "T", plain, "G")
		relayOnce(t, plain, "G", overTLS, "T")
		overTLS.Close()
		plain.Close()
	}

	r := ts.rawTLS(t, cfg, wire.CodecJSON)
	if v := r.conn.(*tls.Conn).ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("negotiated %s, want TLS 1.3", tls.VersionName(v))
	}
	r.login("W")
	r.dummy("ping")

	info := ts.serverInfo()["listeners"].([]map[string]any)
	if len(info) != 3 || info[0]["tls"] != false || info[2]["name"] != "tls" || info[2]["tls"] != true {
		t.Errorf("serverInfo listeners %v, want the tls listener marked", info)
	}
	if !strings.Contains(log.String(), "listener=tls") || !strings.Contains(log.String(), "tls=true") {
		t.Errorf("the listening line does not say the listener is TLS:\n%s", log)
	}
}

// relayOnce relays a body from one client to another and checks that it
// arrives whole, integers as integers.
func relayOnce(t *testing.T, from *client.Client, fromName string, to *client.Client, toName string) {
	t.Helper()
	want := body{N: -7, Big: 18446744073709551615, Text: "hallo wêreld", List: []string{"a"}}
	wantGood(t, sendForReport(t, from, "relay", "m-"+toName, map[string]any{"to": toName, "body": want}))
	var got body
	in := expectDelivery(t, to, &got)
	if got.N != want.N || got.Big != want.Big || got.Text != want.Text || len(got.List) != 1 || in.From.User != fromName {
		t.Fatalf("%s (%v) to %s (%v): got %+v from %+v, want %+v", fromName, from.Codec(), toName, to.Codec(), got, in.From, want)
	}
}
