package fleetsim

import (
	"math"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// upperTail returns P[X > k] for X Poisson with the given mean, by
// summing the probabilities up to k.
func upperTail(mean float64, k int) float64 {
	p, cdf := math.Exp(-mean), 0.0
	for j := 0; j <= k; j++ {
		if j > 0 {
			p *= mean / float64(j)
		}
		cdf += p
	}
	return 1 - cdf
}

func TestPoissonQuantile(t *testing.T) {
	t.Parallel()
	for _, mean := range []float64{0.03, 0.3, 1, 3.17, 20} {
		for _, tail := range []float64{1e-3, 1e-6, 1e-9} {
			k := poissonQuantile(mean, tail)
			if upperTail(mean, k) >= tail || (k > int(mean) && upperTail(mean, k-1) < tail) {
				t.Errorf("poissonQuantile(%v, %v) = %d: P[X > k] = %v, P[X > k-1] = %v", mean, tail, k,
					upperTail(mean, k), upperTail(mean, k-1))
			}
		}
	}
	if got := poissonQuantile(0, 1e-6); got != 0 {
		t.Errorf("poissonQuantile(0, 1e-6) = %d, want 0", got)
	}
}

func TestBurstBound(t *testing.T) {
	t.Parallel()
	// A high mean: 3 × the mean is above shot noise.
	if got := burstBound(100, 86400); got != 300 {
		t.Errorf("burstBound(100, 86400) = %d, want 300", got)
	}
	// A low mean: shot noise, far below a whole fleet in one second.
	if got := burstBound(0.03, 86400); got < 3 || got > 10 {
		t.Errorf("burstBound(0.03, 86400) = %d, want a few requests", got)
	}
}

func TestRecorderStats(t *testing.T) {
	t.Parallel()
	rec := &recorder{start: time.Unix(0, 0)}
	at := func(sec int, n int) {
		for range n {
			rec.add(oauthtest.EndpointJWKS, rec.start.Add(time.Duration(sec)*time.Second+time.Second/2))
		}
	}
	at(0, 1)
	at(30, 5)
	at(89, 4) // 30..89 is one minute: 9
	at(90, 2) // 31..90 is another: 6
	st := rec.stats(oauthtest.EndpointJWKS, 0, 100*time.Second)
	want := Stats{Requests: 12, Seconds: 100, MeanPerSec: 0.12, PeakPerSec: 5, PeakPerMin: 9, PeakSecAt: 30 * time.Second}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	if st := rec.stats(oauthtest.EndpointJWKS, 31*time.Second, 200*time.Second); st.Requests != 6 || st.PeakPerMin != 6 {
		t.Errorf("stats from 31s = %+v, want 6 requests", st)
	}
	p50, p90 := rec.quantiles(oauthtest.EndpointJWKS, 0, 100*time.Second)
	if p50 != 31*time.Second || p90 != 91*time.Second {
		t.Errorf("quantiles = %v, %v; want 31s, 91s", p50, p90)
	}
}

func TestShort(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0", 70 * time.Second: "1m10s", 5 * time.Minute: "5m", 2 * time.Hour: "2h",
		2*time.Hour + 10*time.Minute: "2h10m", 25 * time.Hour: "25h",
	} {
		if got := short(d); got != want {
			t.Errorf("short(%v) = %q, want %q", d, got, want)
		}
	}
}
