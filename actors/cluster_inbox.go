package actors

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/cluster/pb"
	"github.com/bester-project/bester/wire"
)

// inboxName is the name the inbox actor is spawned under: the other
// members reach it as (this member's address, inboxName).
const inboxName = "bester-inbox"

// errNoCodec refuses a batch that does not say which codec its data is in.
var errNoCodec = errors.New("the batch names no codec")

// inbox is the actor that other members of the cluster deliver to: it
// hands each DeliverBatch of a DeliverBatches to the connections this
// member holds of its users, as a handler link hands a sendClients, and
// acknowledges them all in one DeliverAcks, each with the users it holds
// none of. It also lists its users for the informer's
// cluster-wide questions. It only sends: it never waits on anyone.
type inbox struct {
	registry *registry
	maxFrame int
	log      hclog.Logger
}

func (in *inbox) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *pb.DeliverBatches:
		acks := make([]pb.DeliverAck, len(m.Batches))
		answer := &pb.DeliverAcks{Acks: make([]*pb.DeliverAck, len(m.Batches))}
		for i, batch := range m.Batches {
			acks[i].BatchId, acks[i].Undelivered = batch.BatchId, in.deliver(ctx, batch)
			answer.Acks[i] = &acks[i]
		}
		ctx.Respond(answer)
	case *pb.ListUsers:
		ctx.Respond(&pb.UserList{Users: in.registry.names()})
	}
}

// deliver delivers batch to the local connections of its users and
// returns the users it reached none of. A batch never goes further than
// this member: nothing here passes it on.
func (in *inbox) deliver(ctx actor.Context, batch *pb.DeliverBatch) []string {
	codec, err := wire.ParseCodec(batch.Codec)
	if err == nil && codec == wire.CodecAuto {
		err = errNoCodec
	}
	if err != nil || batch.Hops > maxHops {
		in.log.Warn("delivery from another member refused", "batch", batch.BatchId, "codec", batch.Codec,
			"hops", batch.Hops, "error", err)
		return batch.Users
	}
	ld := localDelivery{typ: batch.Type, from: wire.Address{Server: batch.From.GetServer(), User: batch.From.GetUser()},
		data: batch.Data, codec: codec, maxFrame: in.maxFrame}
	var undelivered []string
	for _, user := range dedup(batch.Users) {
		if !ld.to(ctx, in.registry, user) {
			undelivered = append(undelivered, user)
		}
	}
	if ld.detail != "" {
		in.log.Debug("delivery from another member not sent to some connections", "batch", batch.BatchId, "detail", ld.detail)
	}
	return undelivered
}
