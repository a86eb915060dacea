package verify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Names of the key set's OpenTelemetry instruments. Their attributes name
// the key set by its configured URL or issuer (configuration, never from a
// token) and the result of a fetch; nothing else.
const (
	meterName = "github.com/oauthgate/oauthgate/verify"

	metricKeySetFetches   = "oauthgate.jwks.fetches"
	metricKeySetDemand    = "oauthgate.jwks.unknown_kid_fetches"
	metricKeySetCooldown  = "oauthgate.jwks.cooldown_rejections"
	metricKeySetKeys      = "oauthgate.jwks.keys"
	metricKeySetAge       = "oauthgate.jwks.age"
	metricKeySetUntilStal = "oauthgate.jwks.time_to_stale"

	keyKeySet      = "oauthgate.key_set"
	keyFetchResult = keyResult
)

// Results of a key set fetch, the oauthgate.result attribute.
const (
	fetchOK      = "ok"
	fetchTimeout = "timeout"
	fetchStatus  = "http_status"
	fetchOther   = "error"
)

// keySetMetrics are the instruments of one RemoteKeySet. The zero value
// (nil pointer) records nothing.
type keySetMetrics struct {
	fetches  metric.Int64Counter
	demand   metric.Int64Counter
	cooldown metric.Int64Counter
	set      attribute.Set
	// results holds the options of each fetch result, built once.
	results map[string][]metric.AddOption
	reg     metric.Registration
}

// instrument creates r's instruments from r.cfg.MeterProvider.
func (r *RemoteKeySet) instrument() error {
	mp := r.cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(meterName)
	name := r.cfg.URL
	if name == "" {
		name = r.cfg.Issuer
	}
	m := &keySetMetrics{set: attribute.NewSet(attribute.String(keyKeySet, name)), results: map[string][]metric.AddOption{}}
	var errs []error
	counter := func(n, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(n, metric.WithUnit("{fetch}"), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	m.fetches = counter(metricKeySetFetches, "Fetches of the JWKS by result.")
	m.demand = counter(metricKeySetDemand, "Fetches of the JWKS caused by a token whose kid the set lacked, or by no usable set.")
	m.cooldown = counter(metricKeySetCooldown, "Fetches refused because the unknown-kid cooldown had not passed.")
	keys, err := meter.Int64ObservableGauge(metricKeySetKeys, metric.WithUnit("{key}"),
		metric.WithDescription("Usable keys in the current key set."))
	errs = append(errs, err)
	age, err := meter.Float64ObservableGauge(metricKeySetAge, metric.WithUnit("s"),
		metric.WithDescription("Time since the current key set was fetched."))
	errs = append(errs, err)
	untilStale, err := meter.Float64ObservableGauge(metricKeySetUntilStal, metric.WithUnit("s"),
		metric.WithDescription("Time until the current key set is older than MaxStale and unusable; negative once it is."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("verify: RemoteKeySetConfig.MeterProvider: %w", err)
	}
	for _, res := range []string{fetchOK, fetchTimeout, fetchStatus, fetchOther} {
		m.results[res] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String(keyKeySet, name), attribute.String(keyFetchResult, res)))}
	}
	opt := metric.WithAttributeSet(m.set)
	m.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := r.snap.Load()
		if s == nil {
			return nil // nothing fetched yet: no value rather than a false one
		}
		now := r.cfg.Now()
		o.ObserveInt64(keys, int64(len(s.keys.all)), opt)
		// A snapshot fetched at t has staleAt t + MaxStale.
		o.ObserveFloat64(age, now.Sub(s.staleAt.Add(-r.cfg.MaxStale)).Seconds(), opt)
		o.ObserveFloat64(untilStale, s.staleAt.Sub(now).Seconds(), opt)
		return nil
	}, keys, age, untilStale)
	if err != nil {
		return fmt.Errorf("verify: RemoteKeySetConfig.MeterProvider: %w", err)
	}
	r.metrics = m
	return nil
}

// fetched records the end of a fetch.
func (m *keySetMetrics) fetched(err error) {
	if m == nil {
		return
	}
	m.fetches.Add(context.Background(), 1, m.results[fetchResult(err)]...)
}

// demanded records a fetch started by Keys.
func (m *keySetMetrics) demanded() {
	if m != nil {
		m.demand.Add(context.Background(), 1, metric.WithAttributeSet(m.set))
	}
}

// cooledDown records a fetch refused by the cooldown.
func (m *keySetMetrics) cooledDown() {
	if m != nil {
		m.cooldown.Add(context.Background(), 1, metric.WithAttributeSet(m.set))
	}
}

// close unregisters the observable gauges.
func (m *keySetMetrics) close() {
	if m != nil && m.reg != nil {
		_ = m.reg.Unregister()
	}
}

// fetchResult classifies the error of a fetch.
func fetchResult(err error) string {
	var ne net.Error
	var se *statusError
	switch {
	case err == nil:
		return fetchOK
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fetchTimeout
	case errors.As(err, &se):
		return fetchStatus
	default:
		return fetchOther
	}
}

