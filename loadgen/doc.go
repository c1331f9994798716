// Package loadgen generates load against a message relay and accounts for
// every message it sends. It is the engine of `bester bench` and of the
// side-by-side comparison in the bench module.
//
// A target is reached through a Driver: it connects a user and gives a
// Conn that queues messages to other users and receives what comes back,
// acknowledgements (status reports) and deliveries, either when asked
// (Receiver) or by calling back (Pusher), as the system's client library
// works best. The Bester driver (Bester) uses package client and reads
// what it needs of each message in place; other systems plug in their
// own.
//
// Run drives sender/recipient workloads (relay, pingpong, fanout): each
// sender addresses its recipients through the target's relay, either
// keeping a window of unacknowledged messages (closed loop) or sending on
// a fixed schedule (open loop, Config.Rate), for a measured time
// (Config.Duration) or, in a closed loop, a number of messages
// (Config.Messages). Every message has a unique id
// and carries its id and the time it was meant to be sent in its body, so
// that latency is measured from the intended send time (a stalled server
// cannot hide behind the messages it kept the sender from sending) and, at
// the end, every id is accounted for: acknowledged once, delivered once to
// each recipient, never lost, never twice. The users may be spread over
// the members of a cluster (Config.Members): a Placement puts the senders
// on one member and the recipients on another (cross), or every user on
// the members in turn (mixed). RunConnect opens many idle
// authenticated connections and holds them, to measure what a connection
// costs the server.
//
// Latencies go into HDR histograms, one per goroutine, merged at the end.
package loadgen
