package actors

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bester-project/bester/wire"
)

// metrics are the server's counters and gauges for the monitor's
// /metrics. The goroutines and actors that do the work add to plain
// atomics, resolved once per listener, connection or link, never looked
// up by label per message; the collector (metrics_collect.go) reads them
// when Prometheus scrapes. A nil *metrics counts nothing: the server has
// no monitor block.
type metrics struct {
	receivedBytes atomic.Uint64 // frames read from client and peer sockets, by readers
	_             [56]byte      // readers and writers add to counters on lines of their own
	sentBytes     atomic.Uint64 // frames written to client and peer sockets, by writers
	deliveries    atomic.Uint64
	_             [48]byte
	slowConsumers atomic.Uint64
	logins        [2]atomic.Uint64 // by loginGood, loginBad
	refused       [len(refusalReasons)]atomic.Uint64
	// accepted counts each listener's connections, by listener name; the
	// listeners are fixed at start.
	accepted map[string]*atomic.Uint64
	// other counts the messages and reports of types no handler has.
	other typeStats

	handlers linkSeries[handlerStats]
	peers    linkSeries[peerStats]

	listeners []string // in configuration order
	limits    *connLimits
	budget    *budget
}

func newMetrics(listeners []string, limits *connLimits, budget *budget) *metrics {
	m := &metrics{accepted: make(map[string]*atomic.Uint64, len(listeners)), listeners: listeners,
		limits: limits, budget: budget}
	for _, name := range listeners {
		m.accepted[name] = new(atomic.Uint64)
	}
	return m
}

// add adds n to c, a counter of a metrics that may be off (nil).
func add(c *atomic.Uint64, n int) {
	if c != nil {
		c.Add(uint64(n))
	}
}

// received is the counter of bytes read from client and peer sockets, nil
// when metrics are off.
func (m *metrics) received() *atomic.Uint64 {
	if m == nil {
		return nil
	}
	return &m.receivedBytes
}

// listener is the counter of the named listener's accepted connections.
func (m *metrics) listener(name string) *atomic.Uint64 {
	if m == nil {
		return nil
	}
	return m.accepted[name]
}

// The values of bester_logins_total's result label, by index.
const (
	loginGood = iota
	loginBad
)

var loginResults = [...]string{loginGood: "good", loginBad: "bad"}

// login counts a login: a user's or a peer server's authentication.
func (m *metrics) login(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.logins[loginGood].Add(1)
	} else {
		m.logins[loginBad].Add(1)
	}
}

// refusal is why the server refused or cut a connection before it could
// do any work, as bester_connections_refused_total's reason label names it.
type refusal int

const (
	refusedMaxConnections refusal = iota // the server's max_connections
	refusedMaxPerAddress                 // max_connections_per_address
	refusedMaxPerUser                    // max_connections_per_user, at login
	refusedTLSHandshake                  // the handshake failed or timed out
	refusedWrongProtocol                 // TLS on a plain listener, or clear text on a TLS one
	refusedAuthTimeout                   // no login within auth_timeout
	refusedBufferBudget                  // a large frame found no room in buffer_budget
)

var refusalReasons = [...]string{
	refusedMaxConnections: "max_connections",
	refusedMaxPerAddress:  "max_per_address",
	refusedMaxPerUser:     "max_per_user",
	refusedTLSHandshake:   "tls_handshake",
	refusedWrongProtocol:  "wrong_protocol",
	refusedAuthTimeout:    "auth_timeout",
	refusedBufferBudget:   "buffer_budget",
}

// refuse counts a refused connection.
func (m *metrics) refuse(why refusal) {
	if m != nil {
		m.refused[why].Add(1)
	}
}

// slowConsumer counts a client cut for not reading its messages.
func (m *metrics) slowConsumer() {
	if m != nil {
		m.slowConsumers.Add(1)
	}
}

// wrote counts a batch an outbox wrote to a client or peer socket.
func (m *metrics) wrote(bytes, deliveries int) {
	if m == nil {
		return
	}
	m.sentBytes.Add(uint64(bytes))
	if deliveries > 0 {
		m.deliveries.Add(uint64(deliveries))
	}
}

// reportCodes are the values of bester_reports_total's code label, by
// index: "good", every error code of the contract, and "other" for a code
// a peer made up.
var reportCodes = [...]wire.ErrorCode{
	"good",
	wire.CodeUnauthorized, wire.CodeBadFrame, wire.CodeFrameTooLarge, wire.CodeBadMessage,
	wire.CodeUnknownType, wire.CodeUnknownCommand, wire.CodeHandlerUnavailable, wire.CodeHandlerTimeout,
	wire.CodeHandlerError, wire.CodeHandlerCrashed, wire.CodeUndelivered, wire.CodePeerUnavailable,
	wire.CodeLoop, wire.CodeOverloaded, wire.CodeRateLimited, wire.CodeForbidden, wire.CodeShuttingDown,
	"other",
}

// codeIndex maps an error code to its index in reportCodes.
var codeIndex = func() map[wire.ErrorCode]int {
	idx := make(map[wire.ErrorCode]int, len(reportCodes))
	for i, c := range reportCodes[1 : len(reportCodes)-1] {
		idx[c] = i + 1
	}
	return idx
}()

// typeStats counts the messages of one type: a handler's, or every type
// no handler has.
type typeStats struct {
	received atomic.Uint64 // added by connection readers
	_        [56]byte      // keeps reports, added by connection actors, off received's cache line
	reports  [len(reportCodes)]atomic.Uint64
}

// countReceived counts a message accepted for dispatch.
func (t *typeStats) countReceived() {
	if t != nil {
		t.received.Add(1)
	}
}

