package ipc

import (
	"github.com/bester-project/bester/wire"
)

// FailStatus is the status of a response built from an error or a panic.
const FailStatus = "1"

// Response is a handler's answer (protocol §5). Build it with SendClients,
// SendServers, SendHandler or Fail rather than by hand.
type Response struct {
	// Status is "0" for success (an empty Status is sent as "0"); anything
	// else makes the sender's report bad with handler_error.
	Status string
	// Command says where Data goes; nil sends no command.
	Command *Command
	// Data is the handler's output. A wire.RawValue is sent as is and must
	// already be in the request's codec; any other value is encoded with it.
	Data any
}

// Command tells the server what to do with a response's data.
type Command struct {
	// Type is wire.CommandSendClients, wire.CommandSendServers or
	// wire.CommandSendHandler.
	Type string
	// Data is the list of users or peers, or the handler name; encoded like
	// Response.Data.
	Data any
}

// SendClients delivers data to every connection of each user on this
// server.
func SendClients(users []string, data any) *Response {
	return send(wire.CommandSendClients, nonNil(users), data)
}

// SendServers sends data to each named peer server, whose handler of the
// same type receives it.
func SendServers(peers []string, data any) *Response {
	return send(wire.CommandSendServers, nonNil(peers), data)
}

// SendHandler makes data a new request to the handler called name, from the
// same sender; that handler's response is carried out in turn.
func SendHandler(name string, data any) *Response {
	return send(wire.CommandSendHandler, name, data)
}

// Fail reports a failure: the sender gets a bad report with handler_error.
// An empty status, or "0", becomes FailStatus, since a failure must never
// read as success.
func Fail(status string, data any) *Response {
	if status == "" || status == wire.HandlerStatusOK {
		status = FailStatus
	}
	return &Response{Status: status, Data: data}
}

func send(cmd string, targets, data any) *Response {
	// The response and its command in one allocation: they live as long.
	rc := &struct {
		resp Response
		cmd  Command
	}{cmd: Command{Type: cmd, Data: targets}}
	rc.resp = Response{Status: wire.HandlerStatusOK, Command: &rc.cmd, Data: data}
	return &rc.resp
}

// nonNil makes an absent list encode as an empty list, not null.
func nonNil(names []string) []string {
	if names == nil {
		return []string{}
	}
	return names
}
