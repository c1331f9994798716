package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bester-project/bester/wire"
)

// quickConfig measures a number of messages rather than a time, so that
// what a run covers does not depend on how busy the machine is. The
// drain ends as soon as everything due has arrived: its bound is for a
// defect only.
func quickConfig(d Driver) Config {
	return Config{Workload: "relay", Driver: d, Senders: 4, Recipients: 1, Window: 8, Size: 64,
		Warmup: 50 * time.Millisecond, Messages: 400, Drain: 10 * time.Second}
}

// runUntilSettled runs cfg and ends it as soon as settled says the
// counters will not move again, rather than after a fixed drain: a
// relay that loses messages leaves the drain nothing to wait for, and a
// swallowed acknowledgement holds the senders for ever. Only a run
// that never settles meets the timeout.
func runUntilSettled(t *testing.T, cfg Config, settled func(Progress) bool) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg.ProgressInterval = time.Millisecond
	cfg.Progress = func(p Progress) {
		if settled(p) {
			cancel()
		}
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("the run never settled: accounting %+v", res.Accounting)
	}
	return res
}

func TestRunAccountsForEveryID(t *testing.T) {
	res, err := Run(context.Background(), quickConfig(newFakeRelay()))
	if err != nil {
		t.Fatal(err)
	}
	a := res.Accounting
	if !a.Complete || a.Sent == 0 || a.Good != a.Sent || a.Delivered != a.Sent || a.Expected != a.Sent {
		t.Fatalf("accounting %+v", a)
	}
	if len(res.Errors) != 0 {
		t.Fatalf("errors %v", res.Errors)
	}
	if res.Sent.Count != 400 || res.Delivered.Count != 400 || res.Acked.Count != 400 || res.Sent.Count > a.Sent ||
		res.Delivered.PerSecond <= 0 || res.MeasuredSeconds <= 0 {
		t.Fatalf("throughput sent %+v delivered %+v acked %+v in %vs of %d ids",
			res.Sent, res.Delivered, res.Acked, res.MeasuredSeconds, a.Sent)
	}
	if l := res.Latency.Delivery; l.Count != 400 || l.P50 > l.P99 || l.P99 > l.Max {
		t.Fatalf("delivery latency %+v", l)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "every id accounted for") {
		t.Fatalf("table:\n%s", b.String())
	}
}

