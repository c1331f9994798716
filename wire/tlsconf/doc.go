// Package tlsconf loads the TLS settings of both ends of a Bester
// connection from PEM files, makes development certificates, and tells
// which hosts are near enough to go without TLS (LoopbackHost). The
// server's listeners and peer links, the Go client and the command-line
// tools all read their files through it, so a file that cannot be used is
// reported the same way everywhere.
package tlsconf