// Names of the verified-token cache's and the introspection cache's
// instruments; oauthgate.cache says which ("jwt" or "introspection").
const (
	metricCacheHits      = "oauthgate.cache.hits"
	metricCacheMisses    = "oauthgate.cache.misses"
	metricCacheEvictions = "oauthgate.cache.evictions"
	metricCacheEntries   = "oauthgate.cache.entries"
	metricCacheBytes     = "oauthgate.cache.bytes"

	keyCache = "oauthgate.cache"
)

// cacheUsage is what the cache gauges read: a tokencache.Cache.
type cacheUsage interface {
	Usage() (entries int, bytes int64)
	Evictions() uint64
}

// cacheMetrics counts the lookups of one cache, which observable counters
// report at collection: a lookup is on every call's path, so it costs an
// atomic add rather than a synchronous measurement. The nil pointer records
// nothing.
type cacheMetrics struct {
	hits, misses atomic.Int64
}

// newCacheMetrics creates the instruments of cache c, named name, from mp.
// The observable instruments stay registered for the life of mp: the
// verifiers have no Close.
func newCacheMetrics(mp metric.MeterProvider, field, name string, c cacheUsage) (*cacheMetrics, error) {
	meter := mp.Meter(meterName)
	set := attribute.NewSet(attribute.String(keyCache, name))
	m := &cacheMetrics{}
	var errs []error
	hits, err := meter.Int64ObservableCounter(metricCacheHits, metric.WithUnit("{lookup}"),
		metric.WithDescription("Verifications answered from the cache."))
	errs = append(errs, err)
	misses, err := meter.Int64ObservableCounter(metricCacheMisses, metric.WithUnit("{lookup}"),
		metric.WithDescription("Verifications the cache could not answer."))
	errs = append(errs, err)
	evictions, err := meter.Int64ObservableCounter(metricCacheEvictions, metric.WithUnit("{entry}"),
		metric.WithDescription("Entries dropped to make room for others."))
	errs = append(errs, err)
	entries, err := meter.Int64ObservableGauge(metricCacheEntries, metric.WithUnit("{entry}"),
		metric.WithDescription("Entries held, live or expired."))
	errs = append(errs, err)
	bytes, err := meter.Int64ObservableGauge(metricCacheBytes, metric.WithUnit("By"),
		metric.WithDescription("Bytes held, by the cache's own accounting (0 for the introspection cache, which has no byte budget)."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("verify: %s: %w", field, err)
	}
	opt := metric.WithAttributeSet(set)
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		n, b := c.Usage()
		o.ObserveInt64(entries, int64(n), opt)
		o.ObserveInt64(bytes, b, opt)
		o.ObserveInt64(evictions, int64(c.Evictions()), opt) //nolint:gosec // G115: a count of evictions never reaches 2^63
		o.ObserveInt64(hits, m.hits.Load(), opt)
		o.ObserveInt64(misses, m.misses.Load(), opt)
		return nil
	}, evictions, entries, bytes, hits, misses)
	if err != nil {
		return nil, fmt.Errorf("verify: %s: %w", field, err)
	}
	return m, nil
}

// lookup records a cache hit or miss.
func (m *cacheMetrics) lookup(hit bool) {
	switch {
	case m == nil:
	case hit:
		m.hits.Add(1)
	default:
		m.misses.Add(1)
	}
}

// Names of the introspection request instruments.
const (
	metricIntrospectRequests = "oauthgate.introspection.requests"
	metricIntrospectDuration = "oauthgate.introspection.duration"
)

// Results of an introspection request, beyond those of a fetch.
const (
	introspectActive   = "active"
	introspectInactive = "inactive"
)

// introspectBuckets are the boundaries, in seconds, of the introspection
// request histogram: a local endpoint answers in a millisecond, the
// default Timeout is seconds. Static data, never modified.
var introspectBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// requestMetrics are the instruments of an Introspection's requests. The
// nil pointer records nothing.
type requestMetrics struct {
	requests metric.Int64Counter
	duration metric.Float64Histogram
	add      map[string][]metric.AddOption
	record   map[string][]metric.RecordOption
}

func newRequestMetrics(mp metric.MeterProvider) (*requestMetrics, error) {
	meter := mp.Meter(meterName)
	requests, err1 := meter.Int64Counter(metricIntrospectRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Introspection requests by result: active, inactive (the token is rejected), or why the endpoint could not answer."))
	duration, err2 := meter.Float64Histogram(metricIntrospectDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of introspection requests, by result."),
		metric.WithExplicitBucketBoundaries(introspectBuckets...))
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("verify: IntrospectionConfig.MeterProvider: %w", err)
	}
	m := &requestMetrics{requests: requests, duration: duration,
		add: map[string][]metric.AddOption{}, record: map[string][]metric.RecordOption{}}
	for _, r := range []string{introspectActive, introspectInactive, fetchTimeout, fetchStatus, fetchOther} {
		set := attribute.NewSet(attribute.String(keyFetchResult, r))
		m.add[r] = []metric.AddOption{metric.WithAttributeSet(set)}
		m.record[r] = []metric.RecordOption{metric.WithAttributeSet(set)}
	}
	return m, nil
}

