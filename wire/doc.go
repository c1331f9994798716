// Package wire knows the bytes of the Bester protocol: length-prefixed
// frames, the CBOR and JSON codecs, the envelopes exchanged with clients,
// handlers and the informer, the stable error codes that cross a socket,
// and the environment and modes of a handler the server starts. It knows
// nothing of actors or connections.
package wire
