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

func benchRelay(b *testing.B, pairs, window int, codec wire.Codec) {
	ts := startServer(b, `
handler "relay" {
  socket  = "relay.sock"
  command = ["$RELAY"]
  timeout = "30s"
  max_in_flight = 65536
}`)
	body := make([]byte, 128)
	for i := range body {
		body[i] = 'x'
	}
	type pair struct{ from, to *client.Client }
	ps := make([]pair, pairs)
	for i := range ps {
		ps[i] = pair{from: ts.dial(fmt.Sprintf("T%d", i), codec), to: ts.dial(fmt.Sprintf("G%d", i), codec)}
	}
	per := b.N/pairs + 1
	var bad, missing sync.Map
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i, p := range ps {
		data := map[string]any{"to": fmt.Sprintf("G%d", i), "body": string(body)}
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
