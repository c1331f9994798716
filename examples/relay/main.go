// Command relay is the example Bester handler: it passes a message on to
// the users it names, on this server or on peer servers.
//
// A client sends data of the form
//
//	{"to": "G", "body": <anything>}        or        {"to": ["G", "H"], "body": ...}
//
// and the handler tells the server to deliver body, untouched, to those
// users (sendClients). A missing or empty "to" is answered with a failure,
// which the sender sees as a bad report with handler_error.
//
// A name of the form "user@server" names a user of a peer server:
//
//	{"to": "G@K", "body": "hi"}
//
// When every name is for another server, the handler sends the data to
// those servers (sendServers); each server's own relay handler then
// delivers to its users among the names. Names without "@", or with this
// server's name after it, are local. A list that mixes local and remote
// users is refused: send them separately. The handler learns this server's
// name from the informer when it starts; without an informer it takes
// every name as local.
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
	"slices"
	"strings"

	"github.com/bester-project/bester/ipc"
	"github.com/bester-project/bester/wire"
)

// message is the data this handler understands, from clients and from the
// relay handlers of peer servers alike.
type message struct {
	To   wire.Names    `cbor:"to" json:"to"`     // one name or a list of them
	Body wire.RawValue `cbor:"body" json:"body"` // kept encoded: passed on as is
}

// relayer relays for the server called server ("" when unknown).
type relayer struct {
	server string
}

func (r *relayer) relay(ctx context.Context, req *ipc.Request) (*ipc.Response, error) {
	var msg message
	if err := req.Decode(&msg); err != nil {
		return nil, err
	}
	if len(msg.To) == 0 {
		return nil, errors.New(`relay: "to" names no user`)
	}
	var local, servers []string
	for _, name := range msg.To {
		user, server := split(name)
		if r.isLocal(server) {
			local = append(local, user)
		} else if !slices.Contains(servers, server) {
			servers = append(servers, server)
		}
	}
	if req.From.Scope == wire.FromServer { // a peer's relay sent this: deliver to our users among the names
		if len(local) == 0 {
			return nil, fmt.Errorf("relay: none of %v is a user of server %s", msg.To, r.server)
		}
		return ipc.SendClients(local, msg.Body), nil
	}
	switch {
	case len(servers) == 0:
		return ipc.SendClients(local, msg.Body), nil
	case len(local) == 0:
		return ipc.SendServers(servers, msg), nil
	}
	return nil, errors.New(`relay: "to" mixes users of this server and of other servers; send to each in a separate message`)
}

// split cuts "user@server" at its last "@"; a name without one has no
// server.
func split(name string) (user, server string) {
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}

func (r *relayer) isLocal(server string) bool {
	return server == "" || r.server == "" || server == r.server
}

// serverName asks the informer for this server's name, once.
func serverName() string {
	path := os.Getenv(wire.EnvInformer)
	if path == "" {
		return ""
	}
	codec, _ := wire.ParseCodec(os.Getenv(wire.EnvCodec))
	inf, err := ipc.DialInformer(path, codec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay: every name is taken as local:", err)
		return ""
	}
	defer inf.Close()
	info, err := inf.ServerInfo()
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay: every name is taken as local:", err)
		return ""
	}
	name, _ := info["name"].(string)
	return name
}

func main() {
	r := &relayer{server: serverName()}
	if err := ipc.Serve(context.Background(), r.relay); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}
