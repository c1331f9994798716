package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Defaults of Config and ConnectConfig.
const (
	DefaultUserPrefix       = "bench-"
	DefaultDrain            = 10 * time.Second
	DefaultProgressInterval = time.Second
	DefaultDialConcurrency  = 32
	// openLoopBatch is the most messages an open-loop sender queues
	// before it flushes, when it is behind its schedule.
	openLoopBatch = 64
)

// Config describes a sender/recipient workload.
type Config struct {
	// Workload names the workload in the result: relay, pingpong, fanout.
	Workload string
	// Driver connects the senders, and the recipients unless
	// RecipientDriver is set. Not with Members.
	Driver Driver
	// RecipientDriver connects the recipients, when they live on
	// another server than the senders.
	RecipientDriver Driver
	// Members, instead of Driver, connect the users to several servers
	// that share them (the members of one cluster), two at least:
	// Placement says which member each user connects to.
	Members   []Driver
	Placement Placement
	// RecipientSuffix is appended to recipient names in each message's
	// To ("@K" for users of a peer server K).
	RecipientSuffix string
	// Senders is the number of sending connections (P).
	Senders int
	// Recipients is the number of recipients of each message: 1 for a
	// relay, K for a fanout.
	Recipients int
	// SharedRecipients makes every sender address the same Recipients
	// users (fanout); otherwise each sender has its own (a relay of P
	// pairs when Recipients is 1).
	SharedRecipients bool
	// Window is the closed loop's number of unacknowledged messages
	// per sender (W). It is ignored when Rate is set.
	Window int
	// Rate makes the loop open: messages per second, all senders
	// together, each sent at its scheduled time whether or not earlier
	// ones were acknowledged.
	Rate float64
	// Size is the body size in bytes (at least MinSize).
	Size int
	// Warmup is sent before the measurement and not measured.
	Warmup time.Duration
	// Duration is the measured time.
	Duration time.Duration
	// Messages, instead of Duration, measures this many messages: the
	// senders share them out and each stops after its share, so the
	// run's length follows the target's speed rather than the clock.
	// The throughput then counts them from the end of the warmup until
	// the last one is acknowledged and delivered. A target that
	// acknowledges nothing for Drain ends the measurement early. Closed
	// loop only: with Rate, Duration already fixes the count.
	Messages int
	// Drain bounds the wait, after the last message is sent, for the
	// acknowledgements and deliveries still due; default DefaultDrain.
	Drain time.Duration
	// UserPrefix starts every user name; default DefaultUserPrefix.
	// Senders are PREFIXs0, PREFIXs1, ..., recipients PREFIXr0, ...
	UserPrefix string
	// Sources are the source addresses to dial from, in turn; empty
	// lets the system choose.
	Sources []net.IP
	// DialConcurrency bounds connections being opened at once; default
	// DefaultDialConcurrency.
	DialConcurrency int
	// Progress, when set, is called every ProgressInterval (default
	// DefaultProgressInterval) from one goroutine.
	Progress         func(Progress)
	ProgressInterval time.Duration
}

// Progress is the state of a run, for a live display.
type Progress struct {
	Phase                          string // connecting, warmup, measuring, draining, holding
	Elapsed                        time.Duration
	Conns                          int
	Sent, Acked, Delivered, Errors uint64
	// Rate is deliveries (connections while connecting) per second
	// since the previous call.
	Rate float64
}

