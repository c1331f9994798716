package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/bester-project/bester/wire"
)

// frames joins bodies into one stream of frames.
func frames(bodies ...[]byte) []byte {
	var out []byte
	for _, b := range bodies {
		out = wire.AppendFrame(out, b)
	}
	return out
}

// header is a bare length prefix.
func header(n uint32) []byte {
	return binary.LittleEndian.AppendUint32(nil, n)
}

func TestReadFrameRoundTrip(t *testing.T) {
	bodies := [][]byte{
		{0xa0},
		[]byte(`{"payload":{"type":"dummy"}}`),
		bytes.Repeat([]byte{'x'}, 70_000),
		bytes.Repeat([]byte{'y'}, wire.DefaultMaxFrame),
	}
	var stream bytes.Buffer
	for _, b := range bodies {
		if err := wire.WriteFrame(&stream, b); err != nil {
			t.Fatalf("WriteFrame: %v", err)
		}
	}
	if !bytes.Equal(stream.Bytes(), frames(bodies...)) {
		t.Fatal("WriteFrame and AppendFrame disagree")
	}
	var buf []byte
	for i, want := range bodies {
		got, err := wire.ReadFrame(&stream, wire.DefaultMaxFrame, buf)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: got %d bytes, want %d", i, len(got), len(want))
		}
		buf = got
	}
	if _, err := wire.ReadFrame(&stream, wire.DefaultMaxFrame, buf); err != io.EOF {
		t.Fatalf("after the last frame: got %v, want io.EOF", err)
	}
}

func TestReadFrameReusesBuffer(t *testing.T) {
	buf := make([]byte, 64)
	got, err := wire.ReadFrame(bytes.NewReader(frames([]byte("abc"))), 16, buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "abc" || &got[0] != &buf[0] {
		t.Fatalf("got %q at a new address; want the body in buf", got)
	}
}

func TestReadFrameEmpty(t *testing.T) {
	_, err := wire.ReadFrame(bytes.NewReader(header(0)), wire.DefaultMaxFrame, nil)
	if !errors.Is(err, wire.ErrEmptyFrame) {
		t.Fatalf("got %v, want ErrEmptyFrame", err)
	}
	if c := wire.FrameErrorCode(err); c != wire.CodeBadFrame {
		t.Fatalf("code %q, want %q", c, wire.CodeBadFrame)
	}
}

// headerOnly serves one length prefix and fails the test if anything past
// it is read: an oversize frame must be refused from its header alone.
type headerOnly struct {
	t   testing.TB
	hdr []byte
}

func (r *headerOnly) Read(p []byte) (int, error) {
	if len(r.hdr) == 0 {
		r.t.Error("ReadFrame read past the header of an oversize frame")
		return 0, errors.New("read past the header")
	}
	n := copy(p, r.hdr)
	r.hdr = r.hdr[n:]
	return n, nil
}

func TestReadFrameTooLarge(t *testing.T) {
	const max = 1000
	for _, n := range []uint32{max + 1, 1 << 31, 1<<32 - 1} {
		_, err := wire.ReadFrame(&headerOnly{t: t, hdr: header(n)}, max, nil)
		if !errors.Is(err, wire.ErrFrameTooLarge) {
			t.Fatalf("length %d: got %v, want ErrFrameTooLarge", n, err)
		}
		if c := wire.FrameErrorCode(err); c != wire.CodeFrameTooLarge {
			t.Fatalf("length %d: code %q, want %q", n, c, wire.CodeFrameTooLarge)
		}
	}
	body := bytes.Repeat([]byte{1}, max)
	if got, err := wire.ReadFrame(bytes.NewReader(frames(body)), max, nil); err != nil || len(got) != max {
		t.Fatalf("a frame of exactly max bytes: %d bytes, %v", len(got), err)
	}
}

// TestReadFrameTooLargeAllocatesLittle checks that a 4 GiB claim costs
// only the error value, not the claimed body.
func TestReadFrameTooLargeAllocatesLittle(t *testing.T) {
	const (
		runs        = 100
		maxPerRunB  = 512 // the wrapped error and its text, never the body
		maxMallocsN = 8   // fmt.Errorf with its arguments
	)
	hdr := header(1<<32 - 1)
	r := bytes.NewReader(hdr)
	read := func() {
		r.Reset(hdr)
		if _, err := wire.ReadFrame(r, wire.DefaultMaxFrame, nil); !errors.Is(err, wire.ErrFrameTooLarge) {
			t.Fatalf("got %v, want ErrFrameTooLarge", err)
		}
	}
	if n := testing.AllocsPerRun(runs, read); n > maxMallocsN {
		t.Errorf("%v allocations per oversize frame, want at most %d", n, maxMallocsN)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		read()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > maxPerRunB {
		t.Errorf("%d bytes allocated per oversize frame, want at most %d", per, maxPerRunB)
	}
}

func TestReadFrameTruncated(t *testing.T) {
	for name, stream := range map[string][]byte{
		"header":           {5, 0},
		"body missing":     header(5),
		"body cut":         append(header(5), "abc"...),
		"second frame cut": append(frames([]byte("ok")), 3, 0, 0, 0, 'x'),
	} {
		t.Run(name, func(t *testing.T) {
			r := bytes.NewReader(stream)
			var err error
			for err == nil {
				_, err = wire.ReadFrame(r, wire.DefaultMaxFrame, nil)
			}
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
			}
			if c := wire.FrameErrorCode(err); c != wire.CodeBadFrame {
				t.Fatalf("code %q, want %q", c, wire.CodeBadFrame)
			}
		})
	}
}

func TestReadFrameCleanEOF(t *testing.T) {
	if _, err := wire.ReadFrame(bytes.NewReader(nil), wire.DefaultMaxFrame, nil); err != io.EOF {
		t.Fatalf("got %v, want io.EOF itself", err)
	}
}

func TestReadFrameReaderError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := wire.ReadFrame(iotest.ErrReader(boom), wire.DefaultMaxFrame, nil); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

func TestReadFrameSplitReads(t *testing.T) {
	bodies := [][]byte{[]byte("one"), {0xa1, 0x61, 'a', 0x01}, bytes.Repeat([]byte("z"), 300)}
	stream := frames(bodies...)
	readers := map[string]func(io.Reader) io.Reader{
		"one byte":  iotest.OneByteReader,
		"half":      iotest.HalfReader,
		"data+EOF":  iotest.DataErrReader,
		"timeout":   func(r io.Reader) io.Reader { return iotest.OneByteReader(retryTimeout{iotest.TimeoutReader(r)}) },
		"truncated": func(r io.Reader) io.Reader { return iotest.DataErrReader(iotest.OneByteReader(r)) },
	}
	for name, wrap := range readers {
		t.Run(name, func(t *testing.T) {
			r := wrap(bytes.NewReader(stream))
			for i, want := range bodies {
				got, err := wire.ReadFrame(r, wire.DefaultMaxFrame, nil)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("frame %d: got %q, %v; want %q", i, got, err, want)
				}
			}
			if _, err := wire.ReadFrame(r, wire.DefaultMaxFrame, nil); err != io.EOF {
				t.Fatalf("at the end: got %v, want io.EOF", err)
			}
		})
	}
}

