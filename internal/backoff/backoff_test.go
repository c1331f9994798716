package backoff

import (
	"testing"
	"time"
)

// TestDelay: attempt n waits between half and all of min(Max, Base·2ⁿ),
// also far past the point where the doubling would overflow.
func TestDelay(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	for _, tc := range []struct {
		n    int
		full time.Duration
	}{{0, 100 * time.Millisecond}, {1, 200 * time.Millisecond}, {3, 800 * time.Millisecond}, {4, time.Second}, {63, time.Second}, {1000, time.Second}} {
		for range 100 {
			if d := b.Delay(tc.n); d < tc.full/2 || d > tc.full {
				t.Fatalf("Delay(%d) = %v, want between %v and %v", tc.n, d, tc.full/2, tc.full)
			}
		}
	}
}
