// Package logthrottle keeps repeated log lines from drowning a log: a
// stranger who opens thousands of bad connections a second would otherwise
// write a megabyte of warnings a second. Lines are grouped by kind, their
// message text: the first few of a kind in each period are written, the
// rest are counted, and one line at the end of the period says how many
// were left out.
package logthrottle

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// maxKinds bounds the kinds a Throttle remembers. Messages are constant
// texts, so a server has a few dozen; lines of kinds beyond the bound are
// throttled together as one.
const maxKinds = 256

// overflowKind is the kind of lines whose own kind found no room.
const overflowKind = ""

// Throttle limits each kind of line to Burst lines per Period. It is safe
// for concurrent use; Stop writes what is still counted.
type Throttle struct {
	burst   int
	period  time.Duration
	mu      sync.Mutex
	kinds   map[string]*kind
	stopped bool
}

// kind is one message's lines in the current period.
type kind struct {
	start      time.Time
	written    int
	suppressed int
	// log and level are those of the last suppressed line: the summary
	// goes where it would have gone.
	log   hclog.Logger
	level hclog.Level
	timer *time.Timer // writes the summary at the end of the period
}

// New returns a Throttle that writes burst lines of a kind per period.
func New(burst int, period time.Duration) *Throttle {
	return &Throttle{burst: burst, period: period, kinds: make(map[string]*kind)}
}

// Warn writes msg at warn level on l, unless too many lines of msg were
// written in this period.
func (t *Throttle) Warn(l hclog.Logger, msg string, args ...any) { t.Log(l, hclog.Warn, msg, args...) }

// Error writes msg at error level on l, unless too many lines of msg were
// written in this period.
func (t *Throttle) Error(l hclog.Logger, msg string, args ...any) {
	t.Log(l, hclog.Error, msg, args...)
}

// Log writes msg at level on l, or counts it when Burst lines of msg were
// written in this period already.
func (t *Throttle) Log(l hclog.Logger, level hclog.Level, msg string, args ...any) {
	if level < l.GetLevel() {
		return
	}
	if t.admit(l, level, msg) {
		l.Log(level, msg, args...)
	}
}

// admit says whether a line of msg may be written now, and counts it when
// not.
func (t *Throttle) admit(l hclog.Logger, level hclog.Level, msg string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return true
	}
	now := time.Now()
	key := t.room(msg, now)
	k := t.kinds[key]
	if k == nil {
		k = &kind{start: now}
		t.kinds[key] = k
	}
	if k.timer == nil && now.Sub(k.start) >= t.period {
		k.start, k.written = now, 0
	}
	if k.written < t.burst {
		k.written++
		return true
	}
	k.suppressed++
	k.log, k.level = l, level
	if k.timer == nil {
		k.timer = time.AfterFunc(k.start.Add(t.period).Sub(now), func() { t.flush(key) })
	}
	return false
}

// room returns the key to count msg under: msg itself, or overflowKind
// when the table is full even after dropping the kinds that are quiet.
// The lock is held.
func (t *Throttle) room(msg string, now time.Time) string {
	if _, ok := t.kinds[msg]; ok || len(t.kinds) < maxKinds {
		return msg
	}
	for key, k := range t.kinds {
		if k.timer == nil && now.Sub(k.start) >= t.period {
			delete(t.kinds, key)
		}
	}
	if len(t.kinds) < maxKinds {
		return msg
	}
	return overflowKind
}

// flush ends the period of key and writes how many of its lines it left
// out.
func (t *Throttle) flush(key string) {
	t.mu.Lock()
	k := t.kinds[key]
	sum := t.summary(key, k)
	k.start, k.written, k.suppressed, k.timer, k.log = time.Now(), 0, 0, nil, nil
	t.mu.Unlock()
	sum()
}

// summary returns what writes the line that says how many lines of key
// were left out, to be called without the lock. The lock is held.
func (t *Throttle) summary(key string, k *kind) func() {
	what, n, l, level := key, k.suppressed, k.log, k.level
	if key == overflowKind {
		what = "lines of other kinds"
	}
	return func() {
		if n > 0 {
			l.Log(level, fmt.Sprintf("%s (%d similar lines suppressed in the last %s)", what, n, t.period))
		}
	}
}

// Stop writes the counts of lines left out so far and ends the timers;
// lines logged afterwards are written as they come.
func (t *Throttle) Stop() {
	t.mu.Lock()
	t.stopped = true
	var sums []func()
	for key, k := range t.kinds {
		if k.timer != nil && k.timer.Stop() {
			sums = append(sums, t.summary(key, k))
		}
	}
	t.mu.Unlock()
	for _, sum := range sums {
		sum()
	}
}
