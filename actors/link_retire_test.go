package actors

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/wire"
)

// Two reloads in quick succession change handler x twice: A is replaced
// by B, then B by C. The router tells A to retire after the first switch
// and B after the second, but A may take its retireLink from its mailbox
// only after B has retired and stopped (A was busy, or the reloads came
// close together). The messages A still had queued then each get exactly
// one report, from the link that serves x by then. The test makes that
// order happen by sending the router's messages itself.
func TestRetiringLinkHandsItsQueueToTheCurrentLink(t *testing.T) {
	ts := startServer(t, reloadBase())
	root := ts.sys.Root
	reports := make(chan string, 16)
	collector := root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if r, ok := c.Message().(*report); ok {
			reports <- r.msg.Payload.ID
		}
	}))
	// Handlers that never listen: what is sent to them waits in their
	// queue, C's until its timeout.
	never := func(socket string, timeout time.Duration) *linkEntry {
		h := ts.cfg().Handlers[0]
		h.Name, h.Command, h.Timeout, h.StartTimeout = "x", []string{"sleep", "60"}, timeout, time.Minute
		e := ts.spawnLink(h, filepath.Join(ts.dir, socket))
		t.Cleanup(func() { root.RequestFuture(e.pid, &stopLink{}, linkStopTimeout).Wait() })
		return e
	}
	a, b, c := never("a.sock", time.Minute), never("b.sock", time.Minute), never("c.sock", time.Second)

	const n = 3
	for i := range n {
		root.Send(a.pid, &dispatch{replyTo: collector, id: strconv.Itoa(i), typ: "x",
			data: wire.RawValue(`{}`), codec: wire.CodecJSON})
	}
	eventually(t, "A's queue", func() bool {
		st, err := root.RequestFuture(a.pid, &getLinkState{}, stateTimeout).Result()
		return err == nil && st.(*LinkState).Queued == n
	})
	root.Send(ts.router, &setRoute{typ: "x", link: c.pid}) // both reloads switched the type
	bStopped := make(chan struct{})
	root.Send(b.pid, &retireLink{replaced: true, why: "changed by reload", done: func() { close(bStopped) }})
	select {
	case <-bStopped:
	case <-time.After(waitLong):
		t.Fatal("B did not stop")
	}
	root.Send(a.pid, &retireLink{replaced: true, why: "changed by reload", done: func() {}})

	got := make(map[string]int)
	deadline := time.After(waitLong)
	for len(got) < n {
		select {
		case id := <-reports:
			got[id]++
		case <-deadline:
			t.Fatalf("reports of %d of %d messages A had queued: %v", len(got), n, got)
		}
	}
	select {
	case id := <-reports:
		t.Fatalf("a second report of %s", id)
	case <-time.After(200 * time.Millisecond):
	}
}
