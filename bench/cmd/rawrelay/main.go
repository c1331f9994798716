// Command rawrelay is a minimal hand-written relay in Go, with the same
// topology as Bester: client, server, handler process over a UNIX socket,
// server, recipient (or a list of recipients, for a fan-out). It has no actors, no codec, no timeouts and no
// limits, so its figures are the practical limit of that topology in Go
// on a machine. The frames are in package rawproto.
//
//	rawrelay handle -socket /tmp/h.sock            the handler process
//	rawrelay serve -listen 127.0.0.1:0 -handler /tmp/h.sock -connections 4
//
// Each prints one line on standard output when it is ready (`ready` and
// `listening ADDRESS`), and stops on SIGINT or SIGTERM.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/bester-project/bester/bench/internal/rawproto"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rawrelay handle|serve [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "handle":
		err = handle(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want handle or serve", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawrelay:", err)
		os.Exit(1)
	}
}

// waitSignal blocks until SIGINT or SIGTERM.
func waitSignal() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
}

// handle is the handler process: for every request it decides where the
// payload goes (to the user the sender named) and answers.
func handle(args []string) error {
	fs := flag.NewFlagSet("handle", flag.ExitOnError)
	socket := fs.String("socket", "", "UNIX socket to listen on")
	fs.Parse(args)
	if *socket == "" {
		return fmt.Errorf("handle: -socket is required")
	}
	os.Remove(*socket)
	ln, err := net.Listen("unix", *socket)
	if err != nil {
		return err
	}
	defer os.Remove(*socket)
	fmt.Println("ready")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handleConn(c)
		}
	}()
	waitSignal()
	ln.Close()
	return nil
}

func handleConn(c net.Conn) {
	out := rawproto.NewOutbox(c)
	defer out.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	var buf []byte
	for {
		body, err := rawproto.ReadFrame(br, buf)
		if err != nil {
			return
		}
		buf = body
		switch body[0] {
		case rawproto.Request:
			r, err := rawproto.ParseRouted(body)
			if err != nil {
				return
			}
			out.Append(func(b []byte) []byte { return rawproto.AppendRouted(b, rawproto.Answer, r) })
		case rawproto.FanoutRequest:
			// Every user of the list gets the payload: read the list
			// through, and answer with it.
			r, err := rawproto.ParseFanoutRouted(body)
			if err != nil || len(r.To) == 0 {
				return
			}
			if rawproto.EachName(r.To, func([]byte) bool { return true }) != nil {
				return
			}
			out.Append(func(b []byte) []byte { return rawproto.AppendFanoutRouted(b, rawproto.FanoutAnswer, r) })
		default:
			return
		}
	}
}

// server is the relay server.
type server struct {
	mu    sync.RWMutex
	users map[string]*client
	conns map[uint32]*client
	next  uint32

	links []*rawproto.Outbox
	rr    atomic.Uint32
}

type client struct {
	id   uint32
	user string
	out  *rawproto.Outbox
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "TCP address to listen on")
	handler := fs.String("handler", "", "the handler's UNIX socket")
	conns := fs.Int("connections", 4, "connections to the handler")
	fs.Parse(args)
	if *handler == "" {
		return fmt.Errorf("serve: -handler is required")
	}
	s := &server{users: map[string]*client{}, conns: map[uint32]*client{}}
	for range *conns {
		c, err := net.Dial("unix", *handler)
		if err != nil {
			return err
		}
		s.links = append(s.links, rawproto.NewOutbox(c))
		go s.readLink(c)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serveClient(c)
		}
	}()
	waitSignal()
	ln.Close()
	return nil
}

// serveClient authenticates a client and passes its messages to the
// handler.
func (s *server) serveClient(c net.Conn) {
	br := bufio.NewReaderSize(c, 4<<10)
	body, err := rawproto.ReadFrame(br, nil)
	if err != nil || body[0] != rawproto.Auth || len(body) < 2 {
		c.Close()
		return
	}
	cl := &client{user: string(body[1:]), out: rawproto.NewOutbox(c)}
	s.mu.Lock()
	s.next++
	cl.id = s.next
	s.users[cl.user] = cl
	s.conns[cl.id] = cl
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.users[cl.user] == cl {
			delete(s.users, cl.user)
		}
		delete(s.conns, cl.id)
		s.mu.Unlock()
		cl.out.Close()
	}()
	cl.out.Append(func(b []byte) []byte { return rawproto.AppendFrame(b, []byte{rawproto.AuthOK}) })
	var buf []byte
	for {
		body, err := rawproto.ReadFrame(br, buf)
		if err != nil {
			return
		}
		buf = body
		link := s.links[int(s.rr.Add(1))%len(s.links)]
		switch body[0] {
		case rawproto.Message:
			m, err := rawproto.ParseMessage(body)
			if err != nil {
				return
			}
			m.Conn = cl.id
			link.Append(func(b []byte) []byte { return rawproto.AppendRouted(b, rawproto.Request, m) })
		case rawproto.Fanout:
			m, err := rawproto.ParseFanout(body)
			if err != nil {
				return
			}
			m.Conn = cl.id
			link.Append(func(b []byte) []byte { return rawproto.AppendFanoutRouted(b, rawproto.FanoutRequest, m) })
		default:
			return
		}
	}
}

// readLink carries out the handler's answers: deliver, then acknowledge.
func (s *server) readLink(c net.Conn) {
	br := bufio.NewReaderSize(c, 64<<10)
	var buf []byte
	for {
		body, err := rawproto.ReadFrame(br, buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rawrelay: handler connection:", err)
			os.Exit(1)
		}
		buf = body
		if body[0] == rawproto.FanoutAnswer {
			s.fanout(body)
			continue
		}
		a, err := rawproto.ParseRouted(body)
		if err != nil || body[0] != rawproto.Answer {
			fmt.Fprintln(os.Stderr, "rawrelay: bad answer from the handler")
			os.Exit(1)
		}
		s.mu.RLock()
		to, from := s.users[string(a.To)], s.conns[a.Conn]
		s.mu.RUnlock()
		status := byte(rawproto.StatusLost)
		if to != nil && to.out.Append(func(b []byte) []byte { return rawproto.AppendDelivery(b, a.Payload) }) {
			status = rawproto.StatusGood
		}
		if from != nil {
			from.out.Append(func(b []byte) []byte { return rawproto.AppendAck(b, a.ID, status) })
		}
	}
}

// fanout carries out a FanoutAnswer: deliver to every user of its list,
// then acknowledge with the number of users not reached.
func (s *server) fanout(body []byte) {
	a, err := rawproto.ParseFanoutRouted(body)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawrelay: bad answer from the handler")
		os.Exit(1)
	}
	deliver := func(b []byte) []byte { return rawproto.AppendDelivery(b, a.Payload) }
	lost := 0
	s.mu.RLock()
	err = rawproto.EachName(a.To, func(name []byte) bool {
		if to := s.users[string(name)]; to == nil || !to.out.Append(deliver) {
			lost++
		}
		return true
	})
	from := s.conns[a.Conn]
	s.mu.RUnlock()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawrelay: bad answer from the handler:", err)
		os.Exit(1)
	}
	if from != nil {
		status := byte(min(lost, 255))
		from.out.Append(func(b []byte) []byte { return rawproto.AppendAck(b, a.ID, status) })
	}
}
