package loadgen

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to 60 s, with three
// significant digits.
const (
	histMinUS   = 1
	histMaxUS   = 60_000_000
	histSigFigs = 3
)

// histogram is one goroutine's latency record (hdrhistogram is not safe
// for concurrent use).
type histogram struct {
	h *hdrhistogram.Histogram
	// over counts values above the largest recordable one, which are
	// recorded as that value.
	over int64
}

func newHistogram() *histogram {
	return &histogram{h: hdrhistogram.New(histMinUS, histMaxUS, histSigFigs)}
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	us := d.Microseconds()
	switch {
	case us < histMinUS:
		us = histMinUS
	case us > histMaxUS:
		us = histMaxUS
		h.over++
	}
	_ = h.h.RecordValue(us) // in range by construction
}

// merge adds o's values to h.
func (h *histogram) merge(o *histogram) {
	h.h.Merge(o.h)
	h.over += o.over
}

// Percentiles sum up a latency histogram, in microseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p99_9_us"`
	Max   float64 `json:"max_us"`
	// Over counts latencies beyond 60 s, counted as 60 s.
	Over int64 `json:"over_60s,omitempty"`
}

// percentiles sums h up. hdrhistogram's ValueAtQuantile takes a percent.
func (h *histogram) percentiles() Percentiles {
	if h.h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: h.h.TotalCount(),
		Mean:  h.h.Mean(),
		P50:   float64(h.h.ValueAtQuantile(50)),
		P90:   float64(h.h.ValueAtQuantile(90)),
		P99:   float64(h.h.ValueAtQuantile(99)),
		P999:  float64(h.h.ValueAtQuantile(99.9)),
		Max:   float64(h.h.Max()),
		Over:  h.over,
	}
}