func (c *Config) check() error {
	if err := c.checkMembers(); err != nil {
		return err
	}
	switch {
	case c.Senders < 1:
		return fmt.Errorf("senders %d: want at least 1", c.Senders)
	case c.Recipients < 1:
		return fmt.Errorf("recipients %d: want at least 1", c.Recipients)
	case c.Rate == 0 && c.Window < 1:
		return fmt.Errorf("window %d: want at least 1", c.Window)
	case c.Rate < 0 || math.IsInf(c.Rate, 0) || math.IsNaN(c.Rate):
		return fmt.Errorf("rate %v: want a positive number of messages per second", c.Rate)
	case c.Size < MinSize:
		return fmt.Errorf("size %d: want at least %d bytes (the id and time stamp)", c.Size, MinSize)
	case c.Messages < 0:
		return fmt.Errorf("messages %d: want 0 or more", c.Messages)
	case c.Messages > 0 && c.Duration > 0:
		return errors.New("both a duration and a number of messages: the measurement ends after one of them")
	case c.Messages > 0 && c.Rate > 0:
		return errors.New("a number of messages with a rate: the duration sets the count of an open loop")
	case c.Messages == 0 && c.Duration <= 0:
		return fmt.Errorf("duration %s: want more than 0", c.Duration)
	case c.Warmup < 0:
		return fmt.Errorf("warmup %s: want 0 or more", c.Warmup)
	case uint64(c.Senders) >= 1<<(64-seqBits):
		return fmt.Errorf("senders %d: too many", c.Senders)
	}
	if c.RecipientDriver == nil {
		c.RecipientDriver = c.Driver
	}
	if c.Drain <= 0 {
		c.Drain = DefaultDrain
	}
	if c.UserPrefix == "" {
		c.UserPrefix = DefaultUserPrefix
	}
	if c.DialConcurrency <= 0 {
		c.DialConcurrency = DefaultDialConcurrency
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = DefaultProgressInterval
	}
	return nil
}

// checkMembers checks that there is one server's Driver, or Members and
// their Placement.
func (c *Config) checkMembers() error {
	switch {
	case len(c.Members) == 0 && c.Placement != "":
		return fmt.Errorf("placement %q without members to place users on", c.Placement)
	case len(c.Members) == 0 && c.Driver == nil:
		return errors.New("no driver")
	case len(c.Members) == 0:
		return nil
	case c.Driver != nil || c.RecipientDriver != nil:
		return errors.New("both members and a driver: the members' placement connects every user")
	case len(c.Members) < 2:
		return fmt.Errorf("%d member: want at least 2 to place users on", len(c.Members))
	case slices.Contains(c.Members, nil):
		return errors.New("a member without a driver")
	}
	_, err := ParsePlacement(string(c.Placement))
	return err
}

// run is the state of one Run.
type run struct {
	cfg     Config
	base    time.Time
	warmEnd int64 // ns since base: end of the warmup
	end     int64 // ns since base: end of the measurement (never with Messages)

	codes   *codeTable
	ledgers []*ledger
	senders []*sender
	recvs   []*receiver // every connection's receiving side

	sent, acked, delivered, errs atomic.Uint64
	expected                     atomic.Uint64 // deliveries due, from the acknowledgements so far

	stop    chan struct{} // closed when the measurement ends: senders stop
	abort   chan struct{} // closed when the drain is over: backlogs are dropped
	closing atomic.Bool   // connections are being closed: receive errors are expected
	stalled bool          // a Messages measurement ended for want of acknowledgements
	placed  *PlacementResult

	mu       sync.Mutex
	connErrs []string // first few connection errors
	nConnErr uint64
}

// sender is one sending connection.
type sender struct {
	idx    int
	user   string
	conn   Conn
	to     []string
	credit chan struct{} // closed loop: one token per unacknowledged message
	unsent uint64        // open loop: scheduled messages dropped at the deadline
	// measured counts the messages it sent during the measurement;
	// share is its part of Config.Messages.
	measured, share int
}

// receiver is the receiving side of one connection; its fields belong to
// its goroutine until the run ends.
type receiver struct {
	user     string
	driver   Driver // connects it
	member   int    // the index of its driver in Config.Members
	conn     Conn
	from     []bool // from[s]: sender s addresses this user
	delivery *histogram
	ack      *histogram
	seen     map[int]*bitset // by sender: the sequence numbers received
	// lastSender and lastSeen are the sender seenFrom was last asked
	// for and its marks: a receiver mostly hears from one sender.
	lastSender int
	lastSeen   *bitset
	// last is when the latest acknowledgement or delivery of a
	// measured message arrived, ns since the run's start.
	last int64
	// acks and deliveries count those that arrived during a timed
	// measurement, by the run's clock.
	acks, deliveries uint64

	duplicates, misdelivered, unknown, malformed uint64
	duplicateAcks, unknownAcks                   uint64
}

