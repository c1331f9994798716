// Package rawanswer holds the malformed answers with which tests see how a
// server copes with a broken handler. Set as a Response's Data, ipc writes
// them as they are instead of encoding a response; outside this module no
// handler can, so they are no part of the handler SDK.
package rawanswer

// Frame is written as a whole frame's body, without the response envelope
// or the request id.
type Frame []byte

// HangUp is written as is, unframed (it may be part of a frame); then the
// connection the request came on is closed and answers still pending on it
// are lost, as when a handler dies mid-answer.
type HangUp []byte
