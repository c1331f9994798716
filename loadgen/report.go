package loadgen

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes res for people: what ran, throughput, latency
// percentiles, errors by kind and the fate of every id.
func WriteTable(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	p("%s:\t%s", res.Workload, res.describe())
	if res.Target != "" {
		p("target\t%s", res.Target)
	}
	if res.Placement != nil {
		p("placement\t%s", res.Placement.line())
	}
	if res.Connect != nil {
		writeConnect(p, res)
	} else {
		writeTraffic(p, res)
	}
	if res.Interrupted {
		p("interrupted\tthe run was cut short; the figures cover what ran")
	}
	for _, n := range res.Notes {
		p("note\t%s", n)
	}
	return tw.Flush()
}

// describe is the workload's shape in one line.
func (res *Result) describe() string {
	if c := res.Connect; c != nil {
		return fmt.Sprintf("%s idle connections, held %s", Thousands(uint64(c.Wanted)), seconds(res.DurationSeconds))
	}
	var b strings.Builder
	if res.Recipients == 1 && res.Workload != "fanout" {
		if res.Senders == 1 {
			b.WriteString("1 pair")
		} else {
			fmt.Fprintf(&b, "%d pairs", res.Senders)
		}
	} else {
		fmt.Fprintf(&b, "%d sender(s), %d recipients per message", res.Senders, res.Recipients)
	}
	if res.Rate > 0 {
		fmt.Fprintf(&b, ", open loop at %s msgs/s", Thousands(uint64(res.Rate)))
	} else {
		fmt.Fprintf(&b, ", window %d (closed loop)", res.Window)
	}
	fmt.Fprintf(&b, ", %d-byte bodies", res.Size)
	if res.Codec != "" {
		fmt.Fprintf(&b, ", %s", res.Codec)
	}
	return b.String()
}

func writeTraffic(p func(string, ...any), res *Result) {
	p("measured\t%s after %s warmup (connections opened in %s)",
		seconds(res.MeasuredSeconds), seconds(res.WarmupSeconds), seconds(res.ConnectSeconds))
	p("")
	p("\tmessages\tper second")
	for _, row := range []struct {
		name string
		c    Count
	}{{"sent", res.Sent}, {"delivered", res.Delivered}, {"acked", res.Acked}} {
		p("%s\t%s\t%s", row.name, Thousands(row.c.Count), Thousands(uint64(row.c.PerSecond+0.5)))
	}
	p("")
	p("latency\tp50\tp90\tp99\tp99.9\tmax\tsamples")
	for _, row := range []struct {
		name string
		l    Percentiles
	}{{"delivery", res.Latency.Delivery}, {"ack", res.Latency.Ack}} {
		if row.l.Count == 0 {
			p("%s\t-\t-\t-\t-\t-\t0", row.name)
			continue
		}
		p("%s\t%s\t%s\t%s\t%s\t%s\t%s", row.name, Micros(row.l.P50), Micros(row.l.P90),
			Micros(row.l.P99), Micros(row.l.P999), Micros(row.l.Max), Thousands(uint64(row.l.Count)))
	}
	p("")
	p("errors\t%s", res.errorLine())
	for _, e := range res.ConnErrors {
		p("\t%s", e)
	}
	p("ids\t%s", res.Accounting.line())
}

func writeConnect(p func(string, ...any), res *Result) {
	c := res.Connect
	p("connected\t%s of %s in %s (%s/s); %s dropped while held",
		Thousands(uint64(c.Established)), Thousands(uint64(c.Wanted)), seconds(c.RampSeconds),
		Thousands(uint64(c.PerSecond+0.5)), Thousands(uint64(c.Dropped)))
	if c.Sources > 1 {
		p("sources\t%d loopback source addresses", c.Sources)
	}
	if l := c.Latency; l.Count > 0 {
		p("latency\tp50 %s, p90 %s, p99 %s, p99.9 %s, max %s (connect and authenticate)",
			Micros(l.P50), Micros(l.P90), Micros(l.P99), Micros(l.P999), Micros(l.Max))
	}
	if c.RSSAfter > 0 {
		p("server\tRSS %s before, %s after: %s per connection",
			Bytes(float64(c.RSSBefore)), Bytes(float64(c.RSSAfter)), Bytes(c.BytesPerConn))
	}
	if c.ServerConns >= 0 {
		p("server\tcounts %s connections", Thousands(uint64(c.ServerConns)))
	}
	if c.Limit != "" {
		p("limited by\t%s", c.Limit)
	}
	p("errors\t%s", res.errorLine())
	for _, e := range res.ConnErrors {
		p("\t%s", e)
	}
}

// errorLine is the errors by kind, most frequent first.
func (res *Result) errorLine() string { return countsLine(res.Errors) }

// line is the accounting in one line.
func (a *Accounting) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sent: %s acknowledged good", Thousands(a.Sent), Thousands(a.Good))
	if a.Bad > 0 {
		fmt.Fprintf(&b, ", %s bad", Thousands(a.Bad))
	}
	if a.Unacked > 0 {
		fmt.Fprintf(&b, ", %s never acknowledged", Thousands(a.Unacked))
	}
	fmt.Fprintf(&b, "; %s of %s deliveries", Thousands(a.Delivered), Thousands(a.Expected))
	var problems []string
	for _, x := range []struct {
		n    uint64
		what string
	}{{a.Lost, "lost"}, {a.Extra, "delivered despite a bad acknowledgement"}, {a.Duplicates, "delivered twice"},
		{a.Misdelivered, "misdelivered"}, {a.Unknown, "unknown"}, {a.Malformed, "malformed"},
		{a.DuplicateAcks, "acknowledged twice"}, {a.UnknownAcks, "unknown acknowledgements"},
		{a.Unsent, "never sent"}} {
		if x.n > 0 {
			problems = append(problems, Thousands(x.n)+" "+x.what)
		}
	}
	if len(problems) > 0 {
		fmt.Fprintf(&b, "; %s", strings.Join(problems, ", "))
	}
	if a.Complete {
		b.WriteString(": every id accounted for")
	} else {
		b.WriteString(": NOT every id accounted for")
	}
	return b.String()
}

// Thousands writes n with commas: 1,234,567.
func Thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	lead := len(s) % 3
	if lead > 0 {
		b.WriteString(s[:lead])
	}
	for i := lead; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// Micros writes a latency given in microseconds: 850µs, 1.23ms, 2.50s.
func Micros(us float64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 1e6:
		return fmt.Sprintf("%.2fms", us/1000)
	}
	return fmt.Sprintf("%.2fs", us/1e6)
}

// Bytes writes a size in bytes with a binary unit: 512 B, 17.6 KiB.
func Bytes(n float64) string {
	const unit = 1024
	switch {
	case n < 0:
		return "-" + Bytes(-n)
	case n < unit:
		return fmt.Sprintf("%.0f B", n)
	case n < unit*unit:
		return fmt.Sprintf("%.1f KiB", n/unit)
	case n < unit*unit*unit:
		return fmt.Sprintf("%.1f MiB", n/unit/unit)
	}
	return fmt.Sprintf("%.2f GiB", n/unit/unit/unit)
}

// seconds writes a duration given in seconds: 10s, 2.35s, 410ms.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}
