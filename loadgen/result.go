package loadgen

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Result is what a run measured. Its JSON form is what `bester bench
// -json` prints.
type Result struct {
	Workload string `json:"workload"`
	// Target says what was measured (an address, a spawned server);
	// filled in by the caller.
	Target string `json:"target,omitempty"`
	Codec  string `json:"codec,omitempty"`

	Senders    int     `json:"senders,omitempty"`
	Recipients int     `json:"recipients_per_message,omitempty"`
	Window     int     `json:"window,omitempty"`
	Rate       float64 `json:"rate,omitempty"`
	Size       int     `json:"size,omitempty"`

	WarmupSeconds   float64 `json:"warmup_s"`
	DurationSeconds float64 `json:"duration_s"`
	// Messages is the number of messages measured, when the run was
	// set to a number of messages rather than a duration.
	Messages int `json:"messages,omitempty"`
	// MeasuredSeconds is the time the throughput is counted over.
	MeasuredSeconds float64 `json:"measured_s"`
	// ConnectSeconds is the time taken to open the connections.
	ConnectSeconds float64 `json:"connect_s"`
	Interrupted    bool    `json:"interrupted,omitempty"`

	// Throughput counts messages sent, delivered and acknowledged
	// during the measurement.
	Sent      Count `json:"sent"`
	Delivered Count `json:"delivered"`
	Acked     Count `json:"acked"`

	// Latency of messages meant to be sent during the measurement:
	// to each delivery, and to the acknowledgement.
	Latency struct {
		Delivery Percentiles `json:"delivery"`
		Ack      Percentiles `json:"ack"`
	} `json:"latency"`

	// Errors counts errors by kind: acknowledgement codes, and
	// "connection" for connections that failed, "duplicate",
	// "misdelivered", "unknown" and "malformed" for deliveries.
	Errors map[string]uint64 `json:"errors"`
	// ConnErrors are the first connection failures, for people.
	ConnErrors []string `json:"connection_errors,omitempty"`

	Accounting Accounting `json:"accounting"`

	// Placement says how the users were spread over the members of a
	// cluster; nil when they all used one server.
	Placement *PlacementResult `json:"placement,omitempty"`

	// Connect is the result of a connect workload (RunConnect).
	Connect *ConnectResult `json:"connect,omitempty"`

	// Notes say what limited or shaped the run.
	Notes []string `json:"notes,omitempty"`
}

// Count is a number of messages and its rate over the measurement.
type Count struct {
	Count     uint64  `json:"count"`
	PerSecond float64 `json:"per_second"`
}

// Accounting is the fate of every message id of the run, warmup
// included.
type Accounting struct {
	// Sent ids; each is acknowledged once (Good or with an error
	// code) or Unacked.
	Sent    uint64 `json:"sent"`
	Good    uint64 `json:"good"`
	Bad     uint64 `json:"bad"`
	Unacked uint64 `json:"unacked"`
	// Expected deliveries (from each acknowledgement: every recipient
	// when good, those reached when undelivered, none for other codes;
	// every recipient when unacknowledged), Delivered (first delivery
	// to each recipient), Lost (expected and not delivered) and Extra
	// (delivered although the acknowledgement said it was not).
	Expected  uint64 `json:"expected_deliveries"`
	Delivered uint64 `json:"delivered"`
	Lost      uint64 `json:"lost"`
	Extra     uint64 `json:"extra"`
	// Duplicates are deliveries of an id to a recipient that had it
	// already; Misdelivered went to a user its sender did not name;
	// Unknown carried an id never sent; Malformed had a body that was
	// not one of this run's.
	Duplicates   uint64 `json:"duplicates"`
	Misdelivered uint64 `json:"misdelivered"`
	Unknown      uint64 `json:"unknown"`
	Malformed    uint64 `json:"malformed"`
	// DuplicateAcks and UnknownAcks are acknowledgements of an id a
	// second time, or of an id never sent.
	DuplicateAcks uint64 `json:"duplicate_acks"`
	UnknownAcks   uint64 `json:"unknown_acks"`
	// Unsent counts messages an open-loop schedule still owed when the
	// drain ran out: the generator or the target could not keep up.
	Unsent uint64 `json:"unsent,omitempty"`
	// Complete is true when every id is accounted for: acknowledged
	// once, delivered once to each recipient it should have reached,
	// nothing lost, duplicated or unknown.
	Complete bool `json:"complete"`
}

