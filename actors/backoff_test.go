package actors

import (
	"testing"
	"time"
)

// Every delay lies between half and all of min(max, base·2ⁿ), whatever the
// jitter draws: it grows, it is capped, and it never overflows into a spin.
func TestBackoffDelayBounds(t *testing.T) {
	b := backoff{base: 10 * time.Millisecond, max: time.Second}
	for _, tc := range []struct {
		name    string
		b       backoff
		attempt int
		ceiling time.Duration
	}{
		{"the first attempt waits about base", b, 0, 10 * time.Millisecond},
		{"each attempt doubles the delay", b, 3, 80 * time.Millisecond},
		{"the delay is capped at max", b, 7, time.Second},
		{"an attempt past the shift range waits max", b, 40, time.Second},
		{"a delay past the range of a Duration waits max", backoff{base: time.Hour, max: 2 * time.Hour}, 29, 2 * time.Hour},
		{"a delay that wraps around int64 waits max", backoff{base: 1<<40 + 1, max: 1 << 41}, 24, 1 << 41},
		{"a zero base waits max rather than spin", backoff{max: time.Second}, 0, time.Second},
		{"a base above max waits max", backoff{base: time.Minute, max: time.Second}, 0, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 500 {
				d := tc.b.delay(tc.attempt)
				if d < tc.ceiling/2 || d > tc.ceiling {
					t.Fatalf("delay(%d) = %s, want within [%s, %s]", tc.attempt, d, tc.ceiling/2, tc.ceiling)
				}
			}
		})
	}
}

// Jitter spreads links that restart together: the same attempt does not
// always wait the same.
func TestBackoffDelayIsJittered(t *testing.T) {
	b := backoff{base: time.Second, max: time.Minute}
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[b.delay(2)] = true
	}
	if len(seen) < 2 {
		t.Errorf("100 delays of one attempt were all %v", seen)
	}
}