// retryTimeout turns the one timeout of iotest.TimeoutReader into an empty
// read, which io.ReadFull must simply retry.
type retryTimeout struct{ r io.Reader }

func (r retryTimeout) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if errors.Is(err, iotest.ErrTimeout) {
		return n, nil
	}
	return n, err
}

func ExampleAppendFrame() {
	fmt.Printf("% x\n", wire.AppendFrame(nil, []byte{0xa0}))
	// Output: 01 00 00 00 a0
}

// TestReadFrameReusedBufferAllocatesNothing: a connection's reader that
// passes the same buffer each time costs no garbage per frame.
func TestReadFrameReusedBufferAllocatesNothing(t *testing.T) {
	stream := frames([]byte(`{"payload":{"type":"dummy","id":"1"}}`))
	r := bytes.NewReader(stream)
	buf := make([]byte, 0, 256)
	n := testing.AllocsPerRun(100, func() {
		r.Reset(stream)
		if _, err := wire.ReadFrame(r, wire.DefaultMaxFrame, buf); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per frame, want 0", n)
	}
}

// trickle serves a length prefix and then only part of the body it
// claims, as a peer that announces a large frame and stalls would.
func trickle(claim uint32, sent int) io.Reader {
	return io.MultiReader(bytes.NewReader(header(claim)), bytes.NewReader(bytes.Repeat([]byte{'x'}, sent)))
}

// TestReadFrameMemoryFollowsArrival checks that a frame claiming the
// largest body but sending little of it costs little memory.
func TestReadFrameMemoryFollowsArrival(t *testing.T) {
	const claim = 64 << 20
	for _, sent := range []int{0, 10, 40 << 10, 1 << 20} {
		r := trickle(claim, sent)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := wire.ReadFrame(r, claim, nil)
		runtime.ReadMemStats(&after)
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("sent %d: got %v, want io.ErrUnexpectedEOF", sent, err)
		}
		// Steps double, so all of them together are at most twice the
		// last, which is at most twice what arrived (or the first step).
		limit := uint64(4*sent + 2*4<<10 + 1<<10)
		if got := after.TotalAlloc - before.TotalAlloc; got > limit {
			t.Errorf("sent %d of a claimed %d bytes: %d bytes allocated, want at most %d", sent, claim, got, limit)
		}
	}
}

// TestReadFrameGrowSteps checks the sizes grow is told about: each step
// doubles, the last is the body's length, and the caller's buffer is
// the first step when it is large enough.
func TestReadFrameGrowSteps(t *testing.T) {
	type step struct{ prev, next int }
	for _, tc := range []struct {
		n     int
		buf   int
		steps []step
	}{
		{n: 100, buf: 0, steps: []step{{0, 100}}},
		{n: 100, buf: 200, steps: nil},
		{n: 100 << 10, buf: 0, steps: []step{{0, 4 << 10}, {4 << 10, 8 << 10}, {8 << 10, 16 << 10}, {16 << 10, 32 << 10}, {32 << 10, 64 << 10}, {64 << 10, 100 << 10}}},
		{n: 100 << 10, buf: 64 << 10, steps: []step{{0, 100 << 10}}},
	} {
		body := bytes.Repeat([]byte{'b'}, tc.n)
		var got []step
		out, err := wire.ReadFrameGrow(bytes.NewReader(frames(body)), tc.n, make([]byte, 0, tc.buf), func(prev, next int) error {
			got = append(got, step{prev, next})
			return nil
		})
		if err != nil || !bytes.Equal(out, body) {
			t.Fatalf("n %d, buf %d: %d bytes, %v", tc.n, tc.buf, len(out), err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.steps) {
			t.Errorf("n %d, buf %d: steps %v, want %v", tc.n, tc.buf, got, tc.steps)
		}
	}
}

func TestReadFrameGrowRefused(t *testing.T) {
	refused := errors.New("over budget")
	body := bytes.Repeat([]byte{'b'}, 50<<10)
	_, err := wire.ReadFrameGrow(bytes.NewReader(frames(body)), len(body), nil, func(prev, next int) error {
		if prev > 0 {
			return refused
		}
		return nil
	})
	if err != refused {
		t.Fatalf("got %v, want grow's error itself", err)
	}
}
