package statusview

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// server is a registry with some of the server's metrics, which a test
// moves and then scrapes in the text format.
type server struct {
	t         *testing.T
	reg       *prometheus.Registry
	received  *prometheus.CounterVec
	reports   *prometheus.CounterVec
	delivered prometheus.Counter
	answers   *prometheus.HistogramVec
}

func newServer(t *testing.T) *server {
	s := &server{t: t, reg: prometheus.NewRegistry(),
		received:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricReceived}, []string{"type"}),
		reports:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricReports}, []string{"type", "code"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: metricDeliveries}),
		answers: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metricAnswer,
			Buckets: []float64{0.001, 0.01, 0.1, 1}}, []string{"handler"}),
	}
	s.reg.MustRegister(s.received, s.reports, s.delivered, s.answers)
	return s
}

// sample scrapes the registry as /metrics would, at the time given.
func (s *server) sample(at time.Time, st Status) *Sample {
	s.t.Helper()
	families, err := s.reg.Gather()
	if err != nil {
		s.t.Fatal(err)
	}
	var text bytes.Buffer
	enc := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			s.t.Fatal(err)
		}
	}
	m, err := ParseMetrics(&text)
	if err != nil {
		s.t.Fatalf("%v in:\n%s", err, text.String())
	}
	return &Sample{At: at, Metrics: m, Status: st}
}

func observe(h prometheus.Observer, n int, v float64) {
	for range n {
		h.Observe(v)
	}
}

// near compares floats computed by interpolation.
func near(got *float64, want float64) bool { return got != nil && math.Abs(*got-want) < 1e-9 }

// TestComputeRatesAndQuantiles moves the metrics between two scrapes two
// seconds apart: rates are the increase over the interval, quantiles come
// from the observations of the interval only.
func TestComputeRatesAndQuantiles(t *testing.T) {
	s := newServer(t)
	st := Status{Name: "J", Handlers: []HandlerStatus{{Name: "echo", State: "up"}, {Name: "idle", State: "up"}}}
	s.received.WithLabelValues("echo").Add(1000)
	s.reports.WithLabelValues("echo", "good").Add(900)
	observe(s.answers.WithLabelValues("echo"), 100, 0.5) // slow, before the interval
	s.answers.WithLabelValues("idle").Observe(0.5)
	t0 := time.Unix(1000, 0)
	before := s.sample(t0, st)

	s.received.WithLabelValues("echo").Add(150)
	s.received.WithLabelValues("other").Add(50) // a type first seen in the interval
	s.reports.WithLabelValues("echo", "good").Add(180)
	s.reports.WithLabelValues("other", "no_handler").Add(20)
	s.delivered.Add(60)
	observe(s.answers.WithLabelValues("echo"), 100, 0.005)
	v := Compute(before, s.sample(t0.Add(2*time.Second), st))

	if v.Interval != 2 || v.MessagesIn != 100 || v.MessagesOut != 30 {
		t.Fatalf("interval %v, in %v, out %v; want 2, 100, 30", v.Interval, v.MessagesIn, v.MessagesOut)
	}
	if len(v.Reports) != 2 || v.Reports["good"] != 90 || v.Reports["no_handler"] != 10 {
		t.Fatalf("reports: %v", v.Reports)
	}
	echo, idle := v.Handlers[0], v.Handlers[1]
	// All 100 answers of the interval are in (0.001, 0.01]: rank 50 is
	// half way through it, rank 99 nearly at its end.
	if !near(echo.P50, 0.0055) || !near(echo.P99, 0.00991) {
		t.Fatalf("echo p50 %v, p99 %v; want 0.0055, 0.00991", *echo.P50, *echo.P99)
	}
	if idle.P50 != nil || idle.P99 != nil {
		t.Fatalf("idle answered nothing in the interval, yet p50 %v, p99 %v", *idle.P50, *idle.P99)
	}
}

// TestComputeAfterRestart: counters that went down started again from
// zero, and count from there.
func TestComputeAfterRestart(t *testing.T) {
	old, restarted := newServer(t), newServer(t)
	old.received.WithLabelValues("echo").Add(1000)
	restarted.received.WithLabelValues("echo").Add(30)
	observe(old.answers.WithLabelValues("echo"), 50, 0.5)
	observe(restarted.answers.WithLabelValues("echo"), 10, 0.05)
	t0 := time.Unix(1000, 0)
	st := Status{Handlers: []HandlerStatus{{Name: "echo"}}}
	v := Compute(old.sample(t0, st), restarted.sample(t0.Add(time.Second), st))
	if v.MessagesIn != 30 || !near(v.Handlers[0].P50, 0.055) {
		t.Fatalf("in %v, p50 %v; want 30, 0.055", v.MessagesIn, v.Handlers[0].P50)
	}
}

