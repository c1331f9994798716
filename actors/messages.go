package actors

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bester-project/bester/wire"
)

// dispatch is one message on its way to a handler: from a client
// connection's reader to the link of its type (looked up in the routes),
// and from a link to the router, which forwards it to a link, when a
// handler answers sendHandler, or when a reload replaced the link and it
// hands back its queue.
type dispatch struct {
	replyTo *actor.PID // the connection that gets the status report
	// sender is replyTo's connection, whose outbox a report may go
	// straight into (see clientConn.reportDirect); nil to always send it
	// to replyTo.
	sender *clientConn
	id     string       // the sender's payload.id
	typ    string       // payload.type: the handler's name
	from   wire.From    // who the handler is told sent it
	origin wire.Address // who recipients are told wrote it
	data   wire.RawValue
	codec  wire.Codec // the codec data is encoded in
	hops   int        // handlers this message has already passed through
	// held is what the message's frame was charged to budget, given back
	// with its report (see reply).
	held   int64
	budget *budget
	// stats counts the message under its type; nil when metrics are off.
	stats *typeStats
	// req is the message as a stream link writes it to its handler, kept
	// here to spare an allocation; written by the link before it queues it.
	req wire.HandlerRequest
}

// reply sends d's status report and gives back what its frame was
// charged to the buffer budget: at the report, so that the budget counts
// large messages while they are in flight, and even when the sender has
// gone.
func (d *dispatch) reply(ctx actor.SenderContext, r *report) {
	if d.held > 0 {
		d.budget.release(d.held)
	}
	r.kind = d.stats
	if r.slotFreed || !d.sender.reportDirect(ctx, d.replyTo, r) {
		ctx.Send(d.replyTo, r)
	}
}

// report is the status report for one dispatched message, built where
// its outcome is known; the connection writes it as it is.
type report struct {
	msg wire.StatusReport // in the same allocation as the message
	// slotFreed says the message's in-flight slot was given back already,
	// by leftServer.
	slotFreed bool
	// kind counts the report under the type of the message it is about;
	// nil counts it as "other".
	kind *typeStats
}

// leftServer tells a peer server's connection that one of its messages
// left this server by sendServers: its in-flight slot is free again, and
// its report (with slotFreed) comes once the next servers have answered.
// Holding the slot meanwhile would let two servers that pass messages back
// and forth fill each other's slots and wait on each other.
type leftServer struct{}

func goodReport(id string) *report {
	return &report{msg: *wire.GoodReport(id)}
}

// badReport reports err; undelivered lists the recipients not reached.
func badReport(id string, err *wire.Error, undelivered []string) *report {
	return &report{msg: *wire.BadReport(id, err, undelivered)}
}

// deliver carries a handler's output to the recipient connections that
// speak one codec, its data already in that codec. The one message goes to
// all of them; when there are several, the first writer to need the frame
// encodes it and the others copy its bytes.
type deliver struct {
	msg wire.Delivery
	// shared is set when a second connection is sent the delivery. A
	// writer that found it unset encoded a copy of its own, which is as
	// correct.
	shared  atomic.Bool
	encoded sync.Once
	frame   []byte
	err     error
}

// appendFrame appends the delivery's frame in codec to buf.
func (d *deliver) appendFrame(buf *bytes.Buffer, codec wire.Codec) error {
	if !d.shared.Load() {
		return codec.AppendFrame(buf, &d.msg)
	}
	d.encoded.Do(func() {
		var b bytes.Buffer
		d.err = codec.AppendFrame(&b, &d.msg)
		d.frame = b.Bytes()
	})
	buf.Write(d.frame)
	return d.err
}

// dummyReply answers a `dummy` message in place of its status report.
type dummyReply struct {
	id string
}

// authenticated tells a connection actor who its reader let in. The actor
// closes registered once the user is in the registry (at once for a peer
// server, which is never in it).
type authenticated struct {
	user       string
	peer       string // set instead of user for a peer server
	codec      wire.Codec
	registered chan struct{}
	// limits are the user's rate limiters, set by the actor before it
	// closes registered; nil when there are none.
	limits *userLimits
	// sent counts the user's messages for the monitor's top senders, set
	// with limits; nil when they are not counted.
	sent *sendCount
}

// readerDone tells a connection actor its reader goroutine has ended, and
// why (for the debug log).
type readerDone struct {
	reason string
}

// drain asks the acceptor, and through it every connection, to stop
// reading. A connection answers quiet once every message it accepted has
// been reported, and stays open: other connections' messages may still be
// delivered to it.
type drain struct{}

