package wire

import "encoding/json"

// Scopes a connection may declare in its first message (protocol §3).
const (
	ScopeClient = "client"
	ScopeServer = "server"
)

// Built-in message types (protocol §3) and the id of the authentication
// report.
const (
	TypeDummy   = "dummy"
	TypeBuiltin = "builtin"
	IDAuth      = "auth_special"
)

// Message types the server writes in header.messageType (protocol §4).
const (
	MessageTypeStatusReport = "statusReport"
	MessageTypeReceived     = "receivedMessage"
)

// Report statuses (protocol §4).
const (
	StatusGood = "good"
	StatusBad  = "bad"
)

// Envelope is a message from a client or a peer server (protocol §3, §6).
type Envelope struct {
	Header  *Header  `cbor:"header" json:"header"`
	Payload *Payload `cbor:"payload" json:"payload"`
}

// Header is the optional header of an incoming envelope.
type Header struct {
	Scope          string       `cbor:"scope" json:"scope"`
	Authentication *Credentials `cbor:"authentication" json:"authentication"`
	// Origin is who wrote a message that a peer server passes on.
	Origin *Address `cbor:"origin" json:"origin"`
	// Hops counts how many times a peer's message has already been passed
	// from handler to handler or server to server; absent means 0. It is
	// this implementation's extension of protocol §6, to stop loops.
	Hops int `cbor:"hops,omitempty" json:"hops,omitempty"`
}

// Credentials authenticate a client (username, password) or a peer server
// (its name and the shared secret).
type Credentials struct {
	Username string `cbor:"username" json:"username"`
	Password string `cbor:"password" json:"password"`
}

// Address names a user on a server.
type Address struct {
	Server string `cbor:"server" json:"server"`
	User   string `cbor:"user" json:"user"`
}

// AuthMessage is the first message of a connection when it carries no
// payload: the scope and the credentials (protocol §3, §6).
type AuthMessage struct {
	Header AuthHeader `cbor:"header" json:"header"`
}

// AuthHeader is the header of an AuthMessage.
type AuthHeader struct {
	Scope          string      `cbor:"scope" json:"scope"`
	Authentication Credentials `cbor:"authentication" json:"authentication"`
}

// ServerMessage is a message a server sends to a peer after
// authenticating (protocol §6). Scope is set only in original-style
// messages, which are the first and only message of their connection.
type ServerMessage struct {
	Header  ServerHeader `cbor:"header" json:"header"`
	Payload Payload      `cbor:"payload" json:"payload"`
}

// ServerHeader is the header of a ServerMessage.
type ServerHeader struct {
	Scope  string  `cbor:"scope,omitempty" json:"scope,omitempty"`
	Origin Address `cbor:"origin" json:"origin"`
	Hops   int     `cbor:"hops,omitempty" json:"hops,omitempty"`
}

// Payload is what a message asks for: a type, the sender's id for it and
// opaque data.
type Payload struct {
	Type string   `cbor:"type" json:"type"`
	ID   string   `cbor:"id" json:"id"`
	Data RawValue `cbor:"data" json:"data"`
}

// StatusReport answers one dispatched message (protocol §4).
type StatusReport struct {
	Header  ReportHeader  `cbor:"header" json:"header"`
	Payload ReportPayload `cbor:"payload" json:"payload"`
}

// ReportHeader is the header of a StatusReport.
type ReportHeader struct {
	MessageType string    `cbor:"messageType" json:"messageType"`
	Status      string    `cbor:"status" json:"status"`
	Error       ErrorCode `cbor:"error,omitempty" json:"error,omitempty"`
	Detail      string    `cbor:"detail,omitempty" json:"detail,omitempty"`
}

// ReportPayload names the message a StatusReport is about.
type ReportPayload struct {
	ID          string   `cbor:"id" json:"id"`
	Undelivered []string `cbor:"undelivered,omitempty" json:"undelivered,omitempty"`
}

// GoodReport builds a good report for message id.
func GoodReport(id string) *StatusReport {
	return &StatusReport{
		Header:  ReportHeader{MessageType: MessageTypeStatusReport, Status: StatusGood},
		Payload: ReportPayload{ID: id},
	}
}

