package fleetsim

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
)

// The defaults of verify.RemoteKeySetConfig the scenarios rely on.
const (
	lifetime   = time.Hour        // the JWKS's max-age=3600, within [MinRefresh, MaxRefresh]
	minRefresh = time.Minute      // RemoteKeySetConfig.MinRefresh
	cooldown   = 30 * time.Second // RemoteKeySetConfig.UnknownKeyCooldown
	// meanRefresh is the mean time between two regular refreshes: the
	// middle of [80%, 95%] of the lifetime.
	meanRefresh = lifetime * 875 / 1000
)

// A Scenario is one experiment: a fleet of N replicas, and what happens to
// it.
type Scenario struct {
	Name string
	N    int
	// Play runs the scenario in the synctest bubble of t and adds what it
	// measured, and the targets it checked, to rep.
	Play func(t testing.TB, rep *Report)
}

// Sizes returns the fleet sizes simulated for a largest fleet of n: those
// of 100, 1 000 and 10 000 below n, and n.
func Sizes(n int) []int {
	var out []int
	for _, m := range []int{100, 1000, 10000} {
		if m < n {
			out = append(out, m)
		}
	}
	return append(out, n)
}

// Scenarios returns the scenarios of issue #20 for a largest fleet of n
// replicas: the steady state at every size of [Sizes], the others at n.
func Scenarios(n int) []Scenario {
	var out []Scenario
	for _, m := range Sizes(n) {
		out = append(out, Scenario{Name: "steady state, 24h", N: m, Play: func(t testing.TB, rep *Report) { steady(t, rep, m) }})
	}
	out = append(out,
		Scenario{Name: "steady state, no-store, 1h", N: n, Play: func(t testing.TB, rep *Report) { noStore(t, rep, n) }},
		Scenario{Name: "deploy storm", N: n, Play: func(t testing.TB, rep *Report) { deployStorm(t, rep, n) }},
		Scenario{Name: "rotation, key pre-published", N: n, Play: func(t testing.TB, rep *Report) { rotation(t, rep, n, true) }},
		Scenario{Name: "rotation, key not pre-published", N: n, Play: func(t testing.TB, rep *Report) { rotation(t, rep, n, false) }},
		Scenario{Name: "outage 5m", N: n, Play: func(t testing.TB, rep *Report) { outage(t, rep, n, 5*time.Minute) }},
		Scenario{Name: "outage 30m", N: n, Play: func(t testing.TB, rep *Report) { outage(t, rep, n, 30*time.Minute) }},
		Scenario{Name: "unknown-kid flood", N: n, Play: func(t testing.TB, rep *Report) { flood(t, rep, n) }},
	)
	for _, m := range Sizes(n) {
		out = append(out, Scenario{Name: "opaque tokens", N: m, Play: func(t testing.TB, rep *Report) { opaque(t, rep, m, false) }})
	}
	for _, m := range Sizes(n) {
		out = append(out, Scenario{Name: "opaque tokens, shared cache", N: m, Play: func(t testing.TB, rep *Report) { opaque(t, rep, m, true) }})
	}
	return out
}

// checkSpread checks the burst target on st: the busiest second within
// 3 × the mean (or shot noise, see burstBound), and likewise the busiest
// minute.
func checkSpread(rep *Report, name string, n int, st Stats, what string) {
	b := burstBound(st.MeanPerSec, st.Seconds)
	rep.check(name, n, st.PeakPerSec <= b, what+": peak per second ≤ 3 × mean (or shot noise)",
		"peak %d/s, mean %s/s, bound %d", st.PeakPerSec, num(st.MeanPerSec), b)
	bm := burstBound(st.MeanPerMin(), st.Seconds)
	rep.check(name, n, st.PeakPerMin <= bm, what+": peak per minute ≤ 3 × mean (or shot noise)",
		"peak %d/min, mean %s/min, bound %d", st.PeakPerMin, num(st.MeanPerMin()), bm)
}

// steady runs n replicas started by one deploy for 25h and measures the
// last 24h, with one call per replica every 5 minutes.
func steady(t testing.TB, rep *Report, n int) {
	const name = "steady state, 24h"
	s := New(t, Config{Replicas: n, Traffic: 5 * time.Minute, Seed: 1})
	s.RunUntil(25 * time.Hour)
	st := rep.load(name, n, oauthtest.EndpointJWKS, time.Hour, 25*time.Hour, s)
	want := float64(n) / meanRefresh.Seconds()
	rep.check(name, n, math.Abs(st.MeanPerSec-want) <= want/10, "JWKS mean ≈ N / (0.875 × lifetime), ±10%",
		"%s/s, formula %s/s", num(st.MeanPerSec), num(want))
	checkSpread(rep, name, n, st, "JWKS")
	rep.outcome(name, n, s, false)
}

