package redisstore

import (
	"testing"
	"time"
)

// TestMillis pins the rounding of a replay entry's lifetime for PX: Redis
// keeps entries in whole milliseconds, and an entry that expired even a
// millisecond before its proof's acceptance window closed would let that
// proof be replayed at the window's edge. An internal test: the lifetime
// Redis is given is not observable from outside without reading the
// server's clock, which moves while the test runs.
func TestMillis(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 1},
		{time.Nanosecond, 1},
		{time.Millisecond - time.Nanosecond, 1},
		{time.Millisecond, 1},
		{time.Millisecond + time.Nanosecond, 2},
		{2500 * time.Microsecond, 3},
		{5 * time.Minute, 300_000},
		{5*time.Minute + time.Nanosecond, 300_001},
	} {
		if got := millis(tc.d); got != tc.want {
			t.Errorf("millis(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