func TestRunFindsLostDuplicatedAndRefused(t *testing.T) {
	f := newFakeRelay()
	// Each knob picks its own ids: 7 | id loses it, 11 | id (and not 7)
	// doubles it, 13 | id refuses it with overloaded.
	f.drop = func(id uint64) bool { return id%7 == 0 }
	f.duplicate = func(id uint64) bool { return id%11 == 0 && id%7 != 0 }
	f.bad = func(id uint64) string {
		if id%13 == 0 {
			return "overloaded"
		}
		return ""
	}
	// Lost messages never come: the run ends once every acknowledgement,
	// delivery and duplicate the relay sent has been counted.
	res := runUntilSettled(t, quickConfig(f), func(p Progress) bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return p.Phase == "draining" && p.Acked == p.Sent &&
			p.Delivered == p.Sent-uint64(f.dropped+f.refused) && p.Errors == uint64(f.refused+f.duplicated)
	})
	a := res.Accounting
	f.mu.Lock()
	dropped, duplicated, refused := f.dropped, f.duplicated, f.refused
	f.mu.Unlock()
	if dropped == 0 || duplicated == 0 || refused == 0 {
		t.Fatalf("the run was too short to exercise the knobs: %d %d %d", dropped, duplicated, refused)
	}
	if a.Complete || a.Lost != uint64(dropped) || a.Duplicates != uint64(duplicated) || a.Bad != uint64(refused) ||
		a.Good+a.Bad != a.Sent || a.Unacked != 0 {
		t.Fatalf("accounting %+v; the relay dropped %d, duplicated %d, refused %d", a, dropped, duplicated, refused)
	}
	if res.Errors["overloaded"] != uint64(refused) || res.Errors["duplicate"] != uint64(duplicated) {
		t.Fatalf("errors %v", res.Errors)
	}
	var b bytes.Buffer
	WriteTable(&b, res)
	for _, want := range []string{"NOT every id accounted for", Thousands(uint64(dropped)) + " lost", "overloaded"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRunFindsMisdelivered(t *testing.T) {
	f := newFakeRelay()
	f.redirect = func(id uint64) string {
		if s, seq := splitID(id); s == 0 && seq == 3 {
			return DefaultUserPrefix + "r1" // sender 0 addresses r0 only
		}
		return ""
	}
	res := runUntilSettled(t, quickConfig(f), func(p Progress) bool {
		return p.Phase == "draining" && p.Acked == p.Sent && p.Delivered == p.Sent-1 && p.Errors == 1
	})
	if a := res.Accounting; a.Misdelivered != 1 || a.Lost != 1 || a.Complete {
		t.Fatalf("accounting %+v", a)
	}
}

func TestFanoutAccounting(t *testing.T) {
	cfg := quickConfig(newFakeRelay())
	cfg.Workload, cfg.Senders, cfg.Recipients, cfg.SharedRecipients = "fanout", 2, 5, true
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := res.Accounting
	if !a.Complete || a.Delivered != 5*a.Sent || a.Expected != 5*a.Sent {
		t.Fatalf("accounting %+v", a)
	}
}

func TestRunCountsUnacknowledged(t *testing.T) {
	f := newFakeRelay()
	// A relay that swallows everything after a while: the window fills
	// and the senders wait for ever with ids never acknowledged. The run
	// ends when every sender has its window full of them.
	f.bad = func(id uint64) string {
		if _, seq := splitID(id); seq >= 20 {
			return "-" // marker below
		}
		return ""
	}
	d := &swallow{fakeRelay: f}
	cfg := quickConfig(d)
	res := runUntilSettled(t, cfg, func(p Progress) bool {
		return p.Sent == uint64(4*(20+cfg.Window)) && p.Acked == 4*20
	})
	a := res.Accounting
	if a.Unacked != uint64(4*cfg.Window) || a.Good != 4*20 || a.Complete {
		t.Fatalf("accounting %+v", a)
	}
}

// swallow acknowledges nothing that its relay would refuse with "-".
type swallow struct{ *fakeRelay }

func (s *swallow) Dial(ctx context.Context, user string, local net.IP) (Conn, error) {
	c, err := s.fakeRelay.Dial(ctx, user, local)
	if err != nil {
		return nil, err
	}
	return &swallowConn{c.(*fakeConn)}, nil
}

type swallowConn struct{ *fakeConn }

func (c *swallowConn) Receive(ev *Event) error {
	for {
		if err := c.fakeConn.Receive(ev); err != nil || ev.Code != "-" {
			return err
		}
	}
}

func TestOpenLoopLatencyFromIntendedTime(t *testing.T) {
	// The relay stalls from 100 ms to 400 ms, holding up the senders as
	// a socket that takes no more data would. The messages meant to be
	// sent meanwhile go late, and their latency must count from when
	// they were meant to go.
	f := newFakeRelay()
	f.stall = stallWindow(100*time.Millisecond, 300*time.Millisecond)
	cfg := quickConfig(f)
	cfg.Rate, cfg.Messages, cfg.Warmup, cfg.Duration = 2000, 0, 0, 600*time.Millisecond
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := res.Accounting
	if !a.Complete {
		t.Fatalf("accounting %+v", a)
	}
	// 2000/s for 600 ms: 1200 messages on schedule, every one sent.
	if a.Sent != 1200 {
		t.Fatalf("sent %d, want 1200 on schedule", a.Sent)
	}
	// Half the messages were due during the stall; those waited up to
	// 300 ms, so p90 is about 240 ms. Measured from the actual send time,
	// it would be well under a millisecond.
	l := res.Latency.Ack
	if l.Max < 250_000 || l.P90 < 100_000 {
		t.Fatalf("ack latency %+v: the stall is hidden", l)
	}
	if l.P50 > l.P90 || l.Count != 1200 {
		t.Fatalf("ack latency %+v", l)
	}
}

func TestOpenLoopKeepsItsSchedule(t *testing.T) {
	cfg := quickConfig(newFakeRelay())
	cfg.Rate, cfg.Messages, cfg.Warmup, cfg.Duration = 1000, 0, 100*time.Millisecond, 400*time.Millisecond
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a := res.Accounting; !a.Complete || a.Sent != 500 {
		t.Fatalf("accounting %+v, want 500 sent", a)
	}
	// Messages meant for the measurement only: 400 of them.
	if n := res.Latency.Delivery.Count; n != 400 {
		t.Fatalf("%d latencies measured, want 400", n)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	h := newHistogram()
	for us := 1; us <= 10000; us++ {
		h.record(time.Duration(us) * time.Microsecond)
	}
	h.record(0)               // below the range: counted as 1 µs
	h.record(2 * time.Minute) // above it: counted as 60 s
	p := h.percentiles()
	near := func(got, want float64) bool { return got >= want*0.99 && got <= want*1.01 }
	if p.Count != 10002 || !near(p.P50, 5000) || !near(p.P90, 9000) || !near(p.P99, 9900) ||
		!near(p.P999, 9990) || !near(p.Max, 60e6) || p.Over != 1 {
		t.Fatalf("percentiles %+v", p)
	}
	o := newHistogram()
	o.record(time.Second)
	h.merge(o)
	if h.percentiles().Count != 10003 {
		t.Fatal("merge lost a value")
	}
}

func TestBody(t *testing.T) {
	b := newBody(40)
	stampBody(b, makeID(3, 12345), 987654321)
	id, stamp, err := parseBody(b)
	if err != nil || id != makeID(3, 12345) || stamp != 987654321 || string(b[32:]) != "xxxxxxxx" {
		t.Fatalf("%q: %x %d %v", b, id, stamp, err)
	}
	if s, seq := splitID(id); s != 3 || seq != 12345 {
		t.Fatalf("split %d %d", s, seq)
	}
	for _, bad := range []string{"short", strings.Repeat("g", 32)} {
		if _, _, err := parseBody([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if len(newBody(5)) != MinSize {
		t.Error("a body is at least MinSize")
	}
}

func TestLedger(t *testing.T) {
	var l ledger
	for i := range pageSize + 10 {
		if seq := l.add(int64(i)); seq != uint64(i) {
			t.Fatalf("seq %d, want %d", seq, i)
		}
	}
	if at, first, known := l.ack(pageSize+3, 0, 0); at != pageSize+3 || !first || !known {
		t.Fatalf("ack: %d %v %v", at, first, known)
	}
	if _, first, _ := l.ack(pageSize+3, 0, 0); first {
		t.Fatal("a second ack counted as first")
	}
	if _, _, known := l.ack(pageSize+10, 0, 0); known {
		t.Fatal("an ack of an id never sent is known")
	}
	l.deliver(pageSize + 3)
	l.deliver(pageSize + 3)
	if got := l.entry(pageSize + 3).deliveries.Load(); got != 2 || l.sent() != pageSize+10 {
		t.Fatalf("deliveries %d, sent %d", got, l.sent())
	}
	var bs bitset
	if bs.set(1000) || !bs.set(1000) || bs.set(999) {
		t.Fatal("bitset")
	}
}

func TestRunConnect(t *testing.T) {
	f := newFakeRelay()
	rss := int64(1 << 20)
	res, err := RunConnect(context.Background(), ConnectConfig{Driver: f, Conns: 200, Hold: 50 * time.Millisecond,
		Memory: func() (int64, error) { rss += 100 * 1024; return rss, nil }})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Connect
	if c.Established != 200 || c.Failed != 0 || c.Latency.Count != 200 || c.BytesPerConn != 512 || c.Limit != "" {
		t.Fatalf("connect %+v", c)
	}
}

func TestRunConnectSaysWhatLimitedIt(t *testing.T) {
	f := newFakeRelay()
	f.failDial = func(n int) error {
		if n > 150 {
			return fmt.Errorf("connect: %w", syscall.EMFILE)
		}
		return nil
	}
	res, err := RunConnect(context.Background(), ConnectConfig{Driver: f, Conns: 1000, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Connect
	if c.Established != 150 || c.Failed < 10 || !strings.Contains(c.Limit, "open-file limit") ||
		res.Errors["connect: open files"] == 0 {
		t.Fatalf("connect %+v, errors %v", c, res.Errors)
	}
}

func TestRelayDataEncoding(t *testing.T) {
	body := []byte(strings.Repeat("b", 300))
	for _, codec := range []wire.Codec{wire.CodecCBOR, wire.CodecJSON} {
		for _, to := range [][]string{{"G"}, {"G", "H"}} {
			head, err := relayHead(codec, to)
			if err != nil {
				t.Fatal(err)
			}
			data := append([]byte{}, head...)
			if codec == wire.CodecJSON {
				data = append(append(append(data, '"'), body...), '"', '}')
			} else {
				data = append(wire.AppendCBORTextHead(data, len(body)), body...)
			}
			var got struct {
				To   any    `cbor:"to" json:"to"`
				Body string `cbor:"body" json:"body"`
			}
			if err := codec.Unmarshal(data, &got); err != nil {
				t.Fatalf("%s %v: %v", codec, to, err)
			}
			if got.Body != string(body) || fmt.Sprint(got.To) != fmt.Sprint(map[bool]any{true: to[0], false: to}[len(to) == 1]) {
				t.Fatalf("%s %v: decoded %v", codec, to, got)
			}
		}
	}
}

func TestPlanSources(t *testing.T) {
	srcs, note, err := PlanSources("127.0.0.1:2223", 10, 3, 0)
	if err != nil || len(srcs) != 3 || srcs[0] != nil || srcs[2].String() != "127.0.0.3" || note == "" {
		t.Fatalf("%v %q %v", srcs, note, err)
	}
	if srcs, _, err := PlanSources("127.0.0.1:2223", 10, 0, 0); err != nil || srcs != nil {
		t.Fatalf("one source is enough for 10: %v %v", srcs, err)
	}
	if _, _, err := PlanSources("[::1]:2223", 10, 2, 0); err == nil {
		t.Fatal("several sources for an IPv6 target")
	}
	if srcs, _, err := PlanSources("127.0.0.1:2223", 5000, 0, 1024); err != nil || len(srcs) != 5 {
		t.Fatalf("5000 connections at 1024 per address: %d sources, %v", len(srcs), err)
	}
}

// blackhole accepts connections and never reads: a Flush blocks until
// the connection is closed.
type blackhole struct{}

func (blackhole) Dial(context.Context, string, net.IP) (Conn, error) {
	return &holeConn{closed: make(chan struct{})}, nil
}

type holeConn struct {
	closed chan struct{}
	once   sync.Once
}

func (c *holeConn) Queue(*Message) error { return nil }
func (c *holeConn) Flush() error         { <-c.closed; return net.ErrClosed }
func (c *holeConn) Receive(*Event) error { <-c.closed; return net.ErrClosed }
func (c *holeConn) Close() error         { c.once.Do(func() { close(c.closed) }); return nil }

func TestRunEndsWhenTheServerReadsNoMore(t *testing.T) {
	for _, c := range []struct {
		name     string
		rate     float64
		messages int
		duration time.Duration
	}{
		{"closed loop, timed", 0, 0, 300 * time.Millisecond},
		{"closed loop, counted", 0, 400, 0}, // ends when nothing is acknowledged for the drain
		{"open loop", 1000, 0, 300 * time.Millisecond},
	} {
		cfg := quickConfig(blackhole{})
		cfg.Rate, cfg.Messages, cfg.Duration, cfg.Drain = c.rate, c.messages, c.duration, 200*time.Millisecond
		start := time.Now()
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		// The run is meant to last about 1.5 s (measurement, drain,
		// a second for the senders to give up); only a run that waits
		// for the blocked writes takes a minute.
		if d := time.Since(start); d > time.Minute {
			t.Errorf("%s: the run took %s", c.name, d)
		}
		if a := res.Accounting; a.Sent == 0 || a.Unacked != a.Sent || a.Complete {
			t.Errorf("%s: accounting %+v", c.name, a)
		}
		if stalled := strings.Contains(strings.Join(res.Notes, "\n"), "acknowledged nothing"); stalled != (c.messages > 0) {
			t.Errorf("%s: notes %q", c.name, res.Notes)
		}
	}
}

func TestMessagesOrDuration(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"both", func(c *Config) { c.Duration = time.Second }, "both a duration and a number of messages"},
		{"with a rate", func(c *Config) { c.Rate = 100 }, "a number of messages with a rate"},
		{"neither", func(c *Config) { c.Messages = 0 }, "duration 0s"},
		{"negative", func(c *Config) { c.Messages = -1 }, "messages -1"},
	} {
		cfg := quickConfig(newFakeRelay())
		c.edit(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
