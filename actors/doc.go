// Package actors is the Bester server: one actor per client connection, a
// router that picks the handler for a message's type, and one actor per
// handler link that talks to the handler process over UNIX sockets and turns
// its answers into deliveries and status reports, and one actor per peer
// server that carries sendServers messages over a TCP connection and waits
// for the peer's reports. Socket I/O runs in goroutines owned by those
// actors and never blocks a Receive.
//
// docs/architecture.md draws the message graph and says who may wait on
// whom.
package actors
