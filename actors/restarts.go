package actors

import (
	"slices"
	"time"

	"github.com/bester-project/bester/actors/config"
)

// restartHistory is what a handler link remembers of its restarts: those
// within the restart window, which the restart limit counts and the
// backoff grows with, and how many there were since the server started,
// which the link's state shows.
type restartHistory struct {
	recent []time.Time
	total  int
}

// record counts a restart at now, forgets those more than policy.Window
// before it, and returns how many are left in the window and whether
// policy.MaxRestarts allows this one.
func (h *restartHistory) record(now time.Time, policy config.Restart) (recent int, allowed bool) {
	h.recent = slices.DeleteFunc(append(h.recent, now), func(t time.Time) bool { return now.Sub(t) > policy.Window })
	h.total++
	return len(h.recent), len(h.recent) <= policy.MaxRestarts
}

// forgetRecent empties the window, so that a failed handler tried again
// has all its restarts back; the total stays.
func (h *restartHistory) forgetRecent() { h.recent = nil }
