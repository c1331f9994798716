package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/bester-project/bester/wire"
)

// fuzzMaxFrame keeps fuzzed frame limits small so that length checks are
// exercised on both sides.
const fuzzMaxFrame = 1 << 12

// seedBodies are real bodies in both codecs plus edge cases.
func seedBodies(f *testing.F) [][]byte {
	seeds := [][]byte{
		[]byte("{}"), {0xa0}, {0xbf, 0xff}, []byte(" {\"payload\":null}"),
		[]byte(`{"payload":{"type":"t","id":"1","data":{"a":[1,2.5,"x",null,true]}}}`),
		cborMap(cborText("payload"), cborMap(cborText("type"), cborText("t"), cborText("data"), unhex(f, nonCanonicalData))),
	}
	for _, c := range codecs {
		seeds = append(seeds, sampleEnvelopes(f, c)...)
		for _, v := range []any{wire.GoodReport(wire.IDAuth), wire.NewDummyReply("d"),
			wire.BadReport("m", wire.Errorf(wire.CodeUndelivered, "x"), []string{"G2"})} {
			b, err := c.Marshal(v)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// readAll reads frames until the first error.
func readAll(r io.Reader) ([][]byte, error) {
	var out [][]byte
	for {
		b, err := wire.ReadFrame(r, fuzzMaxFrame, nil)
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
}

func FuzzReadFrame(f *testing.F) {
	bodies := seedBodies(f)
	f.Add(frames(bodies...))
	for _, b := range bodies {
		f.Add(frames(b))
		f.Add(frames(b)[:len(b)/2+2])
	}
	f.Add([]byte{})
	f.Add(header(0))
	f.Add(header(fuzzMaxFrame + 1))
	f.Add(header(1<<32 - 1))
	f.Fuzz(func(t *testing.T, stream []byte) {
		whole, err := readAll(bytes.NewReader(stream))
		switch {
		case err == io.EOF, err == io.ErrUnexpectedEOF,
			errors.Is(err, wire.ErrEmptyFrame), errors.Is(err, wire.ErrFrameTooLarge):
		default:
			t.Fatalf("unexpected error %v", err)
		}
		consumed := 0
		for _, b := range whole {
			if len(b) == 0 || len(b) > fuzzMaxFrame {
				t.Fatalf("body of %d bytes", len(b))
			}
			consumed += wire.FrameHeaderSize + len(b)
		}
		if !bytes.Equal(frames(whole...), stream[:consumed]) {
			t.Fatal("frames do not re-encode to the stream")
		}
		split, err2 := readAll(iotest.OneByteReader(bytes.NewReader(stream)))
		if len(split) != len(whole) || !errors.Is(err2, err) && err2.Error() != err.Error() {
			t.Fatalf("one byte at a time: %d frames, %v; at once: %d frames, %v", len(split), err2, len(whole), err)
		}
		for i := range split {
			if !bytes.Equal(split[i], whole[i]) {
				t.Fatalf("frame %d differs when read one byte at a time", i)
			}
		}
	})
}

func FuzzEnvelope(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range codecs {
			var e wire.Envelope
			if err := c.UnmarshalMap(body, &e); err != nil || e.Payload == nil {
				continue
			}
			// What decoded must encode again and decode to the same payload.
			out, err := c.Marshal(&e)
			if err != nil {
				t.Fatalf("%s: re-encode: %v", c, err)
			}
			var again wire.Envelope
			if err := c.UnmarshalMap(out, &again); err != nil {
				t.Fatalf("%s: decode of re-encoded %q: %v", c, out, err)
			}
			p, q := e.Payload, again.Payload
			if q == nil || p.Type != q.Type || p.ID != q.ID || !sameData(c, p.Data, q.Data) {
				t.Fatalf("%s: payload %+v became %+v", c, p, q)
			}
			// Conversion may refuse, but a value that reaches the other
			// codec must come back.
			other := wire.CodecJSON
			if c == wire.CodecJSON {
				other = wire.CodecCBOR
			}
			conv, err := wire.Convert(p.Data, c, other)
			if err != nil {
				continue
			}
			if _, err := wire.Convert(conv, other, c); err != nil {
				t.Fatalf("%s data %q converted to %q, which does not convert back: %v", c, p.Data, conv, err)
			}
		}
	})
}

// sameData compares data as the codec means it: bytes for CBOR, compact
// text for JSON (whose marshaller compacts RawValue).
func sameData(c wire.Codec, a, b wire.RawValue) bool {
	if c == wire.CodecCBOR || len(a) == 0 || len(b) == 0 {
		return bytes.Equal(a, b) || len(a) == 0 && string(b) == "\xf6" || len(a) == 0 && string(b) == "null"
	}
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// splitReader serves a stream in reads whose sizes come from sizes, in
// turn, each at least one byte.
type splitReader struct {
	b     []byte
	sizes []byte
	i     int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := len(p)
	if len(r.sizes) > 0 {
		n = min(n, int(r.sizes[r.i%len(r.sizes)])*97+1)
		r.i++
	}
	n = copy(p, r.b[:min(n, len(r.b))])
	r.b = r.b[n:]
	return n, nil
}

// FuzzReadFrameGrow reads streams whose first frame is large (up to three
// growth steps, its body made of the fuzzed bytes repeated and possibly cut
// short) in reads of fuzzed sizes, and checks that ReadFrameGrow gives the
// frames ReadFrame gives and that its buffers never outgrow what arrived.
func FuzzReadFrameGrow(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(frames(b), []byte{1, 3, 200}, uint32(70_000), uint32(70_000))
	}
	f.Add([]byte{}, []byte{}, uint32(1<<20), uint32(5))
	f.Add([]byte("x"), []byte{0, 1}, uint32(33_000), uint32(33_000))
	f.Fuzz(func(t *testing.T, rest, sizes []byte, claim, sent uint32) {
		const limit = 1 << 20
		claim = claim%limit + 1
		sent = min(sent, claim)
		body := bytes.Repeat(append(rest, 'f'), int(sent)/(len(rest)+1)+1)[:sent]
		stream := append(header(claim), body...)
		if sent == claim {
			stream = append(stream, rest...)
		}
		want, wantErr := readFrames(&splitReader{b: stream}, nil)
		grow := func(prev, next int) error {
			if next <= prev || next > limit || prev > 0 && next > 2*prev || prev == 0 && next > 4<<10 {
				t.Fatalf("grow(%d, %d)", prev, next)
			}
			return nil
		}
		got, gotErr := readFrames(&splitReader{b: stream, sizes: sizes}, grow)
		if len(got) != len(want) || (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("split reads: %d frames, %v; whole: %d frames, %v", len(got), gotErr, len(want), wantErr)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("frame %d differs with split reads", i)
			}
		}
	})
}

// readFrames reads frames with ReadFrameGrow and a small reused buffer
// until the first error, returning copies of the bodies.
func readFrames(r io.Reader, grow func(prev, next int) error) ([][]byte, error) {
	var out [][]byte
	buf := make([]byte, 0, 512)
	for {
		b, err := wire.ReadFrameGrow(r, 1<<20, buf, grow)
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return out, err
		}
		out = append(out, bytes.Clone(b))
	}
}
