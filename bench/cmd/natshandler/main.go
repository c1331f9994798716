// Command natshandler is the relay handler of the NATS side of the
// comparison, a process of its own as Bester's relay handler is. Its
// connections subscribe to relay.* in one queue group; for a message on
// relay.USER it publishes the payload to u.USER (the recipient's
// subject), then an empty acknowledgement to the message's reply subject.
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
	conns := flag.Int("connections", 4, "connections, each with one queue subscription")
	flag.Parse()
	if err := run(*url, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "natshandler:", err)
		os.Exit(1)
	}
}

func run(url string, conns int) error {
	for i := range conns {
		nc, err := nats.Connect(url, nats.Name(fmt.Sprintf("relay-handler-%d", i)), nats.NoReconnect())
		if err != nil {
			return err
		}
		defer nc.Close()
		sub, err := nc.QueueSubscribe("relay.*", "relay", func(m *nats.Msg) {
			to := strings.TrimPrefix(m.Subject, "relay.")
			if err := nc.Publish("u."+to, m.Data); err != nil {
				fmt.Fprintln(os.Stderr, "natshandler: deliver:", err)
			}
			if m.Reply != "" {
				if err := nc.Publish(m.Reply, nil); err != nil {
					fmt.Fprintln(os.Stderr, "natshandler: acknowledge:", err)
				}
			}
		})
		if err != nil {
			return err
		}
		// No limit on messages waiting for the callback: the load
		// generator's windows bound them.
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return err
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