// introspectTimed is introspect, measured. Probes count as requests.
func (i *Introspection) introspectTimed(ctx context.Context, token string, probe bool) (introspected, time.Duration, error) {
	m := i.requests
	if m == nil {
		return i.introspect(ctx, token, probe)
	}
	start := time.Now() // a duration, not a validity check: the real clock
	r, ttl, err := i.introspect(ctx, token, probe)
	res := introspectActive
	switch {
	case err != nil:
		res = fetchResult(err)
	case r.err != nil:
		res = introspectInactive
	}
	m.requests.Add(ctx, 1, m.add[res]...)
	m.duration.Record(ctx, time.Since(start).Seconds(), m.record[res]...)
	return r, ttl, err
}

// Names of the verification duration histogram and its attributes, which
// JWT and Introspection record: the verifier's kind, the result and
// whether the cache answered. No attribute carries a token or a claim.
const (
	metricVerify = "oauthgate.verification.duration"

	keyVerifier = "oauthgate.verifier"
	keyResult   = "oauthgate.result"
	keyCacheHit = "oauthgate.cache_hit"
)

// verifyBuckets are the boundaries, in seconds, of the verification
// duration histogram: a cached JWT takes about a microsecond, an
// introspection request up to the HTTP timeout. Static data, never
// modified.
var verifyBuckets = []float64{
	1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
	1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
}

// Results of a verification, the oauthgate.result attribute of the
// verification duration, as indexes of verifyResults.
const (
	resultOK = iota
	resultInvalid
	resultUnavailable
	resultError
	numResults
)

// verifyResults are the values of oauthgate.result. Static data, never
// modified.
var verifyResults = [numResults]string{"ok", "invalid_token", "unavailable", "error"}

// cacheHitSampling is how many cache hits one timed hit stands for: 1 in
// cacheHitSampling verifications answered from a cache is recorded in the
// verification duration histogram (uniformly at random), every other
// verification always is. A cache hit takes about a microsecond and a
// histogram measurement with an SDK costs a few hundred nanoseconds, so
// recording every hit would make the metrics the most expensive part of a
// cached call; sampled hits still give the distribution, and
// oauthgate.cache.hits gives the count.
const cacheHitSampling = 64

// verifyTiming records the verification duration of one verifier, and
// sets oauthgate.cache_hit on the caller's span. The nil pointer records
// nothing.
type verifyTiming struct {
	hist metric.Float64Histogram
	// opts holds the options of a verification by cache hit (0 or 1) and
	// result, built once.
	opts [2][numResults][]metric.RecordOption
	// sampled reports whether to time a cache hit.
	sampled func() bool
}

// newVerifyTiming creates the histogram of a verifier of kind ("jwt",
// "introspection") from mp, or from the global provider when mp is nil.
func newVerifyTiming(mp metric.MeterProvider, field, kind string) (*verifyTiming, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	hist, err := mp.Meter(meterName).Float64Histogram(metricVerify, metric.WithUnit("s"),
		metric.WithDescription("Duration of token verification, by verifier kind, result and cache hit; cache hits are sampled 1 in 64."),
		metric.WithExplicitBucketBoundaries(verifyBuckets...))
	if err != nil {
		return nil, fmt.Errorf("verify: %s: %s: %w", field, metricVerify, err)
	}
	t := &verifyTiming{hist: hist, sampled: func() bool { return rand.Uint32()%cacheHitSampling == 0 }}
	k := attribute.String(keyVerifier, kind)
	for hit := range 2 {
		for r, result := range verifyResults {
			t.opts[hit][r] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(k,
				attribute.String(keyResult, result), attribute.Bool(keyCacheHit, hit == 1)))}
		}
	}
	return t, nil
}

// begin returns the start of a verification, and whether it is timed at
// all (an SDK is listening).
func (t *verifyTiming) begin(ctx context.Context) (time.Time, bool) {
	if t == nil || !t.hist.Enabled(ctx) {
		return time.Time{}, false
	}
	return time.Now(), true // a duration, not a validity check: the real clock
}

// end records a verification that began at start, if timed, answered
// from the cache if hit with err, and marks the caller's span.
func (t *verifyTiming) end(ctx context.Context, start time.Time, timed, hit bool, err error) {
	if timed && (!hit || t.sampled()) {
		h := 0
		if hit {
			h = 1
		}
		t.hist.Record(ctx, time.Since(start).Seconds(), t.opts[h][verifyResult(err)]...)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.Bool(keyCacheHit, hit))
	}
}

// verifyResult classifies a verification's error for its duration.
func verifyResult(err error) int {
	switch {
	case err == nil:
		return resultOK
	case errors.Is(err, ErrInvalidToken):
		return resultInvalid
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return resultUnavailable
	default:
		return resultError
	}
}
