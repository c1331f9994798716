package actors

import (
	"os"
	"strings"
	"testing"

	"github.com/bester-project/bester/wire"
)

// A peer added by a reload is reachable by sendServers at once; the
// client connected throughout keeps working.
func TestReloadPeerAdded(t *testing.T) {
	aj := freeAddr(t)
	k := startServerWith(t, serverOptions{name: "K"}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer))
	j := startServerWith(t, serverOptions{name: "J", tcp: aj}, fedHandlers())
	tj, gk := j.dial("T", wire.CodecJSON), k.dial("G", wire.CodecCBOR)
	r := sendForReport(t, tj, "relay", "before", map[string]any{"to": "G@K", "body": 1})
	wantBad(t, r, wire.CodePeerUnavailable)

	j.reload(fedHandlers() + peerBlock("K", k.Addr("tcp").String(), fedSecret, fastPeer))
	relayAcross(t, tj, gk, "T", "J", "G@K", "after")
	echoWorks(t, tj, "h", "still-connected")
}

// A removed peer's message in flight is reported peer_unavailable, once;
// sendServers to it then gets what an unknown peer gets, and the
// connection it opened to this server is closed.
func TestReloadPeerRemoved(t *testing.T) {
	j, k := startPair(t)
	tj, gk := j.dial("T", wire.CodecJSON), k.dial("G", wire.CodecCBOR)
	relayAcross(t, tj, gk, "T", "J", "G@K", "before")
	// K's handler holds this one for a while: it is in flight on J's link.
	if err := tj.Send("h", "held", act("route", "route", "K", "then", "late", "ms", 5000)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a message in flight to K", func() bool { return j.peerState("K").InFlight == 1 })

	j.reload(fedHandlers())
	r := expectReport(t, tj, "held")
	wantBad(t, r, wire.CodePeerUnavailable)
	if !strings.Contains(r.Header.Detail, "removed by reload") {
		t.Fatalf("report %+v", r)
	}
	r = sendForReport(t, tj, "relay", "after", map[string]any{"to": "G@K", "body": 1})
	wantBad(t, r, wire.CodePeerUnavailable)
	if !strings.Contains(r.Header.Detail, `no peer named "K"`) {
		t.Fatalf("report %+v", r)
	}
	if peers := j.PeerStates(); len(peers) != 0 {
		t.Fatalf("removed peer still listed: %+v", peers)
	}
	// J closed the connection K had opened to it.
	eventually(t, "K's connection to J closed", func() bool {
		st := k.peerState("J")
		return st.Connects > 1 || st.LastError != ""
	})
	echoWorks(t, tj, "h", "still-connected")
}

// A peer whose address changes gets a new link, which takes over the
// message queued for the old address and delivers it. A change of
// another field fails the message in flight on the old connection, once.
// The connection the peer opened to this server stays: its secret did not
// change.
func TestReloadPeerChanged(t *testing.T) {
	aj := freeAddr(t)
	k := startServerWith(t, serverOptions{name: "K"}, fedHandlers()+peerBlock("J", aj, fedSecret, fastPeer))
	j := startServerWith(t, serverOptions{name: "J", tcp: aj},
		fedHandlers()+peerBlock("K", freeAddr(t), fedSecret, fastPeer, `  timeout = "1m"`)) // nothing listens there
	tj, gk := j.dial("T", wire.CodecJSON), k.dial("G", wire.CodecCBOR)
	if err := tj.Send("relay", "queued", map[string]any{"to": "G@K", "body": 1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a message queued for K", func() bool { return j.peerState("K").Queued == 1 })

	kAddr := k.Addr("tcp").String()
	j.reload(fedHandlers() + peerBlock("K", kAddr, fedSecret, fastPeer, `  timeout = "1m"`))
	wantGood(t, expectReport(t, tj, "queued"))
	expectDelivery(t, gk, nil)
	if st := j.peerState("K"); st.Address != kAddr || st.State != stateUp {
		t.Fatalf("peer K: %+v, want up at %s", st, kAddr)
	}

	// K's handler holds this one for a while: it is in flight on J's link
	// when the link is replaced.
	if err := tj.Send("h", "held", act("route", "route", "K", "then", "late", "ms", 5000)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a message in flight to K", func() bool { return j.peerState("K").InFlight == 1 })
	j.reload(fedHandlers() + peerBlock("K", kAddr, fedSecret, fastPeer, `  timeout = "30s"`))
	r := expectReport(t, tj, "held")
	wantBad(t, r, wire.CodePeerUnavailable)
	if !strings.Contains(r.Header.Detail, "changed by reload") {
		t.Fatalf("report %+v", r)
	}
	relayAcross(t, tj, gk, "T", "J", "G@K", "after")
	echoWorks(t, tj, "h", "still-connected")
	// K started before J: its own link to J connects once J listens, after
	// a backoff that may outlast everything above.
	eventually(t, "K's link to J up", func() bool { return k.peerState("J").State == stateUp })
	if st := k.peerState("J"); st.Connects != 1 {
		t.Fatalf("K's link to J: %+v", st)
	}
}

// A peer whose secret changes on this server only: the new link's
// credentials are refused by the peer, and the connection the peer had
// opened here with the old secret is closed.
func TestReloadPeerSecretChanged(t *testing.T) {
	j, k := startPair(t)
	tj := j.dial("T", wire.CodecJSON)
	j.reload(fedHandlers() + peerBlock("K", k.Addr("tcp").String(), "a-new-secret", fastPeer))
	eventually(t, "K refuses J's new secret", func() bool {
		return strings.Contains(j.peerState("K").LastError, "unauthorized")
	})
	eventually(t, "K's connection to J closed", func() bool {
		st := k.peerState("J")
		return st.Connects > 1 || st.LastError != ""
	})
	echoWorks(t, tj, "h", "still-connected")
}

// A reload warns, as a start does, when the file now holds peer secrets
// that other users may read.
func TestReloadWarnsOfReadableSecrets(t *testing.T) {
	r := startReloadable(t, "", reloadBase())
	o := r.opts
	writeConfig(t, r.dir, o, reloadBase()+peerBlock("K", freeAddr(t), fedSecret, fastPeer))
	if err := os.Chmod(r.cfgPath, 0o644); err != nil {
		t.Fatal(err)
	}
	before := len(r.log.String())
	r.Reload()
	if logged := r.log.String()[before:]; !strings.Contains(logged, "holds peer secrets but other users may read it") {
		t.Fatalf("no warning:\n%s", logged)
	}
}
