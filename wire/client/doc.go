// Package client speaks the client side of the Bester protocol over one
// connection, plain or TLS: it authenticates (by password, or by a client
// certificate), sends payloads and reads what the server writes back
// (status reports, deliveries and dummy replies). The command line client,
// the server's end-to-end tests and load generators use it, so sending is
// buffered and safe for concurrent use.
package client
