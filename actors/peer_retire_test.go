package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/wire"
)

// Two reloads in quick succession change peer K twice: link A is
// replaced by B, then B by C, which has K's right address. The second
// reload may retire B before A has taken its retirePeer from its mailbox.
// The message A still had waiting then goes to C, the link the peerBook
// names by now, and is delivered: not to B, which could only fail it. The
// test makes that order happen by sending the reloads' messages itself.
func TestRetiringPeerHandsItsQueueToTheCurrentLink(t *testing.T) {
	k := startServerWith(t, serverOptions{name: "K"}, fedHandlers()+peerBlock("J", freeAddr(t), fedSecret, fastPeer))
	j := startServerWith(t, serverOptions{name: "J"},
		fedHandlers()+peerBlock("K", freeAddr(t), fedSecret, fastPeer, `  timeout = "1m"`)) // nothing listens there
	gk := k.dial("G", wire.CodecCBOR)
	root := j.sys.Root
	results := make(chan *peerResult, 4)
	sender := root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if r, ok := c.Message().(*peerResult); ok {
			results <- r
		}
	}))

	a := j.peers.Load().byName["K"]
	root.Send(a, &peerSend{token: 1, replyTo: sender, origin: wire.Address{Server: "J", User: "T"}, typ: "h",
		data: wire.RawValue(`{"act":"relay","to":"G","body":1}`), codec: wire.CodecJSON, hops: 1})
	eventually(t, "a message waiting in A", func() bool { return j.peerState("K").Queued == 1 })

	nowhere, there := j.cfg().Peers[0], j.cfg().Peers[0]
	there.Address = k.Addr("tcp").String()
	b := j.spawnPeer(nowhere)
	c := peerEntry{cfg: there, pid: j.spawnPeer(there)}
	j.peers.Store(newPeerBook([]peerEntry{c}, false)) // as the second reload leaves it
	root.Send(b, &retirePeer{why: "changed by reload", replaced: true})
	if _, err := root.RequestFuture(b, &getPeerState{}, stateTimeout).Result(); err != nil {
		t.Fatal(err) // B has taken its retirePeer
	}
	root.Send(a, &retirePeer{why: "changed by reload", replaced: true})

	select {
	case r := <-results:
		if r.err != nil {
			t.Fatalf("the message A had waiting failed: %v", r.err)
		}
	case <-time.After(waitLong):
		t.Fatal("no result for the message A had waiting")
	}
	expectDelivery(t, gk, nil)
	select {
	case r := <-results:
		t.Fatalf("a second result: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
}
