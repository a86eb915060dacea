package fleetsim

import (
	"math"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// Stats is the load on one endpoint in a window of simulated time.
type Stats struct {
	Requests   int     // in the window
	Seconds    int     // the window's length
	MeanPerSec float64 // Requests / Seconds
	PeakPerSec int     // the busiest second
	PeakPerMin int     // the busiest 60 consecutive seconds
	PeakSecAt  time.Duration
}

// MeanPerMin is the mean number of requests per minute.
func (s Stats) MeanPerMin() float64 { return s.MeanPerSec * 60 }

func (rec *recorder) stats(e oauthtest.Endpoint, from, to time.Duration) Stats {
	lo, hi := int(from/time.Second), int(to/time.Second)
	rec.mu.Lock()
	bins := make([]int, hi-lo)
	for i := range bins {
		if j := lo + i; slot(e) >= 0 && j < len(rec.bins[slot(e)]) {
			bins[i] = int(rec.bins[slot(e)][j])
		}
	}
	rec.mu.Unlock()
	st := Stats{Seconds: len(bins)}
	window := 0
	for i, n := range bins {
		st.Requests += n
		if n > st.PeakPerSec {
			st.PeakPerSec, st.PeakSecAt = n, from+time.Duration(i)*time.Second
		}
		window += n
		if i >= 60 {
			window -= bins[i-60]
		}
		st.PeakPerMin = max(st.PeakPerMin, window)
	}
	if st.Seconds > 0 {
		st.MeanPerSec = float64(st.Requests) / float64(st.Seconds)
	}
	return st
}

// burstBound is the most requests one of bins bins may hold under the
// fleet's burst target, for a mean of mean requests per bin: 3 × mean, or,
// where that is below shot noise, the count that independent requests at
// that mean rate exceed in any of the bins with probability under 10⁻⁶.
//
// Replicas that refresh at independent random times send a Poisson
// number of requests in each second. With a mean of 0.03 requests per
// second (100 replicas, an hour's lifetime) one request is already 30 ×
// the mean, and among the 86 400 seconds of a day some hold several: no
// schedule can keep every second within 3 × such a mean. The bound is then
// what a perfectly spread fleet reaches, which lockstep refreshes (N
// requests in one second) exceed by orders of magnitude.
func burstBound(mean float64, bins int) int {
	return max(int(math.Floor(3*mean)), poissonQuantile(mean, 1e-6/float64(max(bins, 1))))
}

// poissonQuantile returns the smallest k with P[X > k] < tail for X
// Poisson-distributed with the given mean.
func poissonQuantile(mean, tail float64) int {
	if mean <= 0 {
		return 0
	}
	logPMF := func(k int) float64 {
		lg, _ := math.Lgamma(float64(k) + 1)
		return float64(k)*math.Log(mean) - mean - lg
	}
	for k := int(mean); ; k++ {
		var upper float64 // P[X > k]
		for j := k + 1; ; j++ {
			v := math.Exp(logPMF(j))
			upper += v
			if v <= upper*1e-12 {
				break
			}
		}
		if upper < tail {
			return k
		}
	}
}

// quantiles returns how long after from half and 90% of the requests to e
// in [from, to) had arrived, to the second.
func (rec *recorder) quantiles(e oauthtest.Endpoint, from, to time.Duration) (p50, p90 time.Duration) {
	st := rec.stats(e, from, to)
	lo := int(from / time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seen := 0
	for i := range st.Seconds {
		if j := lo + i; slot(e) >= 0 && j < len(rec.bins[slot(e)]) {
			seen += int(rec.bins[slot(e)][j])
		}
		at := time.Duration(i+1) * time.Second
		if p50 == 0 && 2*seen >= st.Requests {
			p50 = at
		}
		if 10*seen >= 9*st.Requests {
			return p50, at
		}
	}
	return p50, time.Duration(st.Seconds) * time.Second
}
