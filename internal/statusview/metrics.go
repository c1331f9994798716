package statusview

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics are the series of one scrape of /metrics, by metric name.
type Metrics map[string][]Series

// Series is one series of a metric: its labels and its value, or its
// buckets for a histogram.
type Series struct {
	Labels map[string]string
	Value  float64
	Hist   *Histogram
}

// Histogram is a conventional histogram: how many observations there are
// in all, and in each finite bucket, cumulatively.
type Histogram struct {
	Count   float64
	Buckets []Bucket // by increasing upper bound; +Inf is Count
}

// Bucket counts the observations of at most UpperBound.
type Bucket struct {
	UpperBound, Count float64
}

// ParseMetrics reads the Prometheus text format.
func ParseMetrics(r io.Reader) (Metrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	out := make(Metrics, len(families))
	for name, f := range families {
		for _, m := range f.GetMetric() {
			s := Series{Labels: make(map[string]string, len(m.GetLabel()))}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				s.Value = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				s.Value = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				s.Hist = histogram(m.GetHistogram())
			default:
				s.Value = m.GetUntyped().GetValue()
			}
			out[name] = append(out[name], s)
		}
	}
	return out, nil
}

// histogram keeps the finite buckets of h.
func histogram(h *dto.Histogram) *Histogram {
	out := &Histogram{Count: float64(h.GetSampleCount())}
	for _, b := range h.GetBucket() {
		if !math.IsInf(b.GetUpperBound(), 1) {
			out.Buckets = append(out.Buckets, Bucket{UpperBound: b.GetUpperBound(), Count: float64(b.GetCumulativeCount())})
		}
	}
	return out
}

// IncreaseBy is how much the metric's series grew since before, added up
// by the value of label ("" adds them all). It goes series by series, so
// that a series that went away (a handler a reload removed) or started
// again from zero (a handler a reload replaced, a server restarted) is not
// taken for a fall of the whole sum.
func (m Metrics) IncreaseBy(before Metrics, name, label string) map[string]float64 {
	was := make(map[string]float64, len(before[name]))
	for _, s := range before[name] {
		was[labelKey(s.Labels)] = s.Value
	}
	out := map[string]float64{}
	for _, s := range m[name] {
		out[s.Labels[label]] += increase(was[labelKey(s.Labels)], s.Value)
	}
	return out
}

// labelKey names a series of a metric by its labels.
func labelKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k + "\xff" + labels[k] + "\xff")
	}
	return b.String()
}

// Histogram returns the histogram series of the metric whose labels
// include match, nil when there is none.
func (m Metrics) Histogram(name string, match map[string]string) *Histogram {
	for _, s := range m[name] {
		if s.Hist != nil && matches(s.Labels, match) {
			return s.Hist
		}
	}
	return nil
}

func matches(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}
