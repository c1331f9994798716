package actors

import (
	"testing"
	"time"

	"github.com/bester-project/bester/actors/config"
)

func TestRestartHistory(t *testing.T) {
	policy := config.Restart{MaxRestarts: 2, Window: time.Minute}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at          time.Duration // after t0
		forget      bool          // forgetRecent before recording
		wantRecent  int
		wantAllowed bool
	}
	for _, tc := range []struct {
		name      string
		steps     []step
		wantTotal int
	}{
		{"restarts up to max_restarts within the window are allowed", []step{
			{at: 0, wantRecent: 1, wantAllowed: true},
			{at: time.Second, wantRecent: 2, wantAllowed: true},
		}, 2},
		{"one more than max_restarts within the window is refused", []step{
			{at: 0, wantRecent: 1, wantAllowed: true},
			{at: time.Second, wantRecent: 2, wantAllowed: true},
			{at: 2 * time.Second, wantRecent: 3, wantAllowed: false},
		}, 3},
		{"restarts older than the window no longer count", []step{
			{at: 0, wantRecent: 1, wantAllowed: true},
			{at: time.Second, wantRecent: 2, wantAllowed: true},
			{at: time.Minute + 2*time.Second, wantRecent: 1, wantAllowed: true},
		}, 3},
		{"a restart exactly one window old still counts", []step{
			{at: 0, wantRecent: 1, wantAllowed: true},
			{at: 30 * time.Second, wantRecent: 2, wantAllowed: true},
			{at: time.Minute, wantRecent: 3, wantAllowed: false},
		}, 3},
		{"a retry after failing has all its restarts back, the total stays", []step{
			{at: 0, wantRecent: 1, wantAllowed: true},
			{at: time.Second, wantRecent: 2, wantAllowed: true},
			{at: 2 * time.Second, wantRecent: 3, wantAllowed: false},
			{at: 3 * time.Second, forget: true, wantRecent: 1, wantAllowed: true},
		}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h restartHistory
			for i, s := range tc.steps {
				if s.forget {
					h.forgetRecent()
				}
				recent, allowed := h.record(t0.Add(s.at), policy)
				if recent != s.wantRecent || allowed != s.wantAllowed {
					t.Errorf("restart %d at +%s: %d recent, allowed %v; want %d, %v",
						i+1, s.at, recent, allowed, s.wantRecent, s.wantAllowed)
				}
			}
			if h.total != tc.wantTotal {
				t.Errorf("total %d, want %d", h.total, tc.wantTotal)
			}
		})
	}
}

func TestRestartHistoryWithNoRestartsAllowedRefusesTheFirst(t *testing.T) {
	var h restartHistory
	if _, allowed := h.record(time.Now(), config.Restart{MaxRestarts: 0, Window: time.Minute}); allowed {
		t.Error("max_restarts 0 allowed a restart")
	}
}
