// Command testhandler is a Bester handler whose behaviour each request
// chooses, so that the server's end-to-end tests can provoke every answer a
// real handler might give, good or bad. It is built on ipc.Serve and so
// honours BESTER_SOCKET, BESTER_MODE, BESTER_CODEC and BESTER_INFORMER.
//
// The request data is a map; its field "act" picks the behaviour. The
// environment variable TESTHANDLER_ACT, when set, overrides it for every
// request (the data then need not be a map). The acts:
//
//	relay    (the default) sendClients to "to" (a name or a list) with
//	         "body" as data, passed through untouched; no "to" is a failure.
//	echo     sendClients to the sender (from.name) with the whole request
//	         data as data.
//	fail     status "1", data "fail requested".
//	garbage  a frame that is no response: [1,2] encoded in the codec, the
//	         invalid bytes ff 00 when "junk" is "invalid", or, when it is
//	         "text", a response with the request's id whose data is text
//	         that is not UTF-8.
//	late     wait "ms" milliseconds, then answer like relay when "to" names
//	         users, like echo otherwise.
//	never    no answer to this request (until the connection closes).
//	close    write the first half of a response frame, then close the
//	         connection.
//	crash    exit the process at once with status 3.
//	forward  sendHandler to the handler named "next", with the request data
//	         whose "act" is replaced by "then" (default "echo").
//	bytes    sendClients to the sender with a CBOR byte string (de ad be ef)
//	         as data; only meaningful with the cbor codec.
//	info     ask the informer (BESTER_INFORMER) for listClients and
//	         sendClients to the sender with {"clients": [...]}.
//	servers  sendServers to the peers in "peers", with the request data
//	         whose "act" is replaced by "then" (default "relay").
//	route    sendServers to the first peer in "route" (a name or a list),
//	         with the request data whose "route" is the rest of the list;
//	         with an empty route, behave as the act "then" (default relay).
//	         Each server on the route runs this act in turn.
//	reply    sendServers back to the server of the message's writer
//	         (origin.server), with the request data whose "act" is
//	         "toorigin".
//	toorigin sendClients to the message's writer (origin.user) with the
//	         whole request data.
//
// Acts that answer the sender need stream mode: oneshot requests do not say
// who sent them. The program writes nothing to stdout; errors go to stderr.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/bester-project/bester/ipc"
	"github.com/bester-project/bester/wire"
)

// envAct overrides the act of every request.
const envAct = "TESTHANDLER_ACT"

// input holds every field an act may read.
type input struct {
	Act   string        `cbor:"act" json:"act"`
	To    wire.Names    `cbor:"to" json:"to"`
	Body  wire.RawValue `cbor:"body" json:"body"`
	Ms    int           `cbor:"ms" json:"ms"`
	Next  string        `cbor:"next" json:"next"`
	Then  string        `cbor:"then" json:"then"`
	Peers wire.Names    `cbor:"peers" json:"peers"`
	Route wire.Names    `cbor:"route" json:"route"`
	Junk  string        `cbor:"junk" json:"junk"`
}

// act is one behaviour.
type act func(ctx context.Context, req *ipc.Request, in *input) (*ipc.Response, error)

var acts = map[string]act{
	"relay":    relay,
	"echo":     echo,
	"fail":     fail,
	"garbage":  garbage,
	"late":     late,
	"never":    never,
	"close":    hangUp,
	"crash":    crash,
	"forward":  forward,
	"bytes":    byteString,
	"info":     info,
	"servers":  servers,
	"reply":    reply,
	"toorigin": toOrigin,
}

func init() {
	acts["route"] = route // route runs other acts: added here to avoid an initialization cycle
}

func handle(ctx context.Context, req *ipc.Request) (*ipc.Response, error) {
	var in input
	decodeErr := req.Decode(&in)
	name := os.Getenv(envAct)
	if name == "" {
		if decodeErr != nil {
			return nil, decodeErr
		}
		name = in.Act
	}
	if name == "" {
		name = "relay"
	}
	a, ok := acts[name]
	if !ok {
		return nil, fmt.Errorf("testhandler: unknown act %q", name)
	}
	return a(ctx, req, &in)
}

func main() {
	if err := ipc.Serve(context.Background(), handle); err != nil {
		fmt.Fprintln(os.Stderr, "testhandler:", err)
		os.Exit(1)
	}
}
