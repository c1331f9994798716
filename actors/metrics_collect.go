package actors

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// The help texts of the histograms, which are made with each link.
const (
	helpAnswerSeconds    = "Time from a request's sending to its handler's answer."
	helpRoundTripSeconds = "Time from a message's sending to the peer's status report on it."
	helpMemberRoundTrip  = "Time from a delivery's sending to another member of the cluster to its acknowledgement."
)

// The descriptions of the series the collector makes at each scrape.
var (
	descConnectionsOpen = prometheus.NewDesc("bester_connections_open",
		"Connections open, by listener.", []string{"listener"}, nil)
	descConnectionsAccepted = prometheus.NewDesc("bester_connections_accepted_total",
		"Connections accepted within max_connections and max_connections_per_address, by listener.", []string{"listener"}, nil)
	descConnectionsRefused = prometheus.NewDesc("bester_connections_refused_total",
		"Connections refused or cut before they could work, by reason.", []string{"reason"}, nil)
	descLogins = prometheus.NewDesc("bester_logins_total",
		"Logins of users and peer servers, by result.", []string{"result"}, nil)
	descMessagesReceived = prometheus.NewDesc("bester_messages_received_total",
		"Client and peer messages accepted for dispatch, by type (a handler's name, or other).", []string{"type"}, nil)
	descReports = prometheus.NewDesc("bester_reports_total",
		"Status reports written to clients and peer servers, by the type of the message and the result.", []string{"type", "code"}, nil)
	descDeliveries = prometheus.NewDesc("bester_deliveries_total",
		"Deliveries written to client connections.", nil, nil)
	descReceivedBytes = prometheus.NewDesc("bester_received_bytes_total",
		"Bytes read from client and peer sockets (frames, after TLS).", nil, nil)
	descSentBytes = prometheus.NewDesc("bester_sent_bytes_total",
		"Bytes written to client and peer sockets (frames, before TLS).", nil, nil)
	descSlowConsumers = prometheus.NewDesc("bester_slow_consumer_disconnects_total",
		"Clients disconnected for not reading their messages.", nil, nil)
	descOutboxBytes = prometheus.NewDesc("bester_outbox_bytes",
		"Bytes charged to buffer_budget: outboxes of peers that do not read, large frames, read buffers.", nil, nil)
	descHandlerUp = prometheus.NewDesc("bester_handler_up",
		"1 when the handler is up, else 0.", []string{"handler"}, nil)
	descHandlerRestarts = prometheus.NewDesc("bester_handler_restarts_total",
		"Times the handler's process exited and was restarted or given up on.", []string{"handler"}, nil)
	descHandlerQueue = prometheus.NewDesc("bester_handler_queue_messages",
		"Messages waiting for the handler to be ready.", []string{"handler"}, nil)
	descHandlerInFlight = prometheus.NewDesc("bester_handler_in_flight_messages",
		"Requests sent to the handler and not answered yet.", []string{"handler"}, nil)
	descPeerUp = prometheus.NewDesc("bester_peer_up",
		"1 when the connection to the peer is up, else 0.", []string{"peer"}, nil)
	descPeerQueue = prometheus.NewDesc("bester_peer_queue_messages",
		"Messages waiting for the connection to the peer.", []string{"peer"}, nil)
	descClusterBatches = prometheus.NewDesc("bester_cluster_batches_sent_total",
		"Deliveries sent to other members of the cluster (one batch per member and handler response).", nil, nil)
	descClusterMessages = prometheus.NewDesc("bester_cluster_messages_sent_total",
		"Messages sent to other members of the cluster, each carrying the deliveries its member link gathered while busy.", nil, nil)
	descClusterBatchesFailed = prometheus.NewDesc("bester_cluster_batches_failed_total",
		"Deliveries to other members that got no acknowledgement, by code.", []string{"code"}, nil)
	descClusterMemberUp = prometheus.NewDesc("bester_cluster_member_up",
		"1 for each other member in this member's member list.", []string{"member"}, nil)
	descClusterMemberUnacked = prometheus.NewDesc("bester_cluster_member_unacked_batches",
		"Deliveries to the member waiting for its acknowledgement (at most delivery_window).", []string{"member"}, nil)
)

