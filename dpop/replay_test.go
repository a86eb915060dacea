package dpop

import (
	"testing"
	"time"
)

// TestReplayCache_NoAllocs: once its maps have grown, a lookup and insert
// allocates nothing (issue 14's target for the replay cache).
func TestReplayCache_NoAllocs(t *testing.T) {
	c := newReplayCache(1<<16, 1<<16, time.Minute)
	now := time.Unix(1_800_000_000, 0)
	i := 0
	const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	next := func() {
		i++
		k := replayKey(jkt, string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676%26)))
		c.record(jkt, k, now)
	}
	for range 20000 { // warm the maps up
		next()
	}
	if got := testing.AllocsPerRun(1000, next); got != 0 {
		t.Errorf("replay cache lookup allocations = %v, want 0", got)
	}
}

// BenchmarkReplayCache is one replay-cache lookup and insert.
func BenchmarkReplayCache(b *testing.B) {
	c := newReplayCache(1<<20, 1<<20, time.Minute)
	now := time.Unix(1_800_000_000, 0)
	var k [32]byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k[0], k[1], k[2], k[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		c.record("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", k, now)
	}
}
