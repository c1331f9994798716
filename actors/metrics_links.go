package actors

// The series of handler and peer links in /metrics, and the maps by name
// that hold them while their links run.

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets are the buckets, in seconds, of the answer and round-trip
// histograms: 50µs to 10s, in steps of about 2 and 2.5.
var latencyBuckets = []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// linkGauges are the gauges a link publishes, packed in one word so that
// publishing costs one store, and none when nothing changed: in flight in
// the low 32 bits, the queue in the next 31, up in the top one.
type linkGauges struct {
	packed atomic.Uint64
	last   uint64 // what was stored last; only the link uses it
}

// maxGauge is the largest queue or in-flight count linkGauges shows.
const maxGauge = 1<<31 - 1

// set publishes the gauges, if they changed.
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

// handlerStats are one handler link's counters and gauges, which the link
// sets; they are the series of its handler label, from when the link
// starts until it stops.
type handlerStats struct {
	*handlerCounts
	_        [56]byte // keeps what the link stores off the line readers load the counts from
	gauges   linkGauges
	restarts atomic.Int64
	// restartsBefore are the restarts of the links this one replaced.
	restartsBefore int64
}

// handlerCounts are the counts of a handler's type and its answers. They
// belong to the handler's name rather than to one link: a link that
// replaces another of that name (a reload that changes the handler) takes
// them over, so that they run on, and what the older link still reports
// counts; the restarts run on too.
type handlerCounts struct {
	typeStats
	answer prometheus.Histogram
}

// publish sets the link's gauges from its state.
func (h *handlerStats) publish(up bool, queue, inFlight, restarts int) {
	if h == nil {
		return
	}
	h.gauges.set(up, queue, inFlight)
	if total := h.restartsBefore + int64(restarts); total != h.restarts.Load() {
		h.restarts.Store(total)
	}
}

// answered observes the time from a request's sending to its answer.
func (h *handlerStats) answered(sent time.Time) {
	if h != nil {
		h.answer.Observe(time.Since(sent).Seconds())
	}
}

// addHandler makes the series of the named handler, whose link starts,
// taking over the counts of a link of that name that still runs or that
// a reload replaced with this one (it leaves them, see handlerLink).
func (m *metrics) addHandler(name string) *handlerStats {
	if m == nil {
		return nil
	}
	return m.handlers.put(name, func(cur *handlerStats) *handlerStats {
		if cur != nil {
			return &handlerStats{handlerCounts: cur.handlerCounts, restartsBefore: cur.restarts.Load()}
		}
		return &handlerStats{handlerCounts: &handlerCounts{
			answer: latencyHistogram("bester_handler_answer_seconds", helpAnswerSeconds, "handler", name)}}
	})
}

// removeHandler drops the series of the named handler, whose link stops,
// unless a newer link of that name has replaced them.
func (m *metrics) removeHandler(name string, h *handlerStats) {
	if m != nil {
		m.handlers.remove(name, h)
	}
}

// peerStats are one peer link's gauges and its round-trip histogram,
// which a link that replaces another of the same name takes over.
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

// addPeer makes the series of the named peer, whose link starts, taking
// over the round trips of a link of that name that still runs.
func (m *metrics) addPeer(name string) *peerStats {
	if m == nil {
		return nil
	}
	return m.peers.put(name, func(cur *peerStats) *peerStats {
		if cur != nil {
			return &peerStats{rtt: cur.rtt}
		}
		return &peerStats{rtt: latencyHistogram("bester_peer_round_trip_seconds", helpRoundTripSeconds, "peer", name)}
	})
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

// byName holds the stats of the listeners, handlers or peers, by name: a
// map that is copied when one starts or stops, which is rare, so that
// readers load it without a lock and never wait.
type byName[V any] struct {
	changing sync.Mutex // serialises the copies
	current  atomic.Pointer[map[string]*V]
}

// load is the current map; nil (empty) before the first one starts.
func (l *byName[V]) load() map[string]*V {
	if p := l.current.Load(); p != nil {
		return *p
	}
	return nil
}

// put publishes under name what next makes of the stats there now (nil
// when there are none), and returns it.
func (l *byName[V]) put(name string, next func(cur *V) *V) *V {
	l.changing.Lock()
	defer l.changing.Unlock()
	v := next(l.load()[name])
	l.store(name, v)
	return v
}

// store publishes a copy of the map with v under name; l.changing is held.
func (l *byName[V]) store(name string, v *V) {
	next := maps.Clone(l.load())
	if next == nil {
		next = make(map[string]*V)
	}
	next[name] = v
	l.current.Store(&next)
}

// getOrAdd returns the stats under name, adding new ones if there are
// none.
func (l *byName[V]) getOrAdd(name string) *V {
	l.changing.Lock()
	defer l.changing.Unlock()
	if v, ok := l.load()[name]; ok {
		return v
	}
	v := new(V)
	l.store(name, v)
	return v
}

// remove drops name, if it is still v: a newer link of that name may have
// replaced it.
func (l *byName[V]) remove(name string, v *V) {
	l.changing.Lock()
	defer l.changing.Unlock()
	if l.load()[name] != v {
		return
	}
	next := maps.Clone(l.load())
	delete(next, name)
	l.current.Store(&next)
}