// otherType is the type label of every type no handler has.
const otherType = "other"

// gatherer is the registry /metrics serves: the server's series, and the
// Go runtime's and the process's. Each server has its own, so that
// several can run in one process.
func (m *metrics) gatherer() prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collector{m})
	return reg
}

// collector makes the server's series from its metrics at each scrape. It
// reads atomics and takes connLimits' lock for a moment; it never asks an
// actor, so a scrape never waits on a busy one.
type collector struct{ m *metrics }

// Describe describes nothing: the collector is unchecked, since the
// histograms of handlers and peers, which come and go, carry their name
// as a constant label.
func (collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	for name, accepted := range m.accepted.load() {
		ch <- gauge(descConnectionsOpen, int64(m.limits.onListener(name)), name)
		ch <- counter(descConnectionsAccepted, accepted.Load(), name)
	}
	for i, reason := range refusalReasons {
		ch <- counter(descConnectionsRefused, m.refused[i].Load(), reason)
	}
	for i, result := range loginResults {
		ch <- counter(descLogins, m.logins[i].Load(), result)
	}
	ch <- counter(descDeliveries, m.deliveries.Load())
	ch <- counter(descReceivedBytes, m.receivedBytes.Load())
	ch <- counter(descSentBytes, m.sentBytes.Load())
	ch <- counter(descSlowConsumers, m.slowConsumers.Load())
	ch <- gauge(descOutboxBytes, m.budget.used.Load())
	c.collectHandlers(ch)
	for name, p := range m.peers.load() {
		up, queue, _ := p.gauges.get()
		ch <- gauge(descPeerUp, up, name)
		ch <- gauge(descPeerQueue, queue, name)
		p.rtt.Collect(ch)
	}
	if cl := m.cluster.Load(); cl != nil {
		ch <- counter(descClusterBatches, cl.sent.Load())
		ch <- counter(descClusterMessages, cl.messages.Load())
		for i, code := range batchFailures {
			ch <- counter(descClusterBatchesFailed, cl.failed[i].Load(), string(code))
		}
		for id, e := range cl.book.Load().byID {
			ch <- gauge(descClusterMemberUp, 1, id)
			ch <- gauge(descClusterMemberUnacked, e.stats.unacked.Load(), id)
			e.stats.rtt.Collect(ch)
		}
	}
}

// collectHandlers sends each handler's series, and those of the types no
// handler has. A handler named "other" shares that label with them.
func (c collector) collectHandlers(ch chan<- prometheus.Metric) {
	handlers := c.m.handlers.load()
	if _, named := handlers[otherType]; !named {
		collectType(ch, otherType, &c.m.other, nil)
	}
	for name, h := range handlers {
		var also *typeStats
		if name == otherType {
			also = &c.m.other
		}
		collectType(ch, name, &h.typeStats, also)
		up, queue, inFlight := h.gauges.get()
		ch <- gauge(descHandlerUp, up, name)
		ch <- counter(descHandlerRestarts, uint64(h.restarts.Load()), name)
		ch <- gauge(descHandlerQueue, queue, name)
		ch <- gauge(descHandlerInFlight, inFlight, name)
		h.answer.Collect(ch)
	}
}

// collectType sends a type's messages and its reports by code (codes
// never reported are left out), adding also's counts when it is not nil.
func collectType(ch chan<- prometheus.Metric, name string, t, also *typeStats) {
	sum := func(f func(*typeStats) uint64) uint64 {
		if also == nil {
			return f(t)
		}
		return f(t) + f(also)
	}
	ch <- counter(descMessagesReceived, sum(func(s *typeStats) uint64 { return s.received.Load() }), name)
	for i, code := range reportCodes {
		if n := sum(func(s *typeStats) uint64 { return s.reports[i].Load() }); n > 0 {
			ch <- counter(descReports, n, name, string(code))
		}
	}
}

func counter(d *prometheus.Desc, v uint64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(d *prometheus.Desc, v int64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
}
