//go:build !race

package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/bester-project/bester/cluster/pb"
	"github.com/bester-project/bester/wire/tlsconf"
)

// memberTLS issues a member certificate for loopback from ca.
func memberTLS(t *testing.T, ca *tlsconf.CA, name string) *MemberTLS {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(tlsconf.LocalServer(name))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	return &MemberTLS{Certificate: cert, CAs: pool}
}

// ackingInbox answers every DeliverBatch with its ack and reports the
// batch ids it saw on seen.
func ackingInbox(seen chan<- uint64) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		if batch, ok := ctx.Message().(*pb.DeliverBatch); ok {
			seen <- batch.BatchId
			ctx.Respond(&pb.DeliverAck{BatchId: batch.BatchId})
		}
	})
}

// startAckingPair starts two members from configs, waits until they see
// each other, and spawns an ackingInbox on the second; seen gets the
// batch ids it acknowledged.
func startAckingPair(t *testing.T, configs []Config) (sender, receiver *Member, inbox *actor.PID, seen chan uint64) {
	t.Helper()
	members := startMembers(t, configs)
	waitForFullView(t, members, 20*time.Second)
	sender, receiver = members[0], members[1]
	seen = make(chan uint64, 16)
	inbox, err := receiver.cluster.ActorSystem.Root.SpawnNamed(ackingInbox(seen), "test-inbox")
	if err != nil {
		t.Fatal(err)
	}
	return sender, receiver, inbox, seen
}

// Two members with mutual TLS see each other, and a DeliverBatch request
// from one to an actor on the other is answered with its DeliverAck: the
// generated messages cross the remote layer over TLS. A process without a
// member certificate reaches nothing.
func TestMembersOverMutualTLSDeliverAndRefuseOutsiders(t *testing.T) {
	ca, err := tlsconf.NewCA("cluster test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	configs := staticConfigs(t, "tls", 2)
	for i := range configs {
		configs[i].TLS = memberTLS(t, ca, "member-"+strconv.Itoa(i))
	}
	sender, receiver, inbox, seen := startAckingPair(t, configs)
	// A PID caches the process it resolved to on first use, so one PID
	// shared by two actor systems would send the outsider's message down
	// the sender's connection: each gets its own.
	inboxAt := func() *actor.PID { return actor.NewPID(receiver.Address(), inbox.Id) }

	answer, err := sender.cluster.ActorSystem.Root.RequestFuture(inboxAt(), &pb.DeliverBatch{BatchId: 1, Users: []string{"G"}}, 10*time.Second).Result()
	if err != nil {
		t.Fatalf("member to member request over mTLS: %v", err)
	}
	if ack, ok := answer.(*pb.DeliverAck); !ok || ack.BatchId != 1 {
		t.Fatalf("answer %T %v, want DeliverAck for batch 1", answer, answer)
	}
	outsiderSystem := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return testLogger(t) }))
	outsider := remote.NewRemote(outsiderSystem, remote.Configure("127.0.0.1", 0))
	outsider.Start()
	defer outsider.Shutdown(false)
	_, err = outsiderSystem.Root.RequestFuture(inboxAt(), &pb.DeliverBatch{BatchId: 666}, 3*time.Second).Result()
	if err == nil {
		t.Fatal("a plaintext outsider's request was answered")
	}

	close(seen)
	for id := range seen {
		if id != 1 {
			t.Fatalf("the inbox saw batch %d, which only the outsider sent", id)
		}
	}
}
