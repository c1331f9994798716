// Package ipc is the software development kit for Bester handlers written in
// Go. A handler is a process listening on a UNIX socket that the server sends
// client messages to (protocol §5); this package hides the socket, the
// framing, the codec and the request ids, so that a handler is one function:
//
//	func main() {
//		err := ipc.Serve(context.Background(), func(ctx context.Context, req *ipc.Request) (*ipc.Response, error) {
//			var in struct {
//				To   wire.Names    `cbor:"to" json:"to"`
//				Body wire.RawValue `cbor:"body" json:"body"`
//			}
//			if err := req.Decode(&in); err != nil {
//				return nil, err
//			}
//			return ipc.SendClients(in.To, in.Body), nil
//		})
//		if err != nil {
//			log.Fatal(err)
//		}
//	}
//
// Serve reads the environment the server gives a handler it starts
// (BESTER_SOCKET, BESTER_TYPE, BESTER_MODE, BESTER_CODEC, BESTER_INFORMER);
// ServeConfig takes the same settings explicitly. In stream mode requests are
// handled concurrently and answered in whatever order they finish. A
// returned error or a panic becomes a failure response (status "1") for that
// request only.
//
// Informer is a client for the server's informer socket (protocol §7), where
// a handler can ask which users are connected.
package ipc
