package actors

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// BenchmarkRelay measures messages relayed end to end: P senders each keep
// W messages unreported, through the relay handler, to P recipients, all
// over real sockets. It reports delivered messages per second and counts
// bad reports and missing deliveries instead of hiding them.
func BenchmarkRelay(b *testing.B) {
	for _, tc := range []struct {
		pairs, window int
		codec         wire.Codec
	}{{1, 1, wire.CodecCBOR}, {16, 64, wire.CodecCBOR}, {16, 64, wire.CodecJSON}} {
		b.Run(fmt.Sprintf("pairs=%d/window=%d/%s", tc.pairs, tc.window, tc.codec), func(b *testing.B) {
			benchRelay(b, tc.pairs, tc.window, tc.codec)
		})
	}
}

// benchRelayHandler is the relay handler block of the relay benchmarks.
const benchRelayHandler = `
handler "relay" {
  socket  = "relay.sock"
  command = ["$RELAY"]
  timeout = "30s"
  max_in_flight = 65536
}`

func benchRelay(b *testing.B, pairs, window int, codec wire.Codec) {
	ts := startServer(b, benchRelayHandler)
	runRelay(b, ts, ts, pairs, window, codec, "G%d")
}

// BenchmarkFederatedRelay is BenchmarkRelay across two servers: the
// senders are on J, the recipients on K, and every message goes from J's
// relay handler over the peer link to K's relay handler.
func BenchmarkFederatedRelay(b *testing.B) {
	for _, tc := range []struct {
		pairs, window int
		codec         wire.Codec
	}{{1, 1, wire.CodecCBOR}, {16, 64, wire.CodecCBOR}} {
		b.Run(fmt.Sprintf("pairs=%d/window=%d/%s", tc.pairs, tc.window, tc.codec), func(b *testing.B) {
			aj, ak := freeAddr(b), freeAddr(b)
			peer := `
  timeout = "30s"
  queue   = 65536`
			j := startServerWith(b, serverOptions{name: "J", tcp: aj}, benchRelayHandler+peerBlock("K", ak, "bench", peer))
			k := startServerWith(b, serverOptions{name: "K", tcp: ak}, benchRelayHandler+peerBlock("J", aj, "bench", peer))
			for _, ts := range []*testServer{j, k} {
				deadline := time.Now().Add(waitLong)
				for ts.PeerStates()[0].State != stateUp {
					if time.Now().After(deadline) {
						b.Fatal("peer link not up")
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			runRelay(b, j, k, tc.pairs, tc.window, tc.codec, "G%d@K")
		})
	}
}

// runRelay runs the relay benchmark: P senders on server `from` each keep W
// messages unreported, to P recipients on server `to`; recipient formats
// the i-th recipient's name for the data's "to".
func runRelay(b *testing.B, from, to *testServer, pairs, window int, codec wire.Codec, recipient string) {
	body := make([]byte, 128)
	for i := range body {
		body[i] = 'x'
	}
	type pair struct{ from, to *client.Client }
	ps := make([]pair, pairs)
	for i := range ps {
		ps[i] = pair{from: from.dial(fmt.Sprintf("T%d", i), codec), to: to.dial(fmt.Sprintf("G%d", i), codec)}
	}
	per := b.N/pairs + 1
	var bad, missing sync.Map
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i, p := range ps {
		data := map[string]any{"to": fmt.Sprintf(recipient, i), "body": string(body)}
		raw, err := codec.Marshal(data)
		if err != nil {
			b.Fatal(err)
		}
		credit := make(chan struct{}, window)
		wg.Add(3)
		go func() { // sender: writes in batches, as a pipelining client does
			defer wg.Done()
			for range per {
				select {
				case credit <- struct{}{}:
				default:
					if err := p.from.Flush(); err != nil {
						b.Error(err)
						return
					}
					credit <- struct{}{}
				}
				if err := p.from.Queue("relay", "", wire.RawValue(raw)); err != nil {
					b.Error(err)
					return
				}
			}
			if err := p.from.Flush(); err != nil {
				b.Error(err)
			}
		}()
		go func() { // the sender's reports
			defer wg.Done()
			for range per {
				in, err := p.from.Receive()
				if err != nil {
					b.Error(err)
					return
				}
				if in.Report == nil || in.Report.Header.Status != wire.StatusGood {
					bad.Store(i, true)
				}
				<-credit
			}
		}()
		go func() { // the recipient
			defer wg.Done()
			for n := range per {
				if _, err := p.to.Receive(); err != nil {
					missing.Store(i, per-n)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(per*pairs)/elapsed.Seconds(), "msgs/s")
	errs := 0
	bad.Range(func(any, any) bool { errs++; return true })
	missing.Range(func(any, any) bool { errs++; return true })
	b.ReportMetric(float64(errs), "errors")
}
