package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bester-project/bester/wire"
)

// An attack abuses a server while a canary relay measures what it does
// to an ordinary user. Each runs until its context ends, then closes
// every connection it opened and returns; what it saw goes into an
// Outcome.
type attackFunc func(ctx context.Context, a *AttackConfig, o *Outcome)

// Attack is one way of abusing a server.
type Attack struct {
	Name string
	// Usage says what it does, for the command's help.
	Usage string
	// Conns is the default of AttackConfig.Conns for it (0: unused).
	Conns int
	run   attackFunc
}

// Attacks are the attacks RunAttack knows, in the order the help lists
// them.
var Attacks = []Attack{
	{"prelogin", "N connections (default 5000) each send a frame header claiming max_frame and one byte of body, " +
		"then nothing; two waves, each held half the time", 5000, attackPrelogin},
	{"afterlogin", "N connections (default 1500) log in, then send a header claiming max_frame and a few bytes, " +
		"then stall", 1500, attackAfterlogin},
	{"nonreader", "one logged-in client never reads; another sends it 500 KB relay messages as fast as its " +
		"reports allow", 0, attackNonreader},
	{"bigint", "a JSON client relays data holding a 1,000,000-digit integer, one message at a time", 0, attackBigint},
	{"bignames", "relay messages whose \"to\" lists -names (100,000) distinct users, one at a time", 0, attackBignames},
	{"maxframe", "relay messages of exactly max_frame bytes to a listening client", 0, attackMaxframe},
	{"headroom", "relay messages of max_frame - 40 bytes to a listening client", 0, attackHeadroom},
	{"loginstorm", "N (default 200) concurrent logins with a wrong password, again and again (needs htpasswd " +
		"authentication; -spawn sets it up)", 200, attackLoginstorm},
	{"connflood", "N (default 64) workers connect, send a frame that is neither JSON nor CBOR, and read until " +
		"closed, as fast as they can", 64, attackConnflood},
	{"utf8", "relay messages whose data holds invalid UTF-8 (in the body, in \"to\"), in CBOR and in JSON",
		0, attackUTF8},
}

// FindAttack returns the attack called name.
func FindAttack(name string) (Attack, bool) {
	i := slices.IndexFunc(Attacks, func(a Attack) bool { return a.Name == name })
	if i < 0 {
		return Attack{}, false
	}
	return Attacks[i], true
}

// AttackNames lists the attacks' names.
func AttackNames() []string {
	var names []string
	for _, a := range Attacks {
		names = append(names, a.Name)
	}
	return names
}

// AttackConfig is what an attack needs to know about its target.
type AttackConfig struct {
	// Network and Address are dialled as by client.Dial.
	Network, Address string
	// Codec is spoken by attackers that log in (bigint always speaks
	// JSON, utf8 both).
	Codec wire.Codec
	// User and Password log attackers in; with an empty User each gets
	// a name of its own, UserPrefix + "attacker" + a number (open
	// authentication).
	User, Password string
	UserPrefix     string
	// InsecurePlaintext lets Password go in clear to a target that is not
	// loopback, as client.Options.InsecurePlaintext.
	InsecurePlaintext bool
	// Type is the relay handler's payload type.
	Type string
	// MaxFrame is the server's max_frame, in bytes.
	MaxFrame int
	// Conns is the attack's N: connections, logins or workers.
	Conns int
	// Names is how many users bignames names in one message.
	Names int
	// Sources are the source addresses to dial from, in turn; empty
	// lets the system choose.
	Sources []net.IP
	// Timeout bounds each connect and login.
	Timeout time.Duration
	// Duration is how long the attack lasts at most (prelogin splits
	// it into its waves).
	Duration time.Duration
}

