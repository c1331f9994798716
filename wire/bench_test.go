package wire_test

import (
	"bytes"
	"testing"

	"github.com/bester-project/bester/wire"
)

func benchmarkEnvelopeDecode(b *testing.B, c wire.Codec) {
	body := sampleEnvelopes(b, c)[0]
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var e wire.Envelope
		if err := c.UnmarshalMap(body, &e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvelopeDecodeCBOR(b *testing.B) { benchmarkEnvelopeDecode(b, wire.CodecCBOR) }
func BenchmarkEnvelopeDecodeJSON(b *testing.B) { benchmarkEnvelopeDecode(b, wire.CodecJSON) }

func benchmarkStatusReportEncode(b *testing.B, c wire.Codec) {
	r := wire.BadReport("m-12345", wire.Errorf(wire.CodeUndelivered, "1 of 3 recipients not connected"), []string{"G2"})
	out, err := c.Marshal(r)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Marshal(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStatusReportEncodeCBOR(b *testing.B) { benchmarkStatusReportEncode(b, wire.CodecCBOR) }
func BenchmarkStatusReportEncodeJSON(b *testing.B) { benchmarkStatusReportEncode(b, wire.CodecJSON) }

func benchmarkConvert(b *testing.B, from, to wire.Codec) {
	in := sampleData(b, from)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.Convert(in, from, to); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConvertJSONToCBOR(b *testing.B) { benchmarkConvert(b, wire.CodecJSON, wire.CodecCBOR) }
func BenchmarkConvertCBORToJSON(b *testing.B) { benchmarkConvert(b, wire.CodecCBOR, wire.CodecJSON) }

// BenchmarkReadFrame reads a typical CBOR frame through a reused buffer,
// as a connection's reader does.
func BenchmarkReadFrame(b *testing.B) {
	body := sampleEnvelopes(b, wire.CodecCBOR)[1]
	stream := frames(body)
	r := bytes.NewReader(stream)
	buf := make([]byte, 0, wire.DefaultMaxFrame>>8)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(stream)
		got, err := wire.ReadFrame(r, wire.DefaultMaxFrame, buf)
		if err != nil || len(got) != len(body) {
			b.Fatal(len(got), err)
		}
	}
}