// BadReport builds a bad report for message id from err.
func BadReport(id string, err *Error, undelivered []string) *StatusReport {
	return &StatusReport{
		Header: ReportHeader{MessageType: MessageTypeStatusReport, Status: StatusBad,
			Error: err.Code, Detail: err.Detail},
		Payload: ReportPayload{ID: id, Undelivered: undelivered},
	}
}

// Delivery carries a handler's output to a recipient (protocol §4).
type Delivery struct {
	Header  DeliveryHeader  `cbor:"header" json:"header"`
	Payload DeliveryPayload `cbor:"payload" json:"payload"`
}

// DeliveryHeader says who wrote a delivered message.
type DeliveryHeader struct {
	MessageType string  `cbor:"messageType" json:"messageType"`
	From        Address `cbor:"from" json:"from"`
}

// DeliveryPayload is the delivered type and data.
type DeliveryPayload struct {
	Type string   `cbor:"type" json:"type"`
	Data RawValue `cbor:"data" json:"data"`
}

// Incoming is what a client reads: any message a server writes to a
// client (a StatusReport, a Delivery or a DummyReply), with every field
// any of them has, so that one decode serves all of them without knowing
// first which one came. The fields a message does not have stay empty:
// Header.MessageType tells a report from a delivery, and a dummy reply,
// which has none, has Payload.Type TypeDummy. It is only read, never
// written.
type Incoming struct {
	Header  IncomingHeader  `cbor:"header" json:"header"`
	Payload IncomingPayload `cbor:"payload" json:"payload"`
}

// IncomingHeader is the header of an Incoming: the message type of a
// report or a delivery, the status of a report or a dummy reply, the
// error code and detail of a bad report, the sender of a delivery.
type IncomingHeader struct {
	MessageType string    `cbor:"messageType" json:"messageType"`
	Status      string    `cbor:"status" json:"status"`
	Error       ErrorCode `cbor:"error" json:"error"`
	Detail      string    `cbor:"detail" json:"detail"`
	From        Address   `cbor:"from" json:"from"`
}

// IncomingPayload is the payload of an Incoming: the type of a delivery
// or a dummy reply, the id of a report or a dummy reply, the data of a
// delivery or a dummy reply (in the client's codec, null as written; nil
// when the key is absent), the
// undelivered recipients of a bad report.
type IncomingPayload struct {
	Type        string   `cbor:"type" json:"type"`
	ID          string   `cbor:"id" json:"id"`
	Data        RawValue `cbor:"data" json:"data"`
	Undelivered []string `cbor:"undelivered" json:"undelivered"`
}

// DummyReply is the answer to a `dummy` message.
type DummyReply struct {
	Header  DummyHeader  `cbor:"header" json:"header"`
	Payload DummyPayload `cbor:"payload" json:"payload"`
}

// DummyHeader is the header of a DummyReply.
type DummyHeader struct {
	Status string `cbor:"status" json:"status"`
}

// DummyPayload echoes the id of the dummy message.
type DummyPayload struct {
	Type string   `cbor:"type" json:"type"`
	ID   string   `cbor:"id" json:"id"`
	Data RawValue `cbor:"data" json:"data"`
}

// NewDummyReply builds the answer to the dummy message id.
func NewDummyReply(id string) *DummyReply {
	return &DummyReply{Header: DummyHeader{Status: HandlerStatusOK},
		Payload: DummyPayload{Type: TypeDummy, ID: id}}
}

// BuiltinData is the data of a `builtin` message.
type BuiltinData struct {
	Command *BuiltinCommand `cbor:"command" json:"command"`
}

// BuiltinCommand names a server command.
type BuiltinCommand struct {
	Type string `cbor:"type" json:"type"`
}

// BuiltinClose closes the connection after a good report.
const BuiltinClose = "close"

// HandlerStatusOK is the handler status meaning success (protocol §5).
const HandlerStatusOK = "0"

