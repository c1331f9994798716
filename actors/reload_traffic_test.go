package actors

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
)

// Messages sent while the configuration is reloaded, again and again,
// each get exactly one report, and reach their recipient: reloads that
// change listeners, limits, permissions and the monitor lose nothing of
// the connections they do not close.
func TestReloadUnderTraffic(t *testing.T) {
	const n = 500 // a multiple of the reloads
	r := startReloadable(t, "", reloadBase())
	w, c := r.dial("W", wire.CodecCBOR), r.dial("T", wire.CodecJSON)

	// The goroutines below may not stop the test; a lost message ends
	// their reads when the connections close.
	stop := time.AfterFunc(waitLong, func() { c.Close(); w.Close() })
	defer stop.Stop()
	var wg sync.WaitGroup
	reports := make(map[string]int)
	var good int
	wg.Go(func() {
		for range n {
			in, err := c.Receive()
			if err != nil || in.Kind != wire.MessageTypeStatusReport {
				t.Errorf("T got %v %v", in, err)
				return
			}
			reports[in.Report.Payload.ID]++
			if in.Report.Header.Status == wire.StatusGood {
				good++
			}
		}
	})
	delivered := 0
	wg.Go(func() {
		for delivered < n {
			if in, err := w.Receive(); err != nil || in.Kind != wire.MessageTypeReceived {
				t.Errorf("W got %v %v", in, err)
				return
			}
			delivered++
		}
	})

	steps := []struct{ server, extra string }{
		{"  idle_timeout = \"1h\"", reloadBase() + tcpListener("extra", "127.0.0.1:0")},
		{"  max_connections = 500\n  buffer_budget = 33554432", reloadBase() + monitorBlock("")},
		{"", reloadBase() + "permissions {\n  default { allow = [\"relay\"] }\n}\n"},
		{"  send_queue = 2000", reloadBase()},
		{"", reloadBase()},
	}
	sent := 0
	for _, st := range steps { // a batch of messages, then a reload while they are in flight
		for range n / len(steps) {
			id := strconv.Itoa(sent)
			if err := c.Send("relay", id, act("relay", "to", "W", "body", id)); err != nil {
				t.Fatalf("send %s: %v", id, err)
			}
			sent++
		}
		if got := r.reloaded(st.server, st.extra); got == "nothing changed" {
			t.Fatalf("the reload to %q changed nothing", st.extra)
		}
	}
	wg.Wait()
	if len(reports) != n || good != n || delivered != n {
		t.Fatalf("%d messages have reports, %d good, %d delivered; want %d each", len(reports), good, delivered, n)
	}
	for id, k := range reports {
		if k != 1 {
			t.Fatalf("message %s got %d reports", id, k)
		}
	}
}
