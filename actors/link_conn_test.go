package actors

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/bester-project/bester/wire"
)

// wholeFramesBuffered counts only the frames a read would get without
// waiting for the socket: not one whose header or body is cut off, and
// no more than it is asked for.
func TestWholeFramesBuffered(t *testing.T) {
	var stream bytes.Buffer
	for _, body := range []string{"a", "bb", "ccc"} {
		if err := wire.WriteFrame(&stream, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	whole := stream.Bytes()
	for _, tc := range []struct {
		name  string
		bytes []byte
		max   int
		want  int
	}{
		{"three whole", whole, 64, 3},
		{"at most max", whole, 2, 2},
		{"last body cut", whole[:len(whole)-1], 64, 2},
		{"last header cut", whole[:len(whole)-len("ccc")-2], 64, 2},
		{"nothing", nil, 64, 0},
	} {
		br := bufio.NewReaderSize(bytes.NewReader(tc.bytes), 64)
		br.Peek(1) // fill the buffer as a read would
		if got := wholeFramesBuffered(br, tc.max); got != tc.want {
			t.Errorf("%s: %d frames, want %d", tc.name, got, tc.want)
		}
	}
}