// noStore runs n replicas for 1h against a JWKS sent with no-store, whose
// lifetime is therefore MinRefresh, and measures from 10m on.
func noStore(t testing.TB, rep *Report, n int) {
	const name = "steady state, no-store, 1h"
	s := New(t, Config{Replicas: n, CacheControl: "no-store", Traffic: 5 * time.Minute, Seed: 7})
	s.RunUntil(time.Hour)
	st := rep.load(name, n, oauthtest.EndpointJWKS, 10*time.Minute, time.Hour, s)
	want := float64(n) / (minRefresh * 875 / 1000).Seconds()
	rep.check(name, n, math.Abs(st.MeanPerSec-want) <= want/10, "JWKS mean ≈ N / (0.875 × MinRefresh), ±10%",
		"%s/s, formula %s/s", num(st.MeanPerSec), num(want))
	checkSpread(rep, name, n, st, "JWKS")
	rep.outcome(name, n, s, false)
}

// deployStorm starts n replicas within 10s and follows them for 4h.
func deployStorm(t testing.TB, rep *Report, n int) {
	const name = "deploy storm"
	s := New(t, Config{Replicas: n, Seed: 2})
	s.RunUntil(4 * time.Hour)
	md := rep.load(name, n, oauthtest.EndpointOAuthMetadata, 0, time.Minute, s)
	jw := rep.load(name, n, oauthtest.EndpointJWKS, 0, time.Minute, s)
	rep.check(name, n, md.Requests == n && jw.Requests == n, "start: one discovery and one JWKS fetch per replica",
		"%d metadata, %d JWKS requests", md.Requests, jw.Requests)
	after := rep.load(name, n, oauthtest.EndpointJWKS, time.Hour, 4*time.Hour, s)
	checkSpread(rep, name, n, after, "JWKS after the first hour")
	rep.outcome(name, n, s, false)
}

// rotation rotates the signing key at 3h, after pre-publishing the new key
// at 1h or not, with clients switching to the new key's tokens at once.
func rotation(t testing.TB, rep *Report, n int, prePublish bool) {
	name := "rotation, key not pre-published"
	if prePublish {
		name = "rotation, key pre-published"
	}
	const at = 3 * time.Hour
	s := New(t, Config{Replicas: n, Seed: 3})
	s.RunUntil(time.Hour)
	if prePublish {
		s.PublishNextKeys()
	}
	s.RunUntil(at)
	before := s.ReplicaRequests(oauthtest.EndpointJWKS)
	s.RotateKeys()
	s.RunUntil(at + 10*time.Minute)
	_, most := deltas(before, s.ReplicaRequests(oauthtest.EndpointJWKS))
	s.RunUntil(5 * time.Hour)
	rep.load(name, n, oauthtest.EndpointJWKS, at, at+10*time.Minute, s)
	after := rep.load(name, n, oauthtest.EndpointJWKS, at+10*time.Minute, 5*time.Hour, s)
	if prePublish {
		rep.check(name, n, most <= 1, "no fetch caused by the rotation (at most the regular refresh)",
			"JWKS requests per replica in the 10m after: at most %d", most)
	} else {
		rep.check(name, n, most <= 2, "one fetch per replica for the new key (plus at most the regular refresh)",
			"JWKS requests per replica in the 10m after: at most %d", most)
	}
	checkSpread(rep, name, n, after, "JWKS after the rotation")
	rep.outcome(name, n, s, false)
}

