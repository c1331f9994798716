// Command relay is the example Bester handler: it passes a message on to
// the users it names.
//
// A client sends data of the form
//
//	{"to": "G", "body": <anything>}        or        {"to": ["G", "H"], "body": ...}
//
// and the handler tells the server to deliver body, untouched, to those
// users (sendClients). A missing or empty "to" is answered with a failure,
// which the sender sees as a bad report with handler_error.
//
// The server starts handlers itself, but you can run this one by hand and
// point a handler with no command in the server's configuration at it:
//
//	BESTER_SOCKET=/tmp/relay.sock go run ./examples/relay
//
// BESTER_CODEC=json and BESTER_MODE=oneshot select the other codec and mode;
// the handler code below does not change.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/bester-project/bester/ipc"
	"github.com/bester-project/bester/wire"
)

// message is the client data this handler understands.
type message struct {
	To   ipc.Names     `cbor:"to" json:"to"`     // one username or a list of them
	Body wire.RawValue `cbor:"body" json:"body"` // kept encoded: passed on as is
}

func relay(ctx context.Context, req *ipc.Request) (*ipc.Response, error) {
	var msg message
	if err := req.Decode(&msg); err != nil {
		return nil, err
	}
	if len(msg.To) == 0 {
		return nil, errors.New(`relay: "to" names no user`)
	}
	return ipc.SendClients(msg.To, msg.Body), nil
}

func main() {
	if err := ipc.Serve(context.Background(), relay); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}
