package logthrottle

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// lines is a log output that hands each line over a channel, so a test
// can read what a timer writes.
type lines struct {
	c   chan string
	got strings.Builder
}

func newLines() *lines { return &lines{c: make(chan string, 4096)} }

func (l *lines) Write(p []byte) (int, error) {
	l.c <- string(p)
	return len(p), nil
}

// String returns everything written so far.
func (l *lines) String() string {
	for {
		select {
		case s := <-l.c:
			l.got.WriteString(s)
		default:
			return l.got.String()
		}
	}
}

var suppressed = regexp.MustCompile(`\((\d+) similar lines suppressed in the last`)

// countSuppressed adds up the suppression counts in out.
func countSuppressed(t *testing.T, out string) int {
	t.Helper()
	n := 0
	for _, m := range suppressed.FindAllStringSubmatch(out, -1) {
		k, _ := strconv.Atoi(m[1])
		n += k
	}
	return n
}

func TestBurstThenCount(t *testing.T) {
	out := newLines()
	log := hclog.New(&hclog.LoggerOptions{Output: out, Level: hclog.Info})
	th := New(3, time.Hour)
	for i := range 1000 {
		th.Warn(log, "bad frame, closing", "n", i)
	}
	th.Warn(log, "another kind")
	th.Log(log, hclog.Debug, "below the level")
	if got := strings.Count(out.String(), "bad frame, closing"); got != 3 {
		t.Fatalf("%d lines before Stop, want the burst of 3:\n%s", got, out)
	}
	th.Stop()
	if n := countSuppressed(t, out.String()); n != 997 {
		t.Fatalf("suppressed %d, want 997:\n%s", n, out)
	}
	if !strings.Contains(out.String(), "another kind") || strings.Contains(out.String(), "below the level") {
		t.Fatalf("another kind held back or a debug line written:\n%s", out)
	}
}

func TestPeriodEndWritesCount(t *testing.T) {
	out := newLines()
	log := hclog.New(&hclog.LoggerOptions{Output: out})
	th := New(2, 50*time.Millisecond)
	defer th.Stop()
	for range 10 {
		th.Error(log, "accept failed")
	}
	deadline := time.Now().Add(10 * time.Second)
	for countSuppressed(t, out.String()) != 8 {
		if time.Now().After(deadline) {
			t.Fatalf("no count of 8 written at the end of the period:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	th.Error(log, "accept failed") // a new period: written again
	if got := strings.Count(out.String(), "[ERROR] accept failed"); got != 4 {
		t.Fatalf("%d lines, want 2, the count and 1 more:\n%s", got, out)
	}
}

func TestKindsBounded(t *testing.T) {
	out := newLines()
	log := hclog.New(&hclog.LoggerOptions{Output: out})
	th := New(1, time.Hour)
	for i := range 10 * maxKinds {
		th.Warn(log, fmt.Sprint("kind ", i))
	}
	if n := len(th.kinds); n > maxKinds+1 {
		t.Fatalf("%d kinds remembered, want at most %d", n, maxKinds+1)
	}
	th.Stop()
	if !strings.Contains(out.String(), "lines of other kinds (") {
		t.Fatalf("no count for the kinds beyond the bound:\n%s", out)
	}
}
