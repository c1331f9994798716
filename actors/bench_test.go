package actors

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// BenchmarkRelayMetrics is BenchmarkRelay's 16 pairs in CBOR without and
// with a monitor block, which turns the metrics on; with -count N the two
// alternate, A B A B, so that both see the same machine.
func BenchmarkRelayMetrics(b *testing.B) {
	for _, monitor := range []string{"off", "on"} {
		b.Run("metrics="+monitor, func(b *testing.B) {
			extra := benchRelayHandler
			if monitor == "on" {
				extra += monitorBlock("")
			}
			ts := startServer(b, extra)
			runRelay(b, ts, ts, 16, 64, wire.CodecCBOR, "G%d")
		})
	}
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
	start, cpu := time.Now(), processCPU(b)
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
	elapsed, cpu := time.Since(start), processCPU(b)-cpu
	b.StopTimer()
	b.ReportMetric(float64(per*pairs)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(per*pairs), "cpu-ns/msg")
	errs := 0
	bad.Range(func(any, any) bool { errs++; return true })
	missing.Range(func(any, any) bool { errs++; return true })
	b.ReportMetric(float64(errs), "errors")
}

// BenchmarkServerAllocs measures what the server itself allocates per
// relayed message, the figure the allocation target in docs/performance.md
// is stated in. Its clients allocate nothing per message: senders write
// frames encoded once, and readers check each frame they read against the
// one report or delivery they expect, byte for byte, in reused buffers. So
// allocs/op and B/op are the server's (the relay handler is a process of
// its own).
func BenchmarkServerAllocs(b *testing.B) {
	const pairs, window = 16, 64
	ts := startServer(b, benchRelayHandler)
	codec := wire.CodecCBOR
	frame := func(v any) []byte {
		var buf bytes.Buffer
		if err := codec.AppendFrame(&buf, v); err != nil {
			b.Fatal(err)
		}
		return buf.Bytes()
	}
	login := func(user string) (net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", ts.Addr("tcp").String())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		auth := wire.AuthMessage{Header: wire.AuthHeader{Scope: wire.ScopeClient,
			Authentication: wire.Credentials{Username: user, Password: "pw"}}}
		br := bufio.NewReader(conn)
		if _, err := conn.Write(frame(auth)); err != nil {
			b.Fatal(err)
		}
		if body, err := wire.ReadFrame(br, 1<<20, nil); err != nil || !bytes.Equal(wire.AppendFrame(nil, body), frame(wire.GoodReport(wire.IDAuth))) {
			b.Fatalf("login as %s: %v %x", user, err, body)
		}
		return conn, br
	}
	body, err := codec.Marshal(strings.Repeat("x", 128))
	if err != nil {
		b.Fatal(err)
	}
	per := b.N/pairs + 1
	var wg sync.WaitGroup
	var failures atomic.Int64
	// expect reads n frames and counts those that are not want.
	expect := func(br *bufio.Reader, n int, want []byte) {
		defer wg.Done()
		buf := make([]byte, 0, 1024)
		for range n {
			got, err := wire.ReadFrame(br, 1<<20, buf)
			if err != nil {
				failures.Add(int64(n))
				return
			}
			if !bytes.Equal(got, want[wire.FrameHeaderSize:]) {
				failures.Add(1)
			}
			buf = got[:0]
		}
	}
	type pair struct {
		from, to net.Conn
		fromR    *bufio.Reader
		toR      *bufio.Reader
		msg      []byte // window frames, written as one batch
		delivery []byte
	}
	ps := make([]pair, pairs)
	for i := range ps {
		p := &ps[i]
		p.from, p.fromR = login(fmt.Sprintf("T%d", i))
		p.to, p.toR = login(fmt.Sprintf("G%d", i))
		data, err := codec.Marshal(map[string]any{"to": fmt.Sprintf("G%d", i), "body": wire.RawValue(body)})
		if err != nil {
			b.Fatal(err)
		}
		one := frame(wire.Envelope{Payload: &wire.Payload{Type: "relay", ID: "m", Data: data}})
		p.msg = bytes.Repeat(one, window)
		p.delivery = frame(&wire.Delivery{
			Header:  wire.DeliveryHeader{MessageType: wire.MessageTypeReceived, From: wire.Address{Server: "J", User: fmt.Sprintf("T%d", i)}},
			Payload: wire.DeliveryPayload{Type: "relay", Data: body},
		})
	}
	good := frame(wire.GoodReport("m"))
	b.ReportAllocs()
	b.ResetTimer()
	for _, p := range ps {
		wg.Add(3)
		go expect(p.fromR, per, good)
		go expect(p.toR, per, p.delivery)
		go func() { // at most 2 windows unreported: the server's max_in_flight holds the rest
			defer wg.Done()
			one := len(p.msg) / window
			for sent := 0; sent < per; {
				n := min(window, per-sent)
				if _, err := p.from.Write(p.msg[:n*one]); err != nil {
					failures.Add(int64(per - sent))
					return
				}
				sent += n
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d reports or deliveries missing or not as expected", n, 2*per*pairs)
	}
}

// processCPU is the CPU time this process (server and clients, not the
// handler) has used: on a machine that other work shares, a steadier
// figure of a change's cost than the throughput.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
