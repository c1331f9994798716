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

// Lines is v for people: a header (naming the member, in a cluster), a
// few lines of rates, then tables of the handlers, peers and cluster
// members, then the top senders.
func (v *View) Lines() []string {
	var b bytes.Buffer
	b.WriteString(v.Server)
	if c := v.Cluster; c != nil {
		fmt.Fprintf(&b, "  member %s %s", short(c.Member), c.Address)
	}
	fmt.Fprintf(&b, "  %s  every %.1fs  clients %d\n", v.Time.Format(time.DateTime), v.Interval, v.Clients)
	fmt.Fprintf(&b, "messages/s  in %.1f  out %.1f\n", v.MessagesIn, v.MessagesOut)
	b.WriteString("reports/s  ")
	byCode(&b, v.Reports)
	if c := v.Cluster; c != nil {
		fmt.Fprintf(&b, "\nbatches/s  sent %.1f  failed", c.BatchesSent)
		byCode(&b, c.BatchesFailed)
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
	if c := v.Cluster; c != nil {
		fmt.Fprintln(t, "\nmember\taddress\tstate\tunacked\tacked/s\tp99 round trip")
		for _, m := range c.Members {
			fmt.Fprintf(t, "%s\t%s\t%s\t%d\t%.1f\t%s\n", short(m.ID), m.Address, m.State, m.Unacked, m.Acked, latency(m.P99))
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

// byCode writes the rates of rates that are above zero, by code, or
// " none": codes seen before the interval stay in the metrics at zero.
func byCode(b *bytes.Buffer, rates map[string]float64) {
	none := true
	for _, code := range slices.Sorted(maps.Keys(rates)) {
		if rates[code] > 0 {
			fmt.Fprintf(b, " %s %.1f", code, rates[code])
			none = false
		}
	}
	if none {
		b.WriteString(" none")
	}
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