func TestQuantileEdges(t *testing.T) {
	h := &Histogram{Count: 10, Buckets: []Bucket{{0.1, 0}, {1, 4}}}
	if q, ok := h.Quantile(0.99); !ok || q != 1 {
		t.Errorf("rank above every finite bucket: %v %v, want the highest bound, 1", q, ok)
	}
	if q, ok := h.Quantile(0.2); !ok || math.Abs(q-0.55) > 1e-9 {
		t.Errorf("p20 = %v %v, want 0.55 (half way through (0.1, 1])", q, ok)
	}
	if _, ok := (&Histogram{Buckets: h.Buckets}).Quantile(0.5); ok {
		t.Error("a quantile of no observations")
	}
}

// TestComputeSeriesThatGoOrStartAgain: a reload that removes a handler
// takes its series away, one that replaces it starts them again from zero;
// neither is a fall of the whole count, so the rates are what the other
// series gained, not everything counted since the start.
func TestComputeSeriesThatGoOrStartAgain(t *testing.T) {
	before, after := newServer(t), newServer(t)
	before.received.WithLabelValues("echo").Add(1000)
	before.received.WithLabelValues("relay").Add(500)
	before.received.WithLabelValues("other").Add(100)
	before.reports.WithLabelValues("echo", "good").Add(1000)
	before.reports.WithLabelValues("relay", "good").Add(500)
	after.received.WithLabelValues("relay").Add(4) // replaced: counts again from zero
	after.received.WithLabelValues("other").Add(130)
	after.reports.WithLabelValues("relay", "good").Add(4)
	after.reports.WithLabelValues("other", "unknown_type").Add(30)
	t0 := time.Unix(1000, 0)
	v := Compute(before.sample(t0, Status{}), after.sample(t0.Add(2*time.Second), Status{}))
	if v.MessagesIn != 17 {
		t.Errorf("messages in %v/s, want 17 (4 relay, 30 other, over 2s)", v.MessagesIn)
	}
	if v.Reports["good"] != 2 || v.Reports["unknown_type"] != 15 {
		t.Errorf("reports %v, want good 2, unknown_type 15", v.Reports)
	}
}

// TestComputeRestartWithMoreAnswers: a server that restarted within the
// interval and has since answered more than before has a larger count,
// but buckets that went down: it started again, and the quantiles are of
// its own answers.
func TestComputeRestartWithMoreAnswers(t *testing.T) {
	old, restarted := newServer(t), newServer(t)
	observe(old.answers.WithLabelValues("echo"), 100, 0.5)
	observe(restarted.answers.WithLabelValues("echo"), 150, 0.005)
	t0 := time.Unix(1000, 0)
	st := Status{Handlers: []HandlerStatus{{Name: "echo"}}}
	v := Compute(old.sample(t0, st), restarted.sample(t0.Add(10*time.Second), st))
	if h := v.Handlers[0]; !near(h.P50, 0.0055) || !near(h.P99, 0.00991) {
		t.Fatalf("p50 %v, p99 %v; want 0.0055, 0.00991", *h.P50, *h.P99)
	}
}

// TestComputeRestartWithMoreMessages: a server that restarted within the
// interval and has since counted more than before shows it by its
// process's start time: every count is new.
func TestComputeRestartWithMoreMessages(t *testing.T) {
	old, restarted := newServer(t), newServer(t)
	started := func(s *server, at float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: metricProcessStart})
		g.Set(at)
		s.reg.MustRegister(g)
	}
	started(old, 900)
	started(restarted, 1005)
	old.received.WithLabelValues("echo").Add(1000)
	restarted.received.WithLabelValues("echo").Add(1200)
	t0 := time.Unix(1000, 0)
	v := Compute(old.sample(t0, Status{}), restarted.sample(t0.Add(10*time.Second), Status{}))
	if v.MessagesIn != 120 {
		t.Fatalf("messages in %v/s, want 120: all 1200 since the restart, over 10 s", v.MessagesIn)
	}
}