// now is the time since the start of the run, in ns.
func (r *run) now() int64 { return int64(time.Since(r.base)) }

// inWindow tells whether a message meant to be sent at t is measured.
func (r *run) inWindow(t int64) bool { return t >= r.warmEnd && t < r.end }

// Run drives the workload cfg describes and accounts for every message.
// Cancelling ctx ends the measurement early (the result says so); an
// error means the run could not start.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, codes: newCodeTable(), stop: make(chan struct{}), abort: make(chan struct{})}
	start := time.Now()
	if err := r.connect(ctx); err != nil {
		r.closeAll()
		return nil, err
	}
	dialTime := time.Since(start)

	r.base = time.Now()
	r.warmEnd = int64(cfg.Warmup)
	r.end = int64(cfg.Warmup + cfg.Duration)
	if cfg.Messages > 0 {
		r.end = math.MaxInt64
	}
	var recvWG, sendWG sync.WaitGroup
	for _, rc := range r.recvs {
		recvWG.Go(func() { r.receive(rc) })
	}
	for _, s := range r.senders {
		if cfg.Rate > 0 {
			sendWG.Go(func() { r.sendOpen(s) })
		} else {
			sendWG.Go(func() { r.sendClosed(s) })
		}
	}

	sendersDone := make(chan struct{})
	go func() { sendWG.Wait(); close(sendersDone) }()
	interrupted := false
	ended := r.measure(ctx, &interrupted, sendersDone)
	close(r.stop)

	// Drain: senders finish their backlog, then acknowledgements and
	// deliveries still due arrive, within cfg.Drain.
	drainEnd := time.Now().Add(cfg.Drain)
	if interrupted {
		drainEnd = time.Now().Add(min(cfg.Drain, time.Second))
	}
	r.drain(ctx, sendersDone, drainEnd)
	close(r.abort)
	// A sender still writing to a server that reads no more is freed
	// by closing its connection.
	select {
	case <-sendersDone:
	case <-time.After(time.Second):
	}
	r.closing.Store(true)
	r.closeAll()
	<-sendersDone
	recvWG.Wait()

	res := r.result(ended)
	res.Interrupted = interrupted
	res.ConnectSeconds = dialTime.Seconds()
	return res, nil
}

// snapshot is the counters at one moment.
type snapshot struct {
	at                     int64
	sent, acked, delivered uint64
}

func (r *run) snap() snapshot {
	return snapshot{at: r.now(), sent: r.sent.Load(), acked: r.acked.Load(), delivered: r.delivered.Load()}
}

// measure waits out the warmup and the measurement (its Duration, or
// until every sender has sent its share of Messages), calling Progress,
// and returns when the measurement ended, ns since the run's start.
func (r *run) measure(ctx context.Context, interrupted *bool, sendersDone <-chan struct{}) (ended int64) {
	var end, stallTick <-chan time.Time
	if r.cfg.Messages == 0 {
		t := time.NewTimer(r.cfg.Warmup + r.cfg.Duration)
		defer t.Stop()
		end = t.C
		sendersDone = nil // senders that fail early do not shorten a timed measurement
	} else {
		// A target that takes no more messages would hold a count for
		// ever; a timed measurement ends anyway.
		t := time.NewTicker(max(r.cfg.Drain/10, time.Millisecond))
		defer t.Stop()
		stallTick = t.C
	}
	stall := stallWatch{moved: time.Now(), timeout: r.cfg.Drain}
	tick := time.NewTicker(r.cfg.ProgressInterval)
	defer tick.Stop()
	last := r.snap()
	for {
		select {
		case <-ctx.Done():
			*interrupted = true
			return r.now()
		case <-end:
			return r.now()
		case <-sendersDone:
			return r.now()
		case <-stallTick:
			if r.stalled = stall.over(r.acked.Load()); r.stalled {
				return r.now()
			}
		case <-tick.C:
			phase := "measuring"
			if r.now() < r.warmEnd {
				phase = "warmup"
			}
			last = r.progress(phase, last)
		}
	}
}

