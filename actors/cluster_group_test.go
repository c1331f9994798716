//go:build !race

package actors

import (
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/cluster/pb"
	"github.com/bester-project/bester/wire"
)

// The batches a member link is handed while it is busy go to the member
// in few messages, and each still gets exactly one result with its own
// undelivered users. The link's mailbox is held suspended while the
// batches are queued, so that it is busy for certain; more batches than
// one group holds are sent, so that the cap is crossed too.
func TestClusterMemberLinkGroupsBatchesSentWhileBusy(t *testing.T) {
	servers := startCluster(t, staticCluster(t, 2), monitorBlock(""))
	a, b := servers[0], servers[1]
	g := b.dial("G", wire.CodecCBOR)
	link := a.cluster.links.book.Load().byID[b.cluster.member.ID()].pid

	results := make(chan *memberResult, 2*maxGroupBatches)
	collector := a.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if r, ok := ctx.Message().(*memberResult); ok {
			results <- r
		}
	}))
	defer a.sys.Root.Stop(collector)

	data, err := wire.CodecCBOR.Marshal("grouped")
	if err != nil {
		t.Fatal(err)
	}
	process, ok := a.sys.ProcessRegistry.Get(link)
	if !ok {
		t.Fatal("the member link is not running")
	}
	const n = maxGroupBatches + 44
	process.SendSystemMessage(link, &actor.SuspendMailbox{})
	for i := range n {
		users := []string{"G"}
		if i%2 == 1 {
			users = append(users, "nobody")
		}
		a.sys.Root.Send(link, &memberSend{token: uint64(i), replyTo: collector, batch: &pb.DeliverBatch{
			Type: "relay", From: &pb.Origin{Server: "J", User: "T"}, Users: users, Data: data, Codec: "cbor", Hops: 1}})
	}
	process.SendSystemMessage(link, &actor.ResumeMailbox{})

	seen := make(map[uint64]bool, n)
	for len(seen) < n {
		var r *memberResult
		select {
		case r = <-results:
		case <-time.After(waitLong):
			t.Fatalf("%d results of %d batches", len(seen), n)
		}
		if seen[r.token] {
			t.Fatalf("two results for batch %d", r.token)
		}
		seen[r.token] = true
		want := []string(nil)
		if r.token%2 == 1 {
			want = []string{"nobody"}
		}
		if r.err != nil || !slices.Equal(r.undelivered, want) {
			t.Fatalf("batch %d: err %v, undelivered %v, want %v", r.token, r.err, r.undelivered, want)
		}
	}
	for range n {
		var got string
		if expectDelivery(t, g, &got); got != "grouped" {
			t.Fatalf("G got %q", got)
		}
	}
	select {
	case r := <-results:
		t.Fatalf("a second result for batch %d", r.token)
	case <-time.After(100 * time.Millisecond):
	}

	s := a.scrapeMetrics()
	s.wantValue(t, n, "bester_cluster_batches_sent_total")
	s.wantValue(t, 2, "bester_cluster_messages_sent_total") // one full group, then the rest
}
