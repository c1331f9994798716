package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/cluster/pb"
	"github.com/bester-project/bester/wire"
)

// A batch that reaches a member link after the server's stop told it to
// fail what it holds (it was still in the link's mailbox) is answered
// shutting_down, as those it held were, not as if the member had left.
func TestMemberLinkStoppedAnswersShuttingDown(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	results := make(chan *memberResult, 1)
	asker := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if r, ok := c.Message().(*memberResult); ok {
			results <- r
		}
	}))
	link := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return newMemberLink(&memberSettings{id: "m2", address: "127.0.0.1:1", timeout: time.Minute, window: 4,
			counts: &clusterCounts{}, stats: newMemberStats("m2")})
	}))
	if _, err := sys.Root.RequestFuture(link, &stopMember{}, waitLong).Result(); err != nil {
		t.Fatal(err)
	}
	sys.Root.Send(link, &memberSend{token: 7, replyTo: asker, batch: &pb.DeliverBatch{Users: []string{"G"}}})
	select {
	case r := <-results:
		if r.token != 7 || r.err == nil || r.err.Code != wire.CodeShuttingDown {
			t.Fatalf("result %+v (error %v), want token 7 failed with shutting_down", r, r.err)
		}
	case <-time.After(waitLong):
		t.Fatal("no result for a batch sent after stopMember")
	}
}
