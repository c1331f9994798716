package loadgen

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// AbuseResult is what an abuse run measured: a canary relay alone, then
// beside an attack, and what the attack saw. Its JSON form is what
// `bester bench abuse -json` prints.
type AbuseResult struct {
	Attack string `json:"attack"`
	Target string `json:"target,omitempty"`
	// Canary describes the canary relay's shape.
	Canary      string      `json:"canary"`
	Solo        CanaryPhase `json:"solo"`
	UnderAttack CanaryPhase `json:"under_attack"`
	// ServerHWM is the server's VmHWM at the end: its peak resident
	// memory over its whole life; 0 when unknown.
	ServerHWM int64    `json:"server_vmhwm,omitempty"`
	Outcome   *Outcome `json:"outcome"`
	Notes     []string `json:"notes,omitempty"`
}

// CanaryPhase is the canary relay's figures over one phase.
type CanaryPhase struct {
	MeasuredSeconds float64     `json:"measured_s"`
	Delivered       Count       `json:"delivered"`
	Latency         Percentiles `json:"delivery_latency"`
	// ExactlyOneReport is true when every canary message got exactly
	// one status report.
	ExactlyOneReport bool              `json:"exactly_one_report"`
	Accounting       Accounting        `json:"accounting"`
	Errors           map[string]uint64 `json:"errors"`
	ConnErrors       []string          `json:"connection_errors,omitempty"`
	// ServerPeakRSS is the largest VmRSS of the server sampled during
	// the phase; 0 when unknown.
	ServerPeakRSS int64 `json:"server_peak_rss,omitempty"`
}

// NewCanaryPhase sums up one canary run and the server's peak memory
// during it.
func NewCanaryPhase(res *Result, peakRSS int64) CanaryPhase {
	a := res.Accounting
	return CanaryPhase{
		MeasuredSeconds: res.MeasuredSeconds, Delivered: res.Delivered, Latency: res.Latency.Delivery,
		ExactlyOneReport: a.Unacked == 0 && a.DuplicateAcks == 0 && a.UnknownAcks == 0,
		Accounting:       a, Errors: res.Errors, ConnErrors: res.ConnErrors, ServerPeakRSS: peakRSS,
	}
}

// Complete tells whether both phases accounted for every canary message.
func (r *AbuseResult) Complete() bool {
	return r.Solo.Accounting.Complete && r.UnderAttack.Accounting.Complete
}

// WriteAbuseTable writes r for people: the canary solo and under
// attack side by side, the server's memory, and the attack's outcome.
func WriteAbuseTable(w io.Writer, r *AbuseResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	p("abuse %s:\tcanary %s", r.Attack, r.Canary)
	if r.Target != "" {
		p("target\t%s", r.Target)
	}
	p("")
	p("canary\tsolo\tunder attack")
	s, a := &r.Solo, &r.UnderAttack
	p("measured\t%s\t%s", seconds(s.MeasuredSeconds), seconds(a.MeasuredSeconds))
	p("delivered/s\t%s\t%s", Thousands(uint64(s.Delivered.PerSecond+0.5)), Thousands(uint64(a.Delivered.PerSecond+0.5)))
	p("p50\t%s\t%s", latencyText(s.Latency.Count, s.Latency.P50), latencyText(a.Latency.Count, a.Latency.P50))
	p("p99\t%s\t%s", latencyText(s.Latency.Count, s.Latency.P99), latencyText(a.Latency.Count, a.Latency.P99))
	p("server peak RSS\t%s\t%s", memoryText(s.ServerPeakRSS), memoryText(a.ServerPeakRSS))
	p("one report each\t%s\t%s", yesNo(s.ExactlyOneReport), yesNo(a.ExactlyOneReport))
	p("")
	p("ids solo\t%s", s.Accounting.line())
	p("ids under attack\t%s", a.Accounting.line())
	for _, ph := range []struct {
		name string
		c    *CanaryPhase
	}{{"solo", s}, {"under attack", a}} {
		if len(ph.c.Errors) > 0 {
			p("errors %s\t%s", ph.name, countsLine(ph.c.Errors))
		}
		for _, e := range ph.c.ConnErrors {
			p("\t%s", e)
		}
	}
	p("server VmHWM\t%s", memoryText(r.ServerHWM))
	p("")
	writeOutcome(p, r.Outcome)
	for _, n := range r.Notes {
		p("note\t%s", n)
	}
	return tw.Flush()
}

// writeOutcome writes what the attack saw.
func writeOutcome(p func(string, ...any), o *Outcome) {
	p("attack %s\tran %s: connections opened %s, closed by the server %s; messages sent %s, delivered %s",
		o.Attack, seconds(o.Seconds), Thousands(o.Opened), Thousands(o.ClosedByServer), Thousands(o.Sent),
		Thousands(o.Deliveries))
	p("reports\t%s", countsLine(o.Reports))
	if l := o.ReportLatency; l.Count > 0 {
		p("report latency\tp50 %s, p99 %s, max %s", Micros(l.P50), Micros(l.P99), Micros(l.Max))
	}
	p("attack errors\t%s", countsLine(o.Errors))
	for _, n := range o.Notes {
		p("\t%s", n)
	}
}

// countsLine is counts by kind, most frequent first, or "none".
func countsLine(counts map[string]uint64) string {
	if len(counts) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range kindsByCount(counts) {
		parts = append(parts, fmt.Sprintf("%s %s", k, Thousands(counts[k])))
	}
	return strings.Join(parts, ", ")
}

func latencyText(count int64, us float64) string {
	if count == 0 {
		return "-"
	}
	return Micros(us)
}

func memoryText(n int64) string {
	if n == 0 {
		return "unknown"
	}
	return Bytes(float64(n))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