// typeOf is the counters of messages of type typ, nil when metrics are
// off. Only configured handlers' names have their own; every other type
// counts as "other", so that the label's values stay bounded whatever
// clients send.
func (m *metrics) typeOf(typ string) *typeStats {
	if m == nil {
		return nil
	}
	if h, ok := m.handlers.load()[typ]; ok {
		return &h.typeStats
	}
	return &m.other
}

// countReport counts a status report a connection writes, under the type
// of the message it reports on.
func (m *metrics) countReport(r *report) {
	if m == nil {
		return
	}
	t := r.kind
	if t == nil {
		t = &m.other
	}
	i := 0
	if code := r.msg.Header.Error; code != "" {
		if i = codeIndex[code]; i == 0 {
			i = len(reportCodes) - 1
		}
	}
	t.reports[i].Add(1)
}

// latencyBuckets are the buckets, in seconds, of the answer and round-trip
// histograms: 50µs to 10s, in steps of about 2 and 2.5.
var latencyBuckets = []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// handlerStats are one handler link's counters and gauges, which the link
// sets; they are the series of its handler label, from when the link
// starts until it stops.
type handlerStats struct {
	typeStats
	_        [56]byte // keeps what the link stores off the lines connection actors write
	gauges   linkGauges
	restarts atomic.Int64
	answer   prometheus.Histogram
}

// publish sets the link's gauges from its state.
func (h *handlerStats) publish(up bool, queue, inFlight, restarts int) {
	if h == nil {
		return
	}
	h.gauges.set(up, queue, inFlight)
	if int64(restarts) != h.restarts.Load() {
		h.restarts.Store(int64(restarts))
	}
}

// linkGauges are the gauges a link publishes, packed in one word so that
// publishing costs one store, and none when nothing changed: in flight in
// the low 32 bits, the queue in the next 31, up in the top one.
type linkGauges struct {
	packed atomic.Uint64
	last   uint64 // what was stored last; only the link uses it
}

// maxGauge is the largest queue or in-flight count linkGauges shows.
const maxGauge = 1<<31 - 1

func (g *linkGauges) set(up bool, queue, inFlight int) {
	v := uint64(min(inFlight, maxGauge)) | uint64(min(queue, maxGauge))<<32
	if up {
		v |= 1 << 63
	}
	if v != g.last {
		g.last = v
		g.packed.Store(v)
	}
}

// get reads the gauges, as 0 or 1 for up.
func (g *linkGauges) get() (up, queue, inFlight int64) {
	v := g.packed.Load()
	return int64(v >> 63), int64(v>>32) & maxGauge, int64(v) & maxGauge
}

// answered observes the time from a request's sending to its answer.
func (h *handlerStats) answered(sent time.Time) {
	if h != nil {
		h.answer.Observe(time.Since(sent).Seconds())
	}
}

// addHandler makes the series of the named handler, whose link starts.
func (m *metrics) addHandler(name string) *handlerStats {
	if m == nil {
		return nil
	}
	h := &handlerStats{answer: latencyHistogram("bester_handler_answer_seconds", helpAnswerSeconds, "handler", name)}
	m.handlers.add(name, h)
	return h
}

// removeHandler drops the series of the named handler, whose link stops,
// unless a newer link of that name has replaced them.
func (m *metrics) removeHandler(name string, h *handlerStats) {
	if m != nil {
		m.handlers.remove(name, h)
	}
}

// peerStats are one peer link's gauges and its round-trip histogram.
type peerStats struct {
	gauges linkGauges // in flight is not shown
	rtt    prometheus.Histogram
}

// publish sets the peer link's gauges.
func (p *peerStats) publish(up bool, queue int) {
	if p != nil {
		p.gauges.set(up, queue, 0)
	}
}

// reported observes the time from a message's sending to the peer's
// report on it.
func (p *peerStats) reported(sent time.Time) {
	if p != nil {
		p.rtt.Observe(time.Since(sent).Seconds())
	}
}

// addPeer makes the series of the named peer, whose link starts.
func (m *metrics) addPeer(name string) *peerStats {
	if m == nil {
		return nil
	}
	p := &peerStats{rtt: latencyHistogram("bester_peer_round_trip_seconds", helpRoundTripSeconds, "peer", name)}
	m.peers.add(name, p)
	return p
}

// removePeer drops the series of the named peer, whose link stops, unless
// a newer link of that name has replaced them.
func (m *metrics) removePeer(name string, p *peerStats) {
	if m != nil {
		m.peers.remove(name, p)
	}
}

// latencyHistogram is the histogram named name of one link, whose name
// is the constant label label.
func latencyHistogram(name, help, label, link string) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help,
		ConstLabels: prometheus.Labels{label: link}, Buckets: latencyBuckets})
}

// linkSeries holds the stats of the links of one kind, by name: a map
// that is copied when a link starts or stops, which is rare, so that
// readers load it without a lock and never wait.
type linkSeries[V any] struct {
	changing sync.Mutex // serialises the copies
	byName   atomic.Pointer[map[string]*V]
}

// load is the current map; nil (empty) before the first link starts.
func (l *linkSeries[V]) load() map[string]*V {
	if p := l.byName.Load(); p != nil {
		return *p
	}
	return nil
}

// add publishes v under name.
func (l *linkSeries[V]) add(name string, v *V) {
	l.changing.Lock()
	defer l.changing.Unlock()
	next := maps.Clone(l.load())
	if next == nil {
		next = make(map[string]*V)
	}
	next[name] = v
	l.byName.Store(&next)
}

// remove drops name, if it is still v: a newer link of that name may have
// replaced it.
func (l *linkSeries[V]) remove(name string, v *V) {
	l.changing.Lock()
	defer l.changing.Unlock()
	if l.load()[name] != v {
		return
	}
	next := maps.Clone(l.load())
	delete(next, name)
	l.byName.Store(&next)
}
