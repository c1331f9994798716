package backoff

import (
	"testing"
	"time"
)

// Every delay lies between half and all of min(max, base·2ⁿ), whatever the
// jitter draws: it grows, it is capped, and it never overflows into a spin.
func TestBackoffDelayBounds(t *testing.T) {
	b := Backoff{Base: 10 * time.Millisecond, Max: time.Second}
	for _, tc := range []struct {
		name    string
		b       Backoff
		attempt int
		ceiling time.Duration
	}{
		{"the first attempt waits about base", b, 0, 10 * time.Millisecond},
		{"each attempt doubles the delay", b, 3, 80 * time.Millisecond},
		{"the delay is capped at max", b, 7, time.Second},
		{"an attempt past the shift range waits max", b, 40, time.Second},
		{"a delay past the range of a Duration waits max", Backoff{Base: time.Hour, Max: 2 * time.Hour}, 29, 2 * time.Hour},
		{"a delay that wraps around int64 waits max", Backoff{Base: 1<<40 + 1, Max: 1 << 41}, 24, 1 << 41},
		{"a zero base waits max rather than spin", Backoff{Max: time.Second}, 0, time.Second},
		{"a base above max waits max", Backoff{Base: time.Minute, Max: time.Second}, 0, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 500 {
				d := tc.b.Delay(tc.attempt)
				if d < tc.ceiling/2 || d > tc.ceiling {
					t.Fatalf("Delay(%d) = %s, want within [%s, %s]", tc.attempt, d, tc.ceiling/2, tc.ceiling)
				}
			}
		})
	}
}

// Jitter spreads links that restart together: the same attempt does not
// always wait the same.
func TestBackoffDelayIsJittered(t *testing.T) {
	b := Backoff{Base: time.Second, Max: time.Minute}
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[b.Delay(2)] = true
	}
	if len(seen) < 2 {
		t.Errorf("100 delays of one attempt were all %v", seen)
	}
}