// outage takes the authorization server down for d at 2h, then follows the
// fleet for 2h after its recovery.
func outage(t testing.TB, rep *Report, n int, d time.Duration) {
	name := "outage " + short(d)
	const down = 2 * time.Hour
	up := down + d
	s := New(t, Config{Replicas: n, Seed: 4})
	s.RunUntil(down)
	setDown := func(f oauthtest.Fault) {
		for _, e := range []oauthtest.Endpoint{oauthtest.EndpointJWKS, oauthtest.EndpointOAuthMetadata, oauthtest.EndpointOpenIDConfiguration} {
			s.Issuer.SetFault(e, f)
		}
	}
	setDown(oauthtest.Fault{Down: true})
	before := s.ReplicaRequests(oauthtest.EndpointJWKS)
	s.RunUntil(up)
	setDown(oauthtest.Fault{})
	atUp := s.ReplicaRequests(oauthtest.EndpointJWKS)
	s.RunUntil(up + lifetime)
	least, _ := deltas(atUp, s.ReplicaRequests(oauthtest.EndpointJWKS))
	s.RunUntil(up + 2*time.Hour)
	during := rep.load(name, n, oauthtest.EndpointJWKS, down, up, s)
	rec := rep.load(name, n, oauthtest.EndpointJWKS, up, up+2*minRefresh, s)
	rep.load(name, n, oauthtest.EndpointJWKS, up+2*minRefresh, up+2*time.Hour, s)

	// While down, each replica whose refresh fell in the outage still
	// holds a usable set, so it backs off from MinRefresh up to the set's
	// lifetime: its first failure and the retries that fit in d even with
	// the shortest jitter. From 1s, as without a usable set, it would send
	// a few more; capped at MinRefresh, one per 30s to 1m.
	_, most := deltas(before, atUp)
	limit := 1 + maxRetries(d, minRefresh, lifetime)
	rep.check(name, n, most <= int64(limit), "while down: backoff from MinRefresh up to the lifetime, at most 1 + the retries that fit in the outage per replica",
		"JWKS requests per replica in %s: at most %d (limit %d; from 1s the limit would be %d, capped at MinRefresh %d)",
		short(d), most, limit, 1+maxRetries(d, time.Second, lifetime), 1+maxRetries(d, time.Second, minRefresh))
	// The recovery is no thundering herd. The replicas that had failed
	// are still backing off when the server comes back, each with a delay
	// of at least MinRefresh (drawn in its upper half), and the others
	// refresh as usual: the server, back, should see at most the steady
	// state plus those replicas spread evenly over one MinRefresh, not
	// all of them at once. (The mean while down is no reference: with
	// the backoff starting at MinRefresh it is mostly first failures,
	// the retries ramping up towards the end, so the recovery, which
	// continues the retry flow at its fullest, is busier than it on
	// average.)
	failed := grew(before, atUp)
	even := float64(n)/meanRefresh.Seconds() + float64(failed)/minRefresh.Seconds()
	b := burstBound(even, rec.Seconds)
	p50, p90 := s.rec.quantiles(oauthtest.EndpointJWKS, up, up+2*minRefresh)
	rep.check(name, n, rec.PeakPerSec <= b,
		"recovery: peak per second in the 2m after ≤ 3 × (steady state + the replicas that had failed spread over MinRefresh) (or shot noise)",
		"peak %d/s; %d replicas had failed: %s/s with the steady state's %s/s, bound %d; mean while down %s/s; half of the %d requests in the first %s, 90%% in %s",
		rec.PeakPerSec, failed, num(even), num(float64(n)/meanRefresh.Seconds()), b, num(during.MeanPerSec),
		rec.Requests, short(p50), short(p90))
	// And within the recovery, no burst either.
	br := burstBound(rec.MeanPerSec, rec.Seconds)
	rep.check(name, n, rec.PeakPerSec <= br, "recovery: peak per second in the 2m after ≤ 3 × their mean (or shot noise)",
		"peak %d/s, mean %s/s, bound %d", rec.PeakPerSec, num(rec.MeanPerSec), br)
	// No replica backs off beyond the lifetime: a key withdrawn during the
	// outage is dropped within one lifetime of the recovery, as in normal
	// operation.
	rep.check(name, n, least >= 1, "every replica fetches within one lifetime (1h) of the recovery",
		"JWKS requests per replica in the hour after: at least %d", least)
	after := s.Stats(oauthtest.EndpointJWKS, up+lifetime, up+2*time.Hour)
	checkSpread(rep, name, n, after, "JWKS from one lifetime after the recovery")
	rep.outcome(name, n, s, false)
}

// maxRetries returns how many retries after a first failure fit in d when
// every delay is the shortest the jitter draws, half the backoff: first
// doubling up to ceiling.
func maxRetries(d, first, ceiling time.Duration) int {
	var k int
	var elapsed time.Duration
	for delay := first; ; delay = min(2*delay, ceiling) {
		if elapsed += delay / 2; elapsed > d {
			return k
		}
		k++
	}
}

