package actors

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// stormCost is the bcrypt cost of the users of the login storm tests: high
// enough that a storm of comparisons at the old, unguarded server takes
// seconds (16 ms a comparison, 200 ms under the race detector), low enough
// that one login stays well under a second.
const stormCost = 8

// stormRampUp bounds the wait for a storm's address to be refused: ten
// failures at stormCost under the race detector, seven of them slowed.
const stormRampUp = 10 * time.Second

// dialFrom opens a raw connection to the "tcp" listener from a loopback
// address of its own (any 127.x.y.z works on Linux), so that it counts as
// another source than 127.0.0.1.
func (ts *testServer) dialFrom(t *testing.T, ip string, codec wire.Codec) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: waitLong, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := d.Dial("tcp", ts.Addr("tcp").String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn, codec: codec}
}

// loginReport logs in on r and returns the auth_special report.
func (r *rawConn) loginReport(user, password string) *wire.StatusReport {
	r.t.Helper()
	r.send(authMsg(user, password))
	return r.expectReport(wire.IDAuth)
}

func TestLoginGuardRefusesAfterFailures(t *testing.T) {
	block, _ := htpasswdAuthCost(t, stormCost, "T", "right")
	ts := startServer(t, block)
	for i := range config.DefaultMaxLoginFailures {
		r := ts.dialRaw(t, wire.CodecJSON)
		if rep := r.loginReport("T", "wrong"); rep.Header.Error != wire.CodeUnauthorized {
			t.Fatalf("failure %d: got %s %s", i+1, rep.Header.Status, rep.Header.Error)
		}
	}
	// Now even the right password is refused from this address, unchecked.
	r := ts.dialRaw(t, wire.CodecJSON)
	wantBad(t, r.loginReport("T", "right"), wire.CodeRateLimited)
	r.expectClosed()
	// From another address it works.
	wantGood(t, ts.dialFrom(t, "127.0.0.2", wire.CodecJSON).loginReport("T", "right"))
}

// loginStorm keeps n bad logins from 127.0.0.1 going until stop is closed,
// and counts the answers that were rate_limited.
func (ts *testServer) loginStorm(n int, stop <-chan struct{}, limited *atomic.Int64) *sync.WaitGroup {
	body, _ := wire.CodecJSON.Marshal(authMsg("T", "wrong"))
	frame := wire.AppendFrame(nil, body)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				conn, err := net.DialTimeout("tcp", ts.Addr("tcp").String(), waitLong)
				if err != nil {
					continue
				}
				conn.SetDeadline(time.Now().Add(waitLong))
				unwatch := stopCloses(conn, stop)
				if _, err := conn.Write(frame); err == nil {
					if body, err := wire.ReadFrame(conn, wire.DefaultMaxFrame, nil); err == nil && isRateLimited(body) {
						limited.Add(1)
					}
				}
				unwatch()
				conn.Close()
			}
		})
	}
	return &wg
}

// isRateLimited says whether body is a JSON report with rate_limited.
func isRateLimited(body []byte) bool {
	var rep wire.StatusReport
	return wire.CodecJSON.UnmarshalMap(body, &rep) == nil && rep.Header.Error == wire.CodeRateLimited
}

// stopCloses closes conn when stop closes, until the returned func is
// called.
func stopCloses(conn net.Conn, stop <-chan struct{}) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-stop:
			conn.Close()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// timeLogin returns how long T's good login from ip takes.
func timeLogin(t *testing.T, ts *testServer, ip string) time.Duration {
	t.Helper()
	start := time.Now()
	wantGood(t, ts.dialFrom(t, ip, wire.CodecJSON).loginReport("T", "right"))
	return time.Since(start)
}

// dummyRate measures how many dummy round trips per second c makes in d,
// 64 at a time.
func dummyRate(t *testing.T, c *client.Client, d time.Duration) float64 {
	t.Helper()
	const window = 64
	n, start := 0, time.Now()
	for time.Since(start) < d {
		for range window {
			if err := c.Queue(wire.TypeDummy, "d", nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		for range window {
			if in := recv(t, c); in.Kind != client.KindDummy {
				t.Fatalf("want a dummy reply, got %s", in.Raw)
			}
		}
		n += window
	}
	return float64(n) / time.Since(start).Seconds()
}

// TestLoginStorm: 200 bad logins at once from one address leave logged-in
// users most of their throughput, and a login from elsewhere is
// answered in under a second. Without the guard, the storm took every
// processor for bcrypt. Throughput is measured once the storm's address
// is refused, or after stormRampUp: the first max_login_failures
// comparisons take one processor while they run, which on two processors
// is half of what the client and the server share.
func TestLoginStorm(t *testing.T) {
	block, _ := htpasswdAuthCost(t, stormCost, "T", "right", "G", "also right")
	ts := startServer(t, block)
	g := ts.dialOpts(client.Options{Address: ts.Addr("tcp").String(), Username: "G", Password: "also right"})
	solo := dummyRate(t, g, time.Second)
	alone := timeLogin(t, ts, "127.0.0.3")

	stop := make(chan struct{})
	var limited atomic.Int64
	storm := ts.loginStorm(200, stop, &limited)
	defer func() {
		close(stop)
		storm.Wait()
	}()
	time.Sleep(200 * time.Millisecond) // the storm is under way

	// A second more than alone, and then some for a loaded machine; the
	// unguarded server made it wait for a hundred comparisons.
	if took := timeLogin(t, ts, "127.0.0.2"); took > time.Second+3*alone {
		t.Errorf("a good login from another address took %v during the storm, %v alone", took, alone)
	}
	for deadline := time.Now().Add(stormRampUp); limited.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	under := dummyRate(t, g, time.Second)
	t.Logf("dummy round trips: %.0f/s alone, %.0f/s during the storm", solo, under)
	// The guard keeps about 0.8 to 0.9 of it (docs/performance.md); the
	// bound is a quarter, since other tests or programs may load the
	// machine between the two measurements. Unguarded, it was a sixth.
	if under < solo/4 {
		t.Errorf("throughput during the storm %.0f/s, less than a quarter of %.0f/s", under, solo)
	}
}
