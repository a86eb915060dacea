package main

import (
	"math"
	"testing"
	"time"

	"github.com/bojand/ghz/load"
	"github.com/bojand/ghz/runner"
)

func TestStatsPercentiles(t *testing.T) {
	t.Parallel()
	var s stats
	for i := 1; i <= 1000; i++ {
		s.addCall(runner.ResultDetail{Latency: time.Duration(i) * time.Millisecond, Status: "OK"})
	}
	s.addCall(runner.ResultDetail{Latency: time.Second, Status: "Unavailable", Error: "down"})
	for p, want := range map[float64]time.Duration{0.5: 501 * time.Millisecond, 0.99: 991 * time.Millisecond, 1: 1000 * time.Millisecond} {
		if got := s.pct(p); got != want {
			t.Errorf("pct(%v) = %v, want %v", p, got, want)
		}
	}
	if s.calls != 1001 || s.failed != 1 || s.failures() != "1 Unavailable" {
		t.Errorf("calls, failed, failures() = %d, %d, %q; want 1001, 1, %q", s.calls, s.failed, s.failures(), "1 Unavailable")
	}
}

func TestRoundRatio(t *testing.T) {
	t.Parallel()
	base := &stats{rounds: []float64{100, 100, 100}, p99s: []time.Duration{10, 10, 10}}
	s := &stats{rounds: []float64{90, 200, 95}, p99s: []time.Duration{9, 50, 11}}
	if got := s.roundRatio(base); got != 0.95 {
		t.Errorf("roundRatio() = %v, want 0.95 (the median ignores the outlier)", got)
	}
	if got := s.p99Ratio(base); math.Abs(got-1.1) > 1e-9 {
		t.Errorf("p99Ratio() = %v, want 1.1", got)
	}
}

func TestVerifyGoroutines(t *testing.T) {
	t.Parallel()
	profile := "goroutine profile: total 12\n" +
		"8 @ 0x1 0x2\n#\t0x1\tgithub.com/oauthgate/oauthgate/verify.(*RemoteKeySet).keysSlow+0x1\t/x/remote.go:1\n\n" +
		"3 @ 0x3\n#\t0x3\tgoogle.golang.org/grpc.(*Server).serveStreams+0x1\t/x/server.go:1\n\n" +
		"1 @ 0x4\n#\t0x4\tgithub.com/oauthgate/oauthgate/verify.(*RemoteKeySet).loop+0x1\t/x/remote.go:2\n"
	if got := verifyGoroutines(profile); got != 9 {
		t.Errorf("verifyGoroutines() = %d, want 9", got)
	}
}

// TestWorkerTickerFinishFirst is the race that ghz's own ticker loses:
// Finish before Run must not make Run panic or block.
func TestWorkerTickerFinishFirst(t *testing.T) {
	t.Parallel()
	wt := &workerTicker{c: make(chan load.TickValue), n: 4}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range wt.Ticker() {
		}
	}()
	wt.Finish()
	wt.Run()
	<-done
}