// result sums the run up; every goroutine has ended. ended is when the
// measurement ended, ns since the run's start.
func (r *run) result(ended int64) *Result {
	cfg := &r.cfg
	res := &Result{
		Workload: cfg.Workload, Senders: cfg.Senders, Recipients: cfg.Recipients,
		Rate: cfg.Rate, Size: max(cfg.Size, MinSize), Messages: cfg.Messages,
		WarmupSeconds: cfg.Warmup.Seconds(), DurationSeconds: cfg.Duration.Seconds(),
		Errors: map[string]uint64{}, Placement: r.placed,
	}
	if cfg.Rate == 0 {
		res.Window = cfg.Window
	}

	delivery, ack := newHistogram(), newHistogram()
	a := &res.Accounting
	for _, rc := range r.recvs {
		if rc.delivery != nil {
			delivery.merge(rc.delivery)
			ack.merge(rc.ack)
		}
		a.Duplicates += rc.duplicates
		a.Misdelivered += rc.misdelivered
		a.Unknown += rc.unknown
		a.Malformed += rc.malformed
		a.DuplicateAcks += rc.duplicateAcks
		a.UnknownAcks += rc.unknownAcks
	}
	res.Latency.Delivery = delivery.percentiles()
	res.Latency.Ack = ack.percentiles()
	r.throughput(res, ended)
	if n := res.Latency.Delivery.Over + res.Latency.Ack.Over; n > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d latencies beyond 60 s were counted as 60 s", n))
	}

	for _, l := range r.ledgers {
		l.each(func(_ uint64, e *entry) {
			a.Sent++
			want := cfg.Recipients
			switch {
			case e.acks == 0:
				a.Unacked++
			case e.code == 0:
				a.Good++
			default:
				a.Bad++
				res.Errors[r.codes.name(e.code)]++
				want = expected(e, cfg.Recipients, 1)
			}
			got := int(e.deliveries.Load())
			a.Expected += uint64(want)
			a.Delivered += uint64(got)
			if got < want {
				a.Lost += uint64(want - got)
			} else if e.acks > 0 {
				a.Extra += uint64(got - want)
			}
		})
	}
	for _, s := range r.senders {
		a.Unsent += s.unsent
	}
	a.Complete = a.Unacked == 0 && a.Lost == 0 && a.Extra == 0 && a.Duplicates == 0 &&
		a.Misdelivered == 0 && a.Unknown == 0 && a.Malformed == 0 && a.DuplicateAcks == 0 &&
		a.UnknownAcks == 0 && a.Unsent == 0
	for k, v := range map[string]uint64{"duplicate": a.Duplicates, "misdelivered": a.Misdelivered,
		"unknown": a.Unknown + a.UnknownAcks, "malformed": a.Malformed, "duplicate_ack": a.DuplicateAcks} {
		if v > 0 {
			res.Errors[k] += v
		}
	}
	r.mu.Lock()
	if r.nConnErr > 0 {
		res.Errors["connection"] = r.nConnErr
		res.ConnErrors = slices.Clone(r.connErrs)
	}
	r.mu.Unlock()
	if r.stalled {
		res.Notes = append(res.Notes, fmt.Sprintf("the target acknowledged nothing for %s: the measurement ended with %d of %d messages sent", cfg.Drain, res.Sent.Count, cfg.Messages))
	}
	if a.Unsent > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("the open-loop schedule still owed %d messages when the drain ended: the target (or this generator) did not keep up with -rate", a.Unsent))
	}
	return res
}

// throughput fills in the counts measured and their rates, by the run's
// clock rather than by when a busy machine let measure look. With
// Messages: those sent after the warmup, their acknowledgements and
// deliveries, over the time from the end of the warmup to the last of
// these. Otherwise: what was sent, acknowledged and delivered between
// the end of the warmup and the end of the measurement (ended, when it
// was interrupted).
func (r *run) throughput(res *Result, ended int64) {
	var sent, acked, delivered uint64
	var last int64 // with Messages, the latest arrival of a measured message
	for _, s := range r.senders {
		sent += uint64(s.measured)
	}
	for _, rc := range r.recvs {
		acked += rc.acks
		delivered += rc.deliveries
		last = max(last, rc.last)
	}
	measured := time.Duration(min(ended, r.end) - r.warmEnd)
	if r.cfg.Messages > 0 {
		measured = time.Duration(last - r.warmEnd)
		acked, delivered = uint64(res.Latency.Ack.Count), uint64(res.Latency.Delivery.Count)
	}
	measured = max(measured, 0)
	res.MeasuredSeconds = measured.Seconds()
	rate := func(n uint64) Count {
		c := Count{Count: n}
		if measured > 0 {
			c.PerSecond = float64(n) / measured.Seconds()
		}
		return c
	}
	res.Sent, res.Acked, res.Delivered = rate(sent), rate(acked), rate(delivered)
}

// ErrorTotal is the number of errors of all kinds.
func (res *Result) ErrorTotal() uint64 {
	var n uint64
	for _, v := range res.Errors {
		n += v
	}
	return n
}

// kindsByCount lists the keys of counts, most frequent first.
func kindsByCount(counts map[string]uint64) []string {
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int {
		if counts[a] != counts[b] {
			if counts[a] > counts[b] {
				return -1
			}
			return 1
		}
		if a < b {
			return -1
		}
		return 1
	})
	return keys
}
