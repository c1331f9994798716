package actors

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBadConnectionsLogBounded: 5,000 connections that each send an empty
// frame wrote one warning each; now they write a burst, and the rest are
// counted in a line that says how many were left out.
func TestBadConnectionsLogBounded(t *testing.T) {
	const conns, workers = 5000, 8
	log := new(logBuffer)
	ts := startServerWith(t, serverOptions{log: log}, "")
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range conns / workers {
				sendEmptyFrame(t, ts.Addr("tcp").String())
			}
		})
	}
	wg.Wait()
	ts.Stop(context.Background()) // writes what is still counted
	// A burst per period begun, and a period may begin at any time.
	limit := strangerLogBurst * int(time.Since(start)/strangerLogPeriod+2)

	written, suppressed := 0, 0
	count := regexp.MustCompile(`bad frame, closing \((\d+) similar lines suppressed in the last`)
	for _, line := range strings.Split(log.String(), "\n") {
		if m := count.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			suppressed += n
		} else if strings.Contains(line, "[WARN]") && strings.Contains(line, "bad frame, closing") {
			written++
		}
	}
	t.Logf("%d warnings written, %d counted", written, suppressed)
	if written > limit {
		t.Errorf("%d bad frame warnings for %d connections, want at most %d", written, conns, limit)
	}
	if written+suppressed != conns {
		t.Errorf("%d written and %d counted, want %d in all", written, suppressed, conns)
	}
}

// sendEmptyFrame connects, sends a frame of length zero and waits until
// the server closes the connection.
func sendEmptyFrame(t *testing.T, addr string) {
	conn, err := net.DialTimeout("tcp", addr, waitLong)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitLong))
	if _, err := conn.Write(frameHeader(0)); err != nil {
		t.Error(err)
		return
	}
	var b [512]byte
	for {
		if _, err := conn.Read(b[:]); err != nil {
			return
		}
	}
}
