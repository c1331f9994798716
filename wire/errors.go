package wire

import "fmt"

// ErrorCode is a status-report error code (protocol §4). The codes are
// stable strings: peers match on them, never on the detail text.
type ErrorCode string

// The error codes of the contract.
const (
	CodeUnauthorized       ErrorCode = "unauthorized"
	CodeBadFrame           ErrorCode = "bad_frame"
	CodeFrameTooLarge      ErrorCode = "frame_too_large"
	CodeBadMessage         ErrorCode = "bad_message"
	CodeUnknownType        ErrorCode = "unknown_type"
	CodeUnknownCommand     ErrorCode = "unknown_command"
	CodeHandlerUnavailable ErrorCode = "handler_unavailable"
	CodeHandlerTimeout     ErrorCode = "handler_timeout"
	CodeHandlerError       ErrorCode = "handler_error"
	CodeHandlerCrashed     ErrorCode = "handler_crashed"
	CodeUndelivered        ErrorCode = "undelivered"
	CodePeerUnavailable    ErrorCode = "peer_unavailable"
	CodeLoop               ErrorCode = "loop"
	CodeOverloaded         ErrorCode = "overloaded"
	CodeRateLimited        ErrorCode = "rate_limited"
	CodeForbidden          ErrorCode = "forbidden"
	CodeShuttingDown       ErrorCode = "shutting_down"
)

// Error is a failure that is reported to a peer: a stable code plus a
// detail for people.
type Error struct {
	Code   ErrorCode
	Detail string
}

// Errorf builds an *Error with a formatted detail.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Error reads "code: detail", so that logs show the stable code first.
func (e *Error) Error() string { return string(e.Code) + ": " + e.Detail }