// RunAttack runs the attack called name until ctx ends and returns what
// it saw.
func RunAttack(ctx context.Context, name string, cfg AttackConfig) (*Outcome, error) {
	at, ok := FindAttack(name)
	if !ok {
		return nil, fmt.Errorf("attack %q: want one of %s", name, strings.Join(AttackNames(), ", "))
	}
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("attack duration %s: want more than 0", cfg.Duration)
	}
	if cfg.Conns <= 0 {
		cfg.Conns = at.Conns
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = wire.DefaultMaxFrame
	}
	cfg.Type = cmp(cfg.Type, DefaultType)
	cfg.UserPrefix = cmp(cfg.UserPrefix, DefaultUserPrefix)
	cfg.Timeout = cmp(cfg.Timeout, 10*time.Second)
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	o := newOutcome(name)
	start := time.Now()
	at.run(ctx, &cfg, o)
	o.Seconds = time.Since(start).Seconds()
	o.finish()
	return o, nil
}

// Outcome is what an attack saw of the server.
type Outcome struct {
	Attack  string  `json:"attack"`
	Seconds float64 `json:"duration_s"`
	// Opened counts connections opened (and logged in, for attacks
	// that log in); ClosedByServer those the server closed.
	Opened         uint64 `json:"connections_opened"`
	ClosedByServer uint64 `json:"closed_by_server"`
	// Sent counts messages (or frames) written.
	Sent uint64 `json:"sent"`
	// Reports counts the status reports received, by code ("good" for
	// good ones).
	Reports map[string]uint64 `json:"reports"`
	// Deliveries counts messages delivered to the attack's listeners.
	Deliveries uint64 `json:"deliveries"`
	// ReportLatency is the time from writing a message to its report.
	ReportLatency Percentiles `json:"report_latency"`
	// Errors counts failures on this side, by kind.
	Errors map[string]uint64 `json:"errors"`
	// Notes say what the attack found, for people.
	Notes []string `json:"notes,omitempty"`

	mu        sync.Mutex
	latencies *histogram
	firstErr  map[string]string
}

func newOutcome(name string) *Outcome {
	return &Outcome{Attack: name, Reports: map[string]uint64{}, Errors: map[string]uint64{},
		latencies: newHistogram(), firstErr: map[string]string{}}
}

func (o *Outcome) opened() {
	o.mu.Lock()
	o.Opened++
	o.mu.Unlock()
}

func (o *Outcome) sent() {
	o.mu.Lock()
	o.Sent++
	o.mu.Unlock()
}

func (o *Outcome) delivered() {
	o.mu.Lock()
	o.Deliveries++
	o.mu.Unlock()
}

// report counts one status report; code is empty for a good one, and
// took, when not zero, is how long it took.
func (o *Outcome) report(code string, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Reports[cmp(code, "good")]++
	if took > 0 {
		o.latencies.record(took)
	}
}

// note adds a finding for people.
func (o *Outcome) note(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Notes = append(o.Notes, fmt.Sprintf(format, args...))
}

// failed counts an error on this side, keeping the first of each kind
// for the notes.
func (o *Outcome) failed(what string, err error) {
	kind, _ := classify(err)
	key := what + ": " + kind
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Errors[key]++
	if _, ok := o.firstErr[key]; !ok {
		o.firstErr[key] = err.Error()
	}
}

// ended counts a connection that ended while the attack was still on:
// closed by the server, or failed.
func (o *Outcome) ended(ctx context.Context, err error) {
	switch {
	case ctx.Err() != nil:
	case closedByPeer(err):
		o.mu.Lock()
		o.ClosedByServer++
		o.mu.Unlock()
	default:
		o.failed("read", err)
	}
}

// finish sums up the latencies and the first errors.
func (o *Outcome) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ReportLatency = o.latencies.percentiles()
	for _, k := range slices.Sorted(maps.Keys(o.firstErr)) {
		o.Notes = append(o.Notes, fmt.Sprintf("first %s error: %s", k, o.firstErr[k]))
	}
}

// closedByPeer tells whether err means the other end closed the
// connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
