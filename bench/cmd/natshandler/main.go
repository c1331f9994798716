// Command natshandler is the relay handler of the NATS side of the
// comparison, a process of its own as Bester's relay handler is. Its
// connections subscribe to relay.* and fanout in one queue group; for a
// message on relay.USER it publishes the payload to u.USER (the
// recipient's subject), then an empty acknowledgement to the message's
// reply subject. A message on fanout names its recipients in its To
// header, comma-separated: the handler publishes the payload to each
// one's subject, then acknowledges.
// It prints `ready` on standard output once subscribed, and stops on
// SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("url", nats.DefaultURL, "NATS server URL")
	// One connection is NATS's fastest here in relay: with 4, the server
	// spent about a sixth more time per message; compare asks for 2 in
	// fanout (bench/README.md, NATS tuning).
	conns := flag.Int("connections", 1, "connections, each with one queue subscription per subject")
	ca := flag.String("tls-ca", "", "PEM CA file: connect with TLS, trusting it")
	writeBuffer := flag.Int("write-buffer", nats.DefaultWriteBufSize, "bytes each connection buffers before it writes")
	flag.Parse()
	if err := run(*url, *conns, *ca, *writeBuffer); err != nil {
		fmt.Fprintln(os.Stderr, "natshandler:", err)
		os.Exit(1)
	}
}

func run(url string, conns int, ca string, writeBuffer int) error {
	for i := range conns {
		opts := []nats.Option{nats.Name(fmt.Sprintf("relay-handler-%d", i)), nats.NoReconnect(), nats.WriteBufferSize(writeBuffer)}
		if ca != "" {
			opts = append(opts, nats.RootCAs(ca))
		}
		nc, err := nats.Connect(url, opts...)
		if err != nil {
			return err
		}
		defer nc.Close()
		// Each callback runs on its subscription's goroutine: the
		// subjects it has built are its own.
		relayed := subjects{}
		sub, err := nc.QueueSubscribe("relay.*", "relay", func(m *nats.Msg) {
			deliver(nc, relayed.of(strings.TrimPrefix(m.Subject, "relay.")), m)
			acknowledge(nc, m)
		})
		if err != nil {
			return err
		}
		fannedOut := subjects{}
		fan, err := nc.QueueSubscribe("fanout", "relay", func(m *nats.Msg) {
			for to := range strings.SplitSeq(m.Header.Get("To"), ",") {
				deliver(nc, fannedOut.of(to), m)
			}
			acknowledge(nc, m)
		})
		if err != nil {
			return err
		}
		// No limit on messages waiting for the callbacks: the load
		// generator's windows bound them.
		for _, s := range []*nats.Subscription{sub, fan} {
			if err := s.SetPendingLimits(-1, -1); err != nil {
				return err
			}
		}
		if err := nc.Flush(); err != nil {
			return err
		}
	}
	fmt.Println("ready")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	return nil
}

// subjects are users' subjects, u.USER, built once each rather than for
// every message.
type subjects map[string]string

func (s subjects) of(user string) string {
	subject, ok := s[user]
	if !ok {
		subject = "u." + user
		s[user] = subject
	}
	return subject
}

// deliver publishes m's payload on subject.
func deliver(nc *nats.Conn, subject string, m *nats.Msg) {
	if err := nc.Publish(subject, m.Data); err != nil {
		fmt.Fprintln(os.Stderr, "natshandler: deliver:", err)
	}
}

// acknowledge publishes an empty acknowledgement to m's reply subject.
func acknowledge(nc *nats.Conn, m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	if err := nc.Publish(m.Reply, nil); err != nil {
		fmt.Fprintln(os.Stderr, "natshandler: acknowledge:", err)
	}
}
