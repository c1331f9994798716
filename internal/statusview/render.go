package statusview

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Lines is v for people: a few lines of rates, then tables of the
// listeners, handlers and peers, then the top senders.
func (v *View) Lines() []string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s  %s  every %.1fs  clients %d\n", v.Server, v.Time.Format(time.DateTime), v.Interval, v.Clients)
	fmt.Fprintf(&b, "messages/s  in %.1f  out %.1f\n", v.MessagesIn, v.MessagesOut)
	b.WriteString("reports/s  ")
	none := true
	for _, code := range slices.Sorted(maps.Keys(v.Reports)) {
		if v.Reports[code] > 0 { // codes seen before the interval stay in the metrics
			fmt.Fprintf(&b, " %s %.1f", code, v.Reports[code])
			none = false
		}
	}
	if none {
		b.WriteString(" none")
	}
	b.WriteString("\nconnections")
	for _, l := range v.Connections {
		fmt.Fprintf(&b, "  %s %d", l.Listener, l.Open)
	}
	b.WriteString("\n")
	t := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	if len(v.Handlers) > 0 {
		fmt.Fprintln(t, "\nhandler\tstate\tqueue\tin flight\tp50\tp99\trestarts")
		for _, h := range v.Handlers {
			fmt.Fprintf(t, "%s\t%s\t%d\t%d\t%s\t%s\t%d\n", h.Name, h.State, h.Queue, h.InFlight, latency(h.P50), latency(h.P99), h.Restarts)
		}
	}
	if len(v.Peers) > 0 {
		fmt.Fprintln(t, "\npeer\tstate\tqueue\tin flight\tp99 round trip")
		for _, p := range v.Peers {
			fmt.Fprintf(t, "%s\t%s\t%d\t%d\t%s\n", p.Name, p.State, p.Queue, p.InFlight, latency(p.P99))
		}
	}
	t.Flush()
	if len(v.TopSenders) > 0 {
		b.WriteString("\ntop senders")
		for _, s := range v.TopSenders {
			fmt.Fprintf(&b, "  %s %.1f/s", s.User, s.Rate)
		}
		b.WriteString("\n")
	}
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// latency shows seconds as a duration with three or so significant
// digits; "-" when there is none.
func latency(secs *float64) string {
	if secs == nil {
		return "-"
	}
	d := time.Duration(*secs * float64(time.Second))
	switch {
	case d >= time.Second:
		d = d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		d = d.Round(10 * time.Microsecond)
	default:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}
