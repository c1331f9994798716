// Package client speaks the client side of the Bester protocol over one
// connection, plain or TLS: it authenticates (by password, or by a client
// certificate), sends payloads and reads what the server writes back
// (status reports, deliveries and dummy replies). The command line client,
// the server's end-to-end tests and load generators use it, so sending is
// buffered and safe for concurrent use.
//
// A password goes without TLS only over a UNIX socket or to a loopback
// address: 127.0.0.0/8, ::1 or localhost, written so (a host name that
// resolves to loopback does not count, since what it resolves to can
// change). To any other address Dial and Handshake refuse before the
// password leaves, with ErrPasswordInClear, unless
// Options.InsecurePlaintext allows it: a server can refuse plaintext
// logins, but only after the password has crossed the network.
package client
