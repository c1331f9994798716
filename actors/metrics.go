package actors

import (
	"sync/atomic"

	"github.com/bester-project/bester/wire"
)

// metrics are the server's counters and gauges for the monitor's
// /metrics. The goroutines and actors that do the work add to plain
// atomics, resolved once per listener, connection or link, never looked
// up by label per message (the links' are in metrics_links.go); the
// collector (metrics_collect.go) reads them when Prometheus scrapes. A
// nil *metrics counts nothing: parts tested alone, and the baseline of
// the benchmark of their cost. A server counts from its start, monitor
// block or not, so that a monitor a reload adds shows its whole life.
type metrics struct {
	receivedBytes atomic.Uint64 // frames read from client and peer sockets, by readers
	_             [56]byte      // readers and writers add to counters on lines of their own
	sentBytes     atomic.Uint64 // frames written to client and peer sockets, by writers
	deliveries    atomic.Uint64
	_             [48]byte
	slowConsumers atomic.Uint64
	logins        [2]atomic.Uint64 // by loginGood, loginBad
	refused       [len(refusalReasons)]atomic.Uint64
	// accepted counts each listener's connections, by listener name.
	accepted byName[atomic.Uint64]
	handlers byName[handlerStats]
	peers    byName[peerStats]

	limits *connLimits
	budget *budget

	// other counts the messages and reports of types no handler has.
	other typeStats
	// cluster counts the batches sent to other members; nil on a server
	// without a cluster block.
	cluster atomic.Pointer[clusterCounts]
}

// setCluster makes /metrics show the batches of a cluster member.
func (m *metrics) setCluster(c *clusterCounts) {
	if m != nil {
		m.cluster.Store(c)
	}
}

func newMetrics(limits *connLimits, budget *budget) *metrics {
	return &metrics{limits: limits, budget: budget}
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

// listener is the counter of the named listener's accepted connections,
// made when its accept loop first starts. A listener's series stay once it
// closes: its connections may stay open, and listeners are few.
func (m *metrics) listener(name string) *atomic.Uint64 {
	if m == nil {
		return nil
	}
	return m.accepted.getOrAdd(name)
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