// Handler commands (protocol §5).
const (
	CommandSendClients = "sendClients"
	CommandSendServers = "sendServers"
	CommandSendHandler = "sendHandler"
)

// Sender scopes of a handler request.
const (
	FromClient = ScopeClient
	FromServer = ScopeServer
)

// HandlerRequest is what a stream-mode handler receives (protocol §5).
type HandlerRequest struct {
	ID   uint64   `cbor:"id" json:"id"`
	Type string   `cbor:"type" json:"type"`
	From From     `cbor:"from" json:"from"`
	Data RawValue `cbor:"data" json:"data"`
	// Origin is the user who wrote the message and their server (protocol
	// v1.1), so that a handler can answer them even when a peer server
	// passed the message on. It is left out when unknown: an
	// original-style peer's message names no writer.
	Origin Address `cbor:"origin,omitzero" json:"origin,omitzero"`
}

// From describes who sent a request to a handler.
type From struct {
	Scope  string `cbor:"scope" json:"scope"`
	Name   string `cbor:"name" json:"name"`
	Server string `cbor:"server" json:"server"`
}

// HandlerResponse is a handler's answer; ID is absent in oneshot mode.
type HandlerResponse struct {
	ID     *uint64        `cbor:"id,omitempty" json:"id,omitempty"`
	Header ResponseHeader `cbor:"header" json:"header"`
	Data   RawValue       `cbor:"data" json:"data"`
}

// ResponseHeader holds the handler's status and what to do with its data.
type ResponseHeader struct {
	Status  string   `cbor:"status" json:"status"`
	Command *Command `cbor:"command,omitempty" json:"command,omitempty"`
}

// Command tells the server where a handler's data goes. Data is a list of
// names for sendClients and sendServers, one name for sendHandler.
type Command struct {
	Type string   `cbor:"type" json:"type"`
	Data RawValue `cbor:"data" json:"data"`
}

// InformerRequest is what a handler asks the informer (protocol §7).
type InformerRequest struct {
	Command InformerCommand `cbor:"command" json:"command"`
}

// InformerCommand is one informer query.
type InformerCommand struct {
	Type string   `cbor:"type" json:"type"`
	Data RawValue `cbor:"data" json:"data"`
}

// Informer query types (protocol §7).
const (
	InformerListClients = "listClients"
	InformerIsClient    = "isClient"
	InformerServerInfo  = "serverInfo"
	InformerQuit        = "quit"
)

// Informer statuses.
const (
	InformerOK     = "0"
	InformerFailed = "1"
)

// InformerResponse answers an InformerRequest.
type InformerResponse struct {
	Status string `cbor:"status" json:"status"`
	Data   any    `cbor:"data" json:"data"`
}

// PeekID returns payload.id of a body that did not decode as an Envelope,
// when it can still be found, so that the error report names the message.
// The id alone must be valid text: the rest of the body may be what made
// it fail, text that is not UTF-8 included, so in JSON the body is read
// without checkJSONText.
func PeekID(codec Codec, body []byte) string {
	var v struct {
		Payload struct {
			ID RawValue `cbor:"id" json:"id"`
		} `cbor:"payload" json:"payload"`
	}
	var id string
	if peek(codec, body, &v) != nil || len(v.Payload.ID) == 0 || codec.Unmarshal(v.Payload.ID, &id) != nil {
		return ""
	}
	return id
}

// PeekResponseID returns the id of a handler response that did not decode
// (see PeekID), so that only its own request fails.
func PeekResponseID(codec Codec, body []byte) (uint64, bool) {
	var v struct {
		ID *uint64 `cbor:"id" json:"id"`
	}
	if peek(codec, body, &v) != nil || v.ID == nil {
		return 0, false
	}
	return *v.ID, true
}

// peek decodes body into v leniently: in JSON without checkJSONText, since
// text that is not UTF-8 may be what made the body fail, and the fields
// peeked at are checked by their own decoding.
func peek(codec Codec, body []byte, v any) error {
	if codec == CodecJSON {
		return json.Unmarshal(body, v)
	}
	return codec.Unmarshal(body, v)
}
