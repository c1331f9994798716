package client_test

import (
	"testing"

	"github.com/bester-project/bester/wire"
)

// benchDataJSON is a typical relay payload.
const benchDataJSON = `{"to":["G"],"body":"hello, wêreld","n":42}`

func benchClientData(b *testing.B, codec wire.Codec) wire.RawValue {
	d, err := wire.Convert(wire.RawValue(benchDataJSON), wire.CodecJSON, codec)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// benchmarkSend measures Send of a RawValue, one write per message.
func benchmarkSend(b *testing.B, codec wire.Codec) {
	s := startFakeServer(b, "tcp", func(s *fakeServer) { s.drain = true })
	c := dial(b, s, codec)
	data := benchClientData(b, codec)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send("relay", "m-12345", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSendCBOR(b *testing.B) { benchmarkSend(b, wire.CodecCBOR) }
func BenchmarkSendJSON(b *testing.B) { benchmarkSend(b, wire.CodecJSON) }

// BenchmarkSendParallel: goroutines sharing one client coalesce writes.
func BenchmarkSendParallel(b *testing.B) {
	s := startFakeServer(b, "tcp", func(s *fakeServer) { s.drain = true })
	c := dial(b, s, wire.CodecCBOR)
	data := benchClientData(b, wire.CodecCBOR)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.Send("relay", "m-12345", data); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkQueue pipelines: messages are queued and flushed in batches.
func BenchmarkQueue(b *testing.B) {
	const batch = 64
	s := startFakeServer(b, "tcp", func(s *fakeServer) { s.drain = true })
	c := dial(b, s, wire.CodecCBOR)
	data := benchClientData(b, wire.CodecCBOR)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := c.Queue("relay", "m-12345", data); err != nil {
			b.Fatal(err)
		}
		if i++; i%batch == 0 {
			if err := c.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := c.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSendStruct encodes a Go value on each Send.
func BenchmarkSendStruct(b *testing.B) {
	s := startFakeServer(b, "tcp", func(s *fakeServer) { s.drain = true })
	c := dial(b, s, wire.CodecCBOR)
	v := struct {
		To   []string `cbor:"to"`
		Body string   `cbor:"body"`
		N    int      `cbor:"n"`
	}{[]string{"G"}, "hello, wêreld", 42}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send("relay", "m-12345", &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDummyRoundTrip is one ping and its answer over loopback.
func BenchmarkDummyRoundTrip(b *testing.B) {
	s := startFakeServer(b, "tcp")
	c := dial(b, s, wire.CodecCBOR)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send(wire.TypeDummy, "p", nil); err != nil {
			b.Fatal(err)
		}
		if in, err := c.Receive(); err != nil || in.Kind != wire.TypeDummy {
			b.Fatal(in, err)
		}
	}
}
