package actors

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/wire"
)

// informerIdleTimeout closes an informer connection that asks nothing for
// this long.
const informerIdleTimeout = 5 * time.Minute

// informer answers handlers' questions about the server on a UNIX socket
// (protocol §7). It needs no actor of its own: it reads the registry
// directly and asks link actors (and in a cluster the other members'
// inboxes) through futures, from its own goroutines, never from inside an
// actor.
type informer struct {
	ln       net.Listener
	maxFrame int
	// users are the users listClients and isClient answer about: this
	// server's, or the whole cluster's.
	users clientList
	info  func() map[string]any
	log   hclog.Logger

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (in *informer) serve() {
	defer in.wg.Done()
	for {
		conn, err := in.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				in.log.Error("informer accept failed", "error", err)
			}
			return
		}
		in.mu.Lock()
		in.conns[conn] = struct{}{}
		in.mu.Unlock()
		in.wg.Add(1)
		go in.handle(conn)
	}
}

// close stops accepting, ends every connection and waits for their
// goroutines.
func (in *informer) close() {
	in.ln.Close()
	in.mu.Lock()
	for c := range in.conns {
		c.Close()
	}
	in.mu.Unlock()
	in.wg.Wait()
}

func (in *informer) handle(conn net.Conn) {
	defer in.wg.Done()
	defer func() {
		in.mu.Lock()
		delete(in.conns, conn)
		in.mu.Unlock()
		conn.Close()
	}()
	br := bufio.NewReader(conn)
	codec := wire.CodecAuto
	for {
		conn.SetReadDeadline(time.Now().Add(informerIdleTimeout))
		body, err := wire.ReadFrame(br, in.maxFrame, nil)
		if err != nil {
			return
		}
		if codec == wire.CodecAuto {
			if codec, err = wire.DetectCodec(body); err != nil {
				in.log.Debug("informer: unreadable request", "error", err)
				return
			}
		}
		var req wire.InformerRequest
		resp := wire.InformerResponse{Status: wire.InformerOK}
		if err := codec.UnmarshalMap(body, &req); err != nil {
			resp = wire.InformerResponse{Status: wire.InformerFailed, Data: "bad request: " + err.Error()}
		} else if req.Command.Type == wire.InformerQuit {
			return
		} else {
			resp.Data, err = in.answer(codec, &req.Command)
			if err != nil {
				resp = wire.InformerResponse{Status: wire.InformerFailed, Data: err.Error()}
			}
		}
		out, err := codec.Marshal(&resp)
		if err != nil {
			in.log.Error("informer: cannot encode answer", "error", err)
			return
		}
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := wire.WriteFrame(conn, out); err != nil {
			return
		}
	}
}

func (in *informer) answer(codec wire.Codec, c *wire.InformerCommand) (any, error) {
	switch c.Type {
	case wire.InformerListClients:
		return in.users.names(), nil
	case wire.InformerIsClient:
		var user string
		if err := codec.Unmarshal(c.Data, &user); err != nil {
			return nil, errors.New("isClient needs a username as data")
		}
		return in.users.has(user), nil
	case wire.InformerServerInfo:
		return in.info(), nil
	}
	return nil, errors.New("unknown informer command " + c.Type)
}