// flood sends every replica a token with a made-up kid every 5s for 10m.
func flood(t testing.TB, rep *Report, n int) {
	const name = "unknown-kid flood"
	const from, to = time.Hour, time.Hour + 10*time.Minute
	s := New(t, Config{Replicas: n, Seed: 5})
	s.RunUntil(from)
	before := s.ReplicaRequests(oauthtest.EndpointJWKS)
	s.Flood(5*time.Second, to)
	s.RunUntil(to)
	_, most := deltas(before, s.ReplicaRequests(oauthtest.EndpointJWKS))
	s.RunUntil(2 * time.Hour)
	rep.load(name, n, oauthtest.EndpointJWKS, from, to, s)
	limit := int((to-from)/cooldown) + 1
	rep.check(name, n, most <= int64(limit), "at most one fetch per replica per UnknownKeyCooldown",
		"JWKS requests per replica in 10m: at most %d (limit %d)", most, limit)
	// Every replica fetches for its first made-up kid, and again a plain
	// cooldown later: two waves in step, a cooldown apart. From then on
	// each cooldown is drawn in [1, 2] × UnknownKeyCooldown, so the waves
	// dissolve.
	spread := rep.load(name, n, oauthtest.EndpointJWKS, from+2*cooldown, to, s)
	b := burstBound(spread.MeanPerSec, spread.Seconds)
	rep.check(name, n, spread.PeakPerSec <= b, "from the third cooldown on: peak per second ≤ 3 × mean (or shot noise)",
		"peak %d/s, mean %s/s, bound %d", spread.PeakPerSec, num(spread.MeanPerSec), b)
	o := s.Outcome()
	rep.check(name, n, o.FloodRejected == o.Flood, "every made-up kid rejected", "%d of %d", o.FloodRejected, o.Flood)
	rep.outcome(name, n, s, false)
}

// opaque measures introspection requests for n replicas, each handling a
// call per second, as a function of the number of distinct tokens, with
// each replica's own cache only or with a cache the replicas share.
func opaque(t testing.TB, rep *Report, n int, shared bool) {
	name := "opaque tokens"
	if shared {
		name += ", shared cache"
	}
	const from, to = 10 * time.Second, 40 * time.Second
	const ttl = 5 * time.Second // IntrospectionConfig.CacheTTL
	for _, k := range []int{1, 10, 100, 1000} {
		s := New(t, Config{Replicas: n, Opaque: true, OpaqueTokens: k, Traffic: time.Second, Seed: 6, SharedCache: shared})
		s.RunUntil(to)
		st := s.Stats(oauthtest.EndpointIntrospection, from, to)
		rep.Opaque = append(rep.Opaque, OpaqueRow{N: n, Tokens: k, Calls: float64(n), Shared: shared, Stats: st})
		if shared {
			// The fleet asks about a token at most once per CacheTTL,
			// whatever its size.
			limit := int64(k) * int64((to-from)/ttl+1)
			rep.check(name, n, int64(st.Requests) <= limit, fmt.Sprintf("%d distinct: at most one introspection per token per CacheTTL for the fleet", k),
				"requests in %s: %d (limit %d)", short(to-from), st.Requests, limit)
		} else {
			// Each replica asks about a token at most once per CacheTTL,
			// and never more often than it is called.
			most := slices.Max(s.ReplicaRequests(oauthtest.EndpointIntrospection))
			limit := min(int64(to/time.Second), int64(k)*int64(to/ttl+1))
			rep.check(name, n, most <= limit, fmt.Sprintf("%d distinct: at most one introspection per token per replica per CacheTTL", k),
				"requests per replica in %s: at most %d (limit %d)", short(to), most, limit)
		}
		rep.outcome(fmt.Sprintf("%s (%d distinct)", name, k), n, s, false)
		s.Close()
	}
}

// grew returns how many counters grew between two readings.
func grew(before, after []int64) int {
	var k int
	for i := range after {
		if after[i] > before[i] {
			k++
		}
	}
	return k
}

// deltas returns the smallest and the largest growth of a counter between
// two readings.
func deltas(before, after []int64) (least, most int64) {
	least = math.MaxInt64
	for i := range after {
		least, most = min(least, after[i]-before[i]), max(most, after[i]-before[i])
	}
	return least, most
}
