package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/wire"
)

// localDelivery hands one handler output to the connections this server
// holds of each user it is asked for: the handler link does so for a
// sendClients, and the cluster inbox for a batch another member sent. The
// data is converted at most once per codec, and each codec's connections
// share one deliver message.
//
// It queues the delivery straight into each connection's outbox, which
// any goroutine may push to, rather than through the connection actor's
// mailbox: a hop less per delivery. The actor hears of it only when the
// outbox refuses (notReading), and then disconnects the client as if it
// had queued the delivery itself.
type localDelivery struct {
	typ      string       // payload.type the recipients see
	from     wire.Address // who the recipients are told wrote it
	data     wire.RawValue
	codec    wire.Codec // the codec data is in
	maxFrame int

	converted  [3]wire.RawValue // by wire.Codec
	convErr    [3]error
	deliveries [3]*deliver // by wire.Codec: one message for every connection
	// detail says why a connection could not be sent to (its codec cannot
	// carry the data); empty when none failed.
	detail  string
	rcptBuf [4]recipient // a user rarely has more connections: no allocation
}

// to delivers to every connection of user in reg and reports whether any
// got it.
func (ld *localDelivery) to(ctx actor.SenderContext, reg *registry, user string) bool {
	sent := false
	for _, rc := range reg.lookup(user, ld.rcptBuf[:0]) {
		if ld.converted[rc.codec] == nil && ld.convErr[rc.codec] == nil {
			ld.converted[rc.codec], ld.convErr[rc.codec] = wire.ConvertWithin(ld.data, ld.codec, rc.codec, ld.maxFrame)
		}
		if err := ld.convErr[rc.codec]; err != nil {
			ld.detail = "data cannot be sent to a " + rc.codec.String() + " client: " + err.Error()
			continue
		}
		dl := ld.deliveries[rc.codec]
		if dl == nil {
			dl = &deliver{msg: wire.Delivery{
				Header:  wire.DeliveryHeader{MessageType: wire.MessageTypeReceived, From: ld.from},
				Payload: wire.DeliveryPayload{Type: ld.typ, Data: ld.converted[rc.codec]},
			}}
			ld.deliveries[rc.codec] = dl
		} else {
			dl.shared.Store(true)
		}
		if !rc.out.push(dl) {
			ctx.Send(rc.pid, &notReading{})
		}
		sent = true
	}
	return sent
}
