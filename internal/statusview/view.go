package statusview

import "time"

// The metrics the view reads; the server's /metrics names them.
const (
	metricReceived   = "bester_messages_received_total"
	metricDeliveries = "bester_deliveries_total"
	metricReports    = "bester_reports_total"
	metricAnswer     = "bester_handler_answer_seconds"
	metricRoundTrip  = "bester_peer_round_trip_seconds"
	// metricProcessStart tells a server that restarted between two
	// readings, even one that has counted more since than before.
	metricProcessStart = "process_start_time_seconds"
)

// View is what `bester status` shows of one interval, and its -json
// object. Rates are per second over the interval; a latency is null when
// nothing was observed in it.
type View struct {
	Time     time.Time `json:"time"`
	Server   string    `json:"server"`
	Interval float64   `json:"interval_seconds"`
	Clients  int       `json:"clients"`

	// MessagesIn is the messages the server received, MessagesOut the
	// deliveries it made.
	MessagesIn  float64 `json:"messages_in_per_second"`
	MessagesOut float64 `json:"messages_out_per_second"`
	// Reports are the status reports sent, by code: "good" or an error
	// code.
	Reports map[string]float64 `json:"reports_per_second"`

	Connections []ListenerView `json:"connections"`
	Handlers    []HandlerView  `json:"handlers"`
	Peers       []PeerView     `json:"peers"`
	TopSenders  []TopSender    `json:"top_senders"`
	// Cluster is the member the endpoint belongs to and its member list;
	// absent for a server that is not a member of a cluster.
	Cluster *ClusterView `json:"cluster,omitempty"`
}

// ListenerView is a listener's open connections.
type ListenerView struct {
	Listener string `json:"listener"`
	Open     int    `json:"open"`
}

// HandlerView is a handler's state and its answers' latency.
type HandlerView struct {
	Name     string   `json:"name"`
	State    string   `json:"state"`
	Queue    int      `json:"queue"`
	InFlight int      `json:"in_flight"`
	P50      *float64 `json:"p50_seconds"`
	P99      *float64 `json:"p99_seconds"`
	Restarts int      `json:"restarts"`
}

// PeerView is a peer link's state and its round trips' latency.
type PeerView struct {
	Name     string   `json:"name"`
	State    string   `json:"state"`
	Queue    int      `json:"queue"`
	InFlight int      `json:"in_flight"`
	P99      *float64 `json:"p99_round_trip_seconds"`
}

// Compute is the view of the interval from before to now. When the
// server restarted in between, everything it counted is of the interval.
func Compute(before, now *Sample) *View {
	secs := now.At.Sub(before.At).Seconds()
	if restarted(before.Metrics, now.Metrics) {
		before = &Sample{At: before.At, Status: before.Status}
	}
	rate := func(name string) float64 {
		return perSecond(now.Metrics.IncreaseBy(before.Metrics, name, "")[""], secs)
	}
	v := &View{
		Time: now.At, Server: now.Status.Name, Interval: secs, Clients: now.Status.Clients,
		MessagesIn: rate(metricReceived), MessagesOut: rate(metricDeliveries),
		Reports:     map[string]float64{},
		Connections: []ListenerView{}, Handlers: []HandlerView{}, Peers: []PeerView{},
		TopSenders: now.Status.TopSenders,
	}
	if v.TopSenders == nil {
		v.TopSenders = []TopSender{}
	}
	for code, n := range now.Metrics.IncreaseBy(before.Metrics, metricReports, "code") {
		v.Reports[code] = perSecond(n, secs)
	}
	for _, l := range now.Status.Listeners {
		v.Connections = append(v.Connections, ListenerView{Listener: l.Name, Open: l.Connections})
	}
	for _, h := range now.Status.Handlers {
		answers := intervalOf(before, now, metricAnswer, "handler", h.Name)
		v.Handlers = append(v.Handlers, HandlerView{Name: h.Name, State: h.State, Queue: h.Queued, InFlight: h.InFlight,
			P50: quantile(answers, 0.5), P99: quantile(answers, 0.99), Restarts: h.Restarts})
	}
	for _, p := range now.Status.Peers {
		trips := intervalOf(before, now, metricRoundTrip, "peer", p.Name)
		v.Peers = append(v.Peers, PeerView{Name: p.Name, State: p.State, Queue: p.Queued, InFlight: p.InFlight,
			P99: quantile(trips, 0.99)})
	}
	v.Cluster = clusterOf(before, now, secs)
	return v
}

// intervalOf is the observations between the samples of the histogram
// whose label is value; nil when now has none.
func intervalOf(before, now *Sample, metric, label, value string) *Histogram {
	match := map[string]string{label: value}
	h := now.Metrics.Histogram(metric, match)
	if h == nil {
		return nil
	}
	return h.since(before.Metrics.Histogram(metric, match))
}

// quantile is h's q-quantile, nil without observations.
func quantile(h *Histogram, q float64) *float64 {
	v, ok := h.Quantile(q)
	if !ok {
		return nil
	}
	return &v
}

func perSecond(n, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return n / secs
}

// restarted says whether the server's process started again between the
// readings, by its start time (when it has one).
func restarted(before, now Metrics) bool {
	was, is := before[metricProcessStart], now[metricProcessStart]
	return len(was) == 1 && len(is) == 1 && was[0].Value != is[0].Value
}
