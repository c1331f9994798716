package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/cluster/pb"
	"github.com/bester-project/bester/wire"
)

// memberSettings is what a member link needs: which member, and the
// delivery settings of the cluster block.
type memberSettings struct {
	id      string // the member's id in the member list
	address string // host:port its actors are reached at
	timeout time.Duration
	window  int
	counts  *clusterCounts
	stats   *memberStats
}

// memberLink is the actor that sends DeliverBatches to one other member
// of the cluster and matches their acknowledgements, one per member. It
// bounds what waits on that member: past window unacknowledged batches it
// refuses with overloaded at once, since protoactor's remote layer has no
// back-pressure of its own. Every memberSend gets exactly one
// memberResult: on the ack, on the timeout, when the member leaves the
// member list, or at stop.
//
// The batches that arrive while the link is busy go to the member as one
// DeliverBatches: each message across members costs far more in the
// remote layer (encoding, framing, mailbox hops on both ends) than the
// batch it carries. The first batch of a group sends the link a flush,
// which it handles after the memberSends already in its mailbox; a group
// that reaches maxGroupBatches or maxGroupBytes goes at once. Timeouts and
// failures stay per batch.
type memberLink struct {
	*memberSettings
	self  *actor.PID
	inbox *actor.PID // built in this server's actor system: a PID caches the process it resolved to

	nextBatch  uint64
	pending    map[uint64]sentBatch
	deadlines  []expiry // batch ids in send order; all share one timeout
	cancelTick cancelFunc
	// closed is what every batch fails with from now on: the member left
	// the list, or the server is stopping; nil while the link sends.
	closed *wire.Error

	group      []*pb.DeliverBatch // batches waiting for the flush, counted in pending
	groupBytes int                // their data and user names
}

// The bounds of one DeliverBatches, well within the 4 MiB gRPC takes by
// default (a batch may still go alone past maxGroupBytes).
const (
	maxGroupBatches = 256
	maxGroupBytes   = 1 << 20
)

// sentBatch is a batch waiting for its acknowledgement.
type sentBatch struct {
	token   uint64
	replyTo *actor.PID
	sent    time.Time
}

// Messages of member links.
type (
	// memberSend asks a member link to deliver a batch (its BatchId is the
	// link's to set) and to answer replyTo with one memberResult.
	memberSend struct {
		token   uint64
		replyTo *actor.PID
		batch   *pb.DeliverBatch
	}
	// memberResult answers a memberSend: the users of the batch the member
	// does not hold, or err when the member did not acknowledge it.
	memberResult struct {
		token       uint64
		member      string
		undelivered []string
		err         *wire.Error
	}
	// flushGroup tells a member link to send the batches it gathered.
	flushGroup struct{}
	// memberGone tells a member link that its member left the member list.
	memberGone struct{}
	// memberExpired ends a gone member's link, once handler links can no
	// longer hold a member list that names it.
	memberExpired struct{}
	// stopMember asks a member link to fail what it holds with
	// shutting_down and answer memberStopped.
	stopMember    struct{}
	memberStopped struct{}
)

func newMemberLink(s *memberSettings) *memberLink {
	return &memberLink{memberSettings: s, pending: make(map[uint64]sentBatch)}
}