// quiet tells the acceptor that a draining connection has nothing in
// flight and will read nothing more.
type quiet struct{ conn *actor.PID }

// closeConns asks the acceptor, and through it every connection, to close
// once the connection's last reports are written. It is a user message, so
// a connection has queued every delivery sent to it before it.
type closeConns struct{}

// stopLink asks a handler link to fail what it holds with shutting_down,
// stop its handler process and answer linkStopped.
type stopLink struct{}

// linkStopped answers stopLink.
type linkStopped struct{}

// setRoute changes the router's table (a reload): messages of type typ go
// to link from now on, or get unknown_type when link is nil. The link that
// served typ until now gets retire from the router.
type setRoute struct {
	typ    string
	link   *actor.PID
	retire *retireLink
}

// routesSettled asks the router to answer once it has applied the
// setRoutes sent before it: a reload waits for that.
type routesSettled struct{}

// retireLink tells a handler link that its type now goes to another
// link (replaced) or to none. A replaced link hands its queue back to the
// router; it finishes the messages in flight within its timeout, fails
// what is left with handler_unavailable, stops its process and then
// itself; done runs last, on the link's goroutine.
type retireLink struct {
	replaced bool
	why      string // what the reload did to the handler: "removed by reload"...
	done     func()
}

// retryLink asks a failed handler link to try again now (SIGHUP).
type retryLink struct{}

// getLinkState asks a handler link for a LinkState.
type getLinkState struct{}

// LinkState describes a handler link for the informer's serverInfo and for
// readiness checks.
type LinkState struct {
	Name        string `cbor:"name" json:"name"`
	State       string `cbor:"state" json:"state"`
	Mode        string `cbor:"mode" json:"mode"`
	Codec       string `cbor:"codec" json:"codec"`
	Connections int    `cbor:"connections" json:"connections"`
	InFlight    int    `cbor:"in_flight" json:"in_flight"`
	Queued      int    `cbor:"queued" json:"queued"`
	Restarts    int    `cbor:"restarts" json:"restarts"`
	PID         int    `cbor:"pid,omitempty" json:"pid,omitempty"`
}

// peerSend asks a peer link to pass a handler's output on to its peer
// server (sendServers). The peer link answers with exactly one peerResult.
type peerSend struct {
	token   uint64     // the link's fan-out this belongs to
	replyTo *actor.PID // the handler link that waits for the result
	origin  wire.Address
	typ     string // payload.type at the peer: the handler's name
	data    wire.RawValue
	codec   wire.Codec // the codec data is encoded in
	hops    int        // passes so far, this one included
}

// peerResult answers a peerSend: nil err once the peer reported the
// message good, else why it was not delivered (the peer's own error code
// when it reported one).
type peerResult struct {
	token uint64
	peer  string
	err   *wire.Error
}

// stopPeer asks a peer link to fail what it holds with shutting_down,
// close its connection and answer peerStopped.
type stopPeer struct{}

// peerStopped answers stopPeer.
type peerStopped struct{}

// retirePeer tells a peer link that a reload removed or changed its peer
// (why says which): when the peer was changed (replaced), it hands the
// messages not sent yet to the link that serves the peer now; it fails
// the rest with peer_unavailable, closes its connection and stops.
type retirePeer struct {
	why      string
	replaced bool
}

// dropPeerConns asks the acceptor, and through it every connection, to
// close the connections that the named peer servers opened to this one:
// a reload removed those peers or changed their secret, so what the
// connection proved when it began no longer holds.
type dropPeerConns struct{ peers map[string]bool }

// retryPeer asks a peer link that is backing off to connect now (SIGHUP).
type retryPeer struct{}

// getPeerState asks a peer link for a PeerState.
type getPeerState struct{}

// PeerState describes a peer link for the informer's serverInfo.
type PeerState struct {
	Name     string `cbor:"name" json:"name"`
	Address  string `cbor:"address" json:"address"`
	State    string `cbor:"state" json:"state"`
	TLS      bool   `cbor:"tls" json:"tls"`
	Queued   int    `cbor:"queued" json:"queued"`
	InFlight int    `cbor:"in_flight" json:"in_flight"`
	Connects int    `cbor:"connects" json:"connects"`
	// LastError is why the last attempt failed or the last connection
	// ended; empty while the link is up.
	LastError string `cbor:"last_error,omitempty" json:"last_error,omitempty"`
}