// stallWatch tells when nothing has been acknowledged for a timeout.
type stallWatch struct {
	acked   uint64
	moved   time.Time
	timeout time.Duration
}

// over takes the acknowledgements so far and says whether they have not
// moved for the timeout.
func (w *stallWatch) over(acked uint64) bool {
	if acked != w.acked {
		w.acked, w.moved = acked, time.Now()
	}
	return time.Since(w.moved) >= w.timeout
}

// progress reports the state to cfg.Progress and returns the snapshot it
// used, to compute the next rate.
func (r *run) progress(phase string, last snapshot) snapshot {
	s := r.snap()
	if r.cfg.Progress == nil {
		return s
	}
	rate := 0.0
	if dt := s.at - last.at; dt > 0 {
		rate = float64(s.delivered-last.delivered) / (float64(dt) / 1e9)
	}
	r.cfg.Progress(Progress{Phase: phase, Elapsed: time.Duration(s.at), Conns: len(r.recvs),
		Sent: s.sent, Acked: s.acked, Delivered: s.delivered, Errors: r.errs.Load(), Rate: rate})
	return s
}

// drain waits until every message sent is acknowledged and every
// delivery due has arrived, or until deadline.
func (r *run) drain(ctx context.Context, sendersDone <-chan struct{}, deadline time.Time) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	progress := time.NewTicker(r.cfg.ProgressInterval)
	defer progress.Stop()
	last := r.snap()
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	for {
		select {
		case <-sendersDone:
			if r.acked.Load() >= r.sentTotal() && r.delivered.Load() >= r.expected.Load() {
				return
			}
		default:
		}
		select {
		case <-tick.C:
		case <-progress.C:
			last = r.progress("draining", last)
		case <-timeout.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// sentTotal counts the messages recorded in the ledgers (the sent
// counter lags it by the messages being queued).
func (r *run) sentTotal() uint64 {
	var n uint64
	for _, l := range r.ledgers {
		n += l.sent()
	}
	return n
}

// connect dials every recipient, then every sender, so that no message
// finds its recipient missing.
func (r *run) connect(ctx context.Context) error {
	cfg := &r.cfg
	nRecv := cfg.Recipients
	if !cfg.SharedRecipients {
		nRecv = cfg.Senders * cfg.Recipients
	}
	recvName := func(j int) string { return cfg.UserPrefix + "r" + strconv.Itoa(j) }
	r.ledgers = make([]*ledger, cfg.Senders)
	r.senders = make([]*sender, cfg.Senders)
	recipients := make([]*receiver, nRecv)
	for j := range recipients {
		recipients[j] = &receiver{user: recvName(j), from: make([]bool, cfg.Senders)}
	}
	for i := range r.senders {
		s := &sender{idx: i, user: cfg.UserPrefix + "s" + strconv.Itoa(i)}
		first := 0
		if !cfg.SharedRecipients {
			first = i * cfg.Recipients
		}
		for j := first; j < first+cfg.Recipients; j++ {
			s.to = append(s.to, recvName(j)+cfg.RecipientSuffix)
			recipients[j].from[i] = true
		}
		if cfg.Rate == 0 {
			s.credit = make(chan struct{}, cfg.Window)
		}
		s.share = cfg.Messages / cfg.Senders
		if i < cfg.Messages%cfg.Senders {
			s.share++
		}
		r.senders[i] = s
		r.ledgers[i] = &ledger{}
	}
	senders := make([]*receiver, cfg.Senders)
	for i := range senders {
		senders[i] = &receiver{user: r.senders[i].user, from: make([]bool, cfg.Senders)}
	}
	r.placed = place(cfg, senders, recipients)
	dialAll := func(rs []*receiver, offset int) error {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(cfg.DialConcurrency)
		for k, rc := range rs {
			g.Go(func() error {
				var local net.IP
				if len(cfg.Sources) > 0 {
					local = cfg.Sources[(offset+k)%len(cfg.Sources)]
				}
				c, err := rc.driver.Dial(gctx, rc.user, local)
				if err != nil {
					return fmt.Errorf("connect %s: %w", rc.user, err)
				}
				rc.conn = c
				return nil
			})
		}
		return g.Wait()
	}
	// Keep every connection in r.recvs as soon as it exists, so that
	// closeAll closes them after a failure.
	r.recvs = append(append(r.recvs, recipients...), senders...)
	if err := dialAll(recipients, 0); err != nil {
		return err
	}
	if err := dialAll(senders, len(recipients)); err != nil {
		return err
	}
	for i, s := range r.senders {
		s.conn = senders[i].conn
	}
	return nil
}

// closeAll closes every open connection.
func (r *run) closeAll() {
	var wg sync.WaitGroup
	for _, rc := range r.recvs {
		if rc.conn != nil {
			wg.Go(func() { rc.conn.Close() })
		}
	}
	wg.Wait()
}

// connError records a connection that failed.
func (r *run) connError(user string, err error) {
	r.errs.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nConnErr++
	if len(r.connErrs) < 5 {
		r.connErrs = append(r.connErrs, fmt.Sprintf("%s: %v", user, err))
	}
}

// sendClosed keeps cfg.Window messages unacknowledged until the
// measurement ends.
func (r *run) sendClosed(s *sender) {
	msg := Message{To: s.to, Body: newBody(r.cfg.Size)}
	l := r.ledgers[s.idx]
	for {
		select {
		case <-r.stop:
			r.flush(s)
			return
		case s.credit <- struct{}{}:
		default:
			// The window is full: write what is queued and wait.
			if !r.flush(s) {
				return
			}
			select {
			case <-r.stop:
				r.flush(s)
				return
			case s.credit <- struct{}{}:
			}
		}
		now := r.now()
		if !r.admit(s, now) {
			r.flush(s)
			return
		}
		msg.ID = makeID(s.idx, l.add(now))
		stampBody(msg.Body, msg.ID, now)
		if err := s.conn.Queue(&msg); err != nil {
			r.connError(s.user, err)
			return
		}
		r.sent.Add(1)
		if now >= r.warmEnd {
			s.measured++
		}
	}
}

// admit tells whether the closed-loop sender s may send a message at
// now: always in the warmup, then until the end of the measurement or of
// its share of Messages.
func (r *run) admit(s *sender, now int64) bool {
	switch {
	case now < r.warmEnd:
		return true
	case r.cfg.Messages == 0:
		return now < r.end
	case s.measured < s.share:
		return true
	}
	return false
}

// flush writes what s queued and reports whether it could.
func (r *run) flush(s *sender) bool {
	if err := s.conn.Flush(); err != nil {
		if !r.closing.Load() {
			r.connError(s.user, err)
		}
		return false
	}
	return true
}

// sendOpen sends on a fixed schedule: message k of sender i is meant for
// offset_i + k*interval, whether or not earlier ones were acknowledged,
// and its latency counts from then. A sender held up (by a socket that
// takes no more data, say) catches up with every message it owes, until
// the drain is over.
func (r *run) sendOpen(s *sender) {
	interval := float64(time.Second) * float64(r.cfg.Senders) / r.cfg.Rate
	offset := interval * float64(s.idx) / float64(r.cfg.Senders)
	msg := Message{To: s.to, Body: newBody(r.cfg.Size)}
	l := r.ledgers[s.idx]
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	queued := 0
	for k := 0; ; k++ {
		due := int64(offset + float64(k)*interval)
		if due >= r.end {
			break
		}
		now := r.now()
		if due > now {
			if queued > 0 {
				if !r.flush(s) {
					return
				}
				queued = 0
			}
			timer.Reset(time.Duration(due - now))
			select {
			case <-timer.C:
			case <-r.abort:
			}
			now = due
		}
		select {
		case <-r.abort:
			// Count what the schedule still owed and give up on it.
			s.unsent = uint64(math.Ceil((float64(r.end)-offset)/interval)) - uint64(k)
			r.flush(s)
			return
		default:
		}
		msg.ID = makeID(s.idx, l.add(due))
		stampBody(msg.Body, msg.ID, due)
		if err := s.conn.Queue(&msg); err != nil {
			r.connError(s.user, err)
			return
		}
		r.sent.Add(1)
		if r.inWindow(now) { // sent during the measurement, whenever it was due
			s.measured++
		}
		if queued++; queued >= openLoopBatch {
			if !r.flush(s) {
				return
			}
			queued = 0
		}
	}
	r.flush(s)
}

// receive handles everything that arrives on one connection until it is
// closed.
func (r *run) receive(rc *receiver) {
	rc.delivery, rc.ack = newHistogram(), newHistogram()
	rc.seen = map[int]*bitset{}
	err := events(rc.conn, func(ev *Event) {
		switch ev.Kind {
		case EventAck:
			r.onAck(rc, ev)
		case EventDelivery:
			r.onDelivery(rc, ev)
		}
	})
	if !r.closing.Load() {
		r.connError(rc.user, err)
	}
}

func (r *run) onAck(rc *receiver, ev *Event) {
	si, seq := splitID(ev.ID)
	if si >= len(r.ledgers) {
		rc.unknownAcks++
		return
	}
	code := r.codes.get(ev.Code)
	at, first, known := r.ledgers[si].ack(seq, code, ev.Undelivered)
	switch {
	case !known:
		rc.unknownAcks++
		return
	case !first:
		rc.duplicateAcks++
		return
	}
	now := r.now()
	r.acked.Add(1)
	if r.inWindow(now) {
		rc.acks++
	}
	if code != 0 {
		r.errs.Add(1)
	}
	e := entry{code: code, undelivered: uint16(min(ev.Undelivered, 65535))}
	r.expected.Add(uint64(expected(&e, r.cfg.Recipients, 1)))
	if r.inWindow(at) {
		rc.ack.record(time.Duration(now - at))
		rc.last = now
	}
	if c := r.senders[si].credit; c != nil {
		select {
		case <-c:
		default:
		}
	}
}

// seenFrom is the set of sequence numbers rc got from sender si.
func (rc *receiver) seenFrom(si int) *bitset {
	if rc.lastSeen != nil && rc.lastSender == si {
		return rc.lastSeen
	}
	bs := rc.seen[si]
	if bs == nil {
		bs = &bitset{}
		rc.seen[si] = bs
	}
	rc.lastSender, rc.lastSeen = si, bs
	return bs
}

func (r *run) onDelivery(rc *receiver, ev *Event) {
	now := r.now()
	id, stamp, err := parseBody(ev.Body)
	if err != nil || len(ev.Body) != max(r.cfg.Size, MinSize) {
		rc.malformed++
		r.errs.Add(1)
		return
	}
	si, seq := splitID(id)
	if si >= len(r.ledgers) {
		rc.unknown++
		r.errs.Add(1)
		return
	}
	if !rc.from[si] {
		rc.misdelivered++
		r.errs.Add(1)
		return
	}
	// Known before marked: the marks grow with the highest sequence
	// number, which must be one that was sent.
	l := r.ledgers[si]
	if seq >= l.sent() {
		rc.unknown++
		r.errs.Add(1)
		return
	}
	if rc.seenFrom(si).set(seq) {
		rc.duplicates++
		r.errs.Add(1)
		return
	}
	l.deliver(seq)
	r.delivered.Add(1)
	if r.inWindow(now) {
		rc.deliveries++
	}
	if r.inWindow(stamp) {
		rc.delivery.record(time.Duration(now - stamp))
		rc.last = now
	}
}