func (m *memberLink) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.self = ctx.Self()
		m.inbox = actor.NewPID(m.address, inboxName)
		tick := max(5*time.Millisecond, min(m.timeout/8, 200*time.Millisecond))
		m.cancelTick = timers{root: ctx.ActorSystem().Root, pid: m.self}.sendEvery(tick, &sweep{})
	case *memberSend:
		m.send(ctx, msg)
	case *flushGroup:
		m.flush(ctx)
	case *pb.DeliverAcks:
		now := time.Now()
		for _, ack := range msg.Acks {
			if p, ok := m.pending[ack.BatchId]; ok {
				delete(m.pending, ack.BatchId)
				m.stats.rtt.Observe(now.Sub(p.sent).Seconds())
				ctx.Send(p.replyTo, &memberResult{token: p.token, member: m.id, undelivered: ack.Undelivered})
			}
		}
	case *sweep:
		m.sweep(ctx)
	case *memberGone:
		// Nothing waits any more, so nothing needs sweeping: a link the
		// server's stop does not reach (it left the book) holds no timer
		// but the one that ends it.
		m.closed = wire.Errorf(wire.CodePeerUnavailable, "member %s left the cluster", m.id)
		m.failAll(ctx, m.closed)
		m.cancelTick()
		timers{root: ctx.ActorSystem().Root, pid: m.self}.sendOnce(fanoutGrace, &memberExpired{})
	case *memberExpired:
		ctx.Stop(m.self)
	case *stopMember:
		m.closed = wire.Errorf(wire.CodeShuttingDown, "server is shutting down")
		m.failAll(ctx, m.closed)
		ctx.Respond(&memberStopped{})
	case *actor.Stopping:
		m.cancelTick()
		return
	}
	m.stats.unacked.Store(int64(len(m.pending)))
}

// send adds one batch to the group for the member's inbox, or refuses it
// at once.
func (m *memberLink) send(ctx actor.Context, s *memberSend) {
	switch {
	case m.closed != nil:
		m.answer(ctx, s.token, s.replyTo, m.closed)
		return
	case len(m.pending) >= m.window:
		m.answer(ctx, s.token, s.replyTo, wire.Errorf(wire.CodeOverloaded,
			"member %s has %d deliveries waiting for their acknowledgement (delivery_window)", m.id, len(m.pending)))
		return
	}
	m.nextBatch++
	s.batch.BatchId = m.nextBatch
	now := time.Now()
	m.pending[m.nextBatch] = sentBatch{token: s.token, replyTo: s.replyTo, sent: now}
	m.deadlines = append(m.deadlines, expiry{id: m.nextBatch, at: now.Add(m.timeout)})
	if len(m.group) == 0 {
		ctx.Send(m.self, &flushGroup{})
	}
	m.group = append(m.group, s.batch)
	m.groupBytes += len(s.batch.Data)
	for _, u := range s.batch.Users {
		m.groupBytes += len(u)
	}
	if len(m.group) >= maxGroupBatches || m.groupBytes >= maxGroupBytes {
		m.flush(ctx)
	}
}

// flush sends the gathered batches to the member's inbox in one
// DeliverBatches, with this link as the sender its acks go to.
func (m *memberLink) flush(ctx actor.Context) {
	if len(m.group) == 0 {
		return
	}
	ctx.Request(m.inbox, &pb.DeliverBatches{Batches: m.group})
	m.counts.sent.Add(uint64(len(m.group)))
	m.counts.messages.Add(1)
	m.group, m.groupBytes = nil, 0 // the message owns the slice until the remote layer has encoded it
}

// answer fails one batch with err.
func (m *memberLink) answer(ctx actor.Context, token uint64, replyTo *actor.PID, err *wire.Error) {
	m.counts.fail(err.Code)
	ctx.Send(replyTo, &memberResult{token: token, member: m.id, err: err})
}

// sweep fails the batches whose acknowledgement is overdue.
func (m *memberLink) sweep(ctx actor.Context) {
	m.deadlines = expire(m.deadlines, m.pending, time.Now(), func(p sentBatch) {
		m.answer(ctx, p.token, p.replyTo, wire.Errorf(wire.CodePeerUnavailable,
			"member %s did not acknowledge the delivery within %s", m.id, m.timeout))
	})
}

// failAll fails every batch waiting for its acknowledgement with err.
func (m *memberLink) failAll(ctx actor.Context, err *wire.Error) {
	for id, p := range m.pending {
		delete(m.pending, id)
		m.answer(ctx, p.token, p.replyTo, err)
	}
	m.deadlines = nil
	m.group, m.groupBytes = nil, 0
}
