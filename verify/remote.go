package verify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/internal/flight"
)

// Defaults of [RemoteKeySetConfig].
const (
	defaultRemoteTimeout      = 5 * time.Second
	defaultMaxResponseSize    = 1 << 20
	defaultMinRefresh         = time.Minute
	defaultMaxRefresh         = time.Hour
	defaultUnknownKeyCooldown = 30 * time.Second
	defaultMaxStale           = 24 * time.Hour
	// maxBackoffBase is the first retry delay after a failed fetch; it
	// doubles per consecutive failure up to MinRefresh.
	maxBackoffBase = time.Second
)

// Refresh windows, in percent of a key set's lifetime: when, after a good
// fetch, the background refresh is due (see refreshDelay).
const (
	// A regular refresh, one that followed the previous regular schedule,
	// schedules the next one in [80%, 95%]: late enough to cost few
	// requests, early enough to finish before the lifetime ends.
	regularRefreshFrom = 80
	// Any other good fetch (the first, one caused by Keys, the first
	// after failures) may have happened at the same moment on every
	// replica of a fleet (a deploy, a key rotation, the end of an outage):
	// its refresh is spread over [25%, 95%] so that the fleet's
	// refreshes are uniform again from the next cycle on.
	spreadRefreshFrom = 25
	refreshUntil      = 95
)

// RemoteKeySetConfig configures a [RemoteKeySet]. Exactly one of URL and
// Issuer must be set. It must not be modified after it is passed to
// [NewRemoteKeySet].
type RemoteKeySetConfig struct {
	// URL is the jwks_uri of the authorization server. It must be an https
	// URL (see InsecureAllowHTTP).
	URL string
	// Issuer, as an alternative to URL, is the issuer identifier (an https
	// URL) whose jwks_uri is found with [Discover] on the first fetch. The
	// discovered jwks_uri is kept for the life of the key set.
	Issuer string
	// HTTPClient makes the requests. If nil, a client with the Timeout
	// below is used; http.DefaultClient, which has no timeout, never is.
	// Whatever the client, a redirect to a URL the policy forbids (see
	// InsecureAllowHTTP) is refused, and a response must have a JSON
	// content type (application/json or a +json type such as
	// application/jwk-set+json). The client is copied, not modified.
	HTTPClient *http.Client
	// Timeout bounds each HTTP request (each discovery request and the
	// JWKS request separately). The default is 5s.
	Timeout time.Duration
	// MaxResponseSize caps the body of each response; a larger body is a
	// failed fetch. The default, and the largest value allowed, is 1 MiB.
	MaxResponseSize int64
	// MinRefresh and MaxRefresh clamp the lifetime the server announces with
	// Cache-Control max-age or Expires (RFC 9111 §5.2.2.1, §5.3). A response
	// with neither, or with no-store or no-cache, gets MaxRefresh or
	// MinRefresh respectively. The set is refreshed in the background at a
	// random point between 80% and 95% of the lifetime after a regular
	// refresh, and between 25% and 95% after any other fetch (see
	// [RemoteKeySet], "Load on the authorization server"). MinRefresh also
	// caps the retry delay after a failed fetch. The defaults are 1m and 1h.
	MinRefresh, MaxRefresh time.Duration
	// UnknownKeyCooldown is the minimum time between two fetches caused by
	// Keys calls: a kid missing from the set, or no usable set at all. It
	// bounds the load that tokens with made-up kids can put on the
	// authorization server to one request per cooldown. The default is 30s.
	UnknownKeyCooldown time.Duration
	// MaxStale is how long after it was fetched a key set is still served
	// while refreshes fail (stale-if-error). After that, Keys fails with
	// [ErrUnavailable]. It must be at least MaxRefresh. The default, 24h,
	// rides out a long authorization server outage (tokens keep being
	// verified with the keys that signed them) yet bounds how long keys
	// the server may have withdrawn stay trusted while it is unreachable.
	MaxStale time.Duration
	// InsecureAllowHTTP permits http:// URLs (URL, Issuer and discovered
	// jwks_uri) whose host is "localhost" or a loopback IP address, for
	// tests and local development. Other hosts always need https.
	InsecureAllowHTTP bool
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
}

// A RemoteKeySet is a [KeySet] that fetches a JWKS document (RFC 7517 §5)
// over HTTPS and keeps it fresh.
//
// # Lifecycle
//
// [NewRemoteKeySet] does no network I/O. The first call to Keys or
// [RemoteKeySet.WaitReady] starts a background goroutine that fetches the
// set and refreshes it before its announced lifetime ends, retrying with
// jittered exponential backoff after failures. [RemoteKeySet.Close] stops
// it; a RemoteKeySet must be closed when no longer needed.
//
// # Keys
//
// Each fetched set is an immutable snapshot, swapped atomically; Keys for a
// kid in the current snapshot takes no lock and does not allocate. A fetch
// that fails, for whatever reason (network error, non-200 status, a content
// type that is not JSON, a redirect the URL policy forbids, a body over
// MaxResponseSize, a timeout, a document that is not a JWKS or holds no
// usable key), never replaces a good snapshot; the last good one is served
// until MaxStale after it was fetched. Keys that disappear from the
// document are dropped at the next good fetch.
//
// When the snapshot has no key for kid, or there is no usable snapshot:
//
//   - if a fetch is in flight, Keys waits for that fetch (bounded by ctx)
//     and looks again;
//   - else, if the last fetch caused by Keys started at least
//     UnknownKeyCooldown ago, Keys starts one, waits for it (bounded by ctx
//     and Timeout) and looks again;
//   - else Keys fails at once, without network I/O.
//
// So a rotated key is picked up with exactly one fetch, concurrent callers
// share that fetch instead of starting others, and a flood of tokens with
// made-up kids causes at most one fetch per cooldown. Keys returns a
// [*TokenError] with reason [ErrUnknownKey] when a usable snapshot lacks the
// kid, and a [*UnavailableError] (Op "fetch JWKS") when there is no usable
// snapshot, when the fetch it waited for failed, when ctx ended while it
// waited, or after Close.
//
// # Load on the authorization server
//
// Every replica of a service runs its own key set, so the authorization
// server sees the sum of their schedules. Refreshes are randomised so that
// replicas that fetched together (started by one deploy, sent the first
// token of a rotated key at once, recovering from one outage) do not stay
// in step: the refresh after a regular refresh is due at a random point in
// [80%, 95%] of the lifetime, and the refresh after any other good fetch
// at a random point in [25%, 95%], which makes a fleet's refreshes uniform
// in time from its second cycle on. Retries after failures are jittered
// too, and capped at MinRefresh, so the end of an outage is met by
// retries spread over about MinRefresh. In the steady state a fleet of N
// replicas sends about N / (0.875 × lifetime) JWKS requests; the
// internal/fleetsim simulation measures this for 10 000 replicas.
//
// A RemoteKeySet is safe for concurrent use.
type RemoteKeySet struct {
	cfg    RemoteKeySetConfig // defaults applied
	client *http.Client
	policy fetchPolicy

	snap   atomic.Pointer[snapshot]
	closed atomic.Bool

	ctx    context.Context // parent of every fetch; cancelled by Close
	cancel context.CancelFunc
	kick   chan struct{} // capacity 1: a fetch ended, reschedule
	ready  chan struct{} // closed when the first snapshot is stored
	wg     sync.WaitGroup

	mu         sync.Mutex
	started    bool
	fetches    flight.Group[struct{}, struct{}] // at most one fetch at a time
	lastDemand time.Time                        // start of the last fetch started by Keys
	failures   int                              // consecutive failed fetches
	gen        uint64                           // number of fetches ended
	lastErr    error                            // cause of the last failed fetch
	jwksURL    string                           // cfg.URL, or the discovered jwks_uri
	gotReady   bool

	// Test hooks. jitter randomises a backoff delay; between picks a
	// refresh delay in [lo, hi]; onSchedule observes each delay the
	// background loop waits for.
	jitter     func(time.Duration) time.Duration
	between    func(lo, hi time.Duration) time.Duration
	onSchedule func(time.Duration)
}

// A snapshot is one fetched key set. It is never modified once published.
type snapshot struct {
	keys    keyIndex
	refresh time.Time // the background refresh is due
	staleAt time.Time // fetch time + MaxStale: unusable from then on
}

var errClosed = errors.New("key set closed")

// NewRemoteKeySet validates cfg and returns a key set for it. It does no
// network I/O: the first fetch happens on the first call to Keys or
// [RemoteKeySet.WaitReady]. The caller must call [RemoteKeySet.Close].
func NewRemoteKeySet(cfg RemoteKeySetConfig) (*RemoteKeySet, error) {
	switch {
	case cfg.URL == "" && cfg.Issuer == "":
		return nil, errors.New("verify: RemoteKeySetConfig needs URL (the jwks_uri) or Issuer (to discover it)")
	case cfg.URL != "" && cfg.Issuer != "":
		return nil, errors.New("verify: RemoteKeySetConfig has both URL and Issuer; set exactly one")
	case cfg.URL != "":
		if err := checkURL(cfg.URL, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("verify: RemoteKeySetConfig.URL: %w", err)
		}
	default:
		if err := checkIssuerURL(cfg.Issuer, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("verify: RemoteKeySetConfig.Issuer: %w", err)
		}
	}
	for _, d := range [...]struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Timeout", &cfg.Timeout, defaultRemoteTimeout},
		{"MinRefresh", &cfg.MinRefresh, defaultMinRefresh},
		{"MaxRefresh", &cfg.MaxRefresh, defaultMaxRefresh},
		{"UnknownKeyCooldown", &cfg.UnknownKeyCooldown, defaultUnknownKeyCooldown},
		{"MaxStale", &cfg.MaxStale, defaultMaxStale},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("verify: RemoteKeySetConfig.%s is negative; use 0 for the default", d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.MinRefresh > cfg.MaxRefresh {
		return nil, fmt.Errorf("verify: RemoteKeySetConfig.MinRefresh (%s) exceeds MaxRefresh (%s)", cfg.MinRefresh, cfg.MaxRefresh)
	}
	if cfg.MaxStale < cfg.MaxRefresh {
		return nil, fmt.Errorf("verify: RemoteKeySetConfig.MaxStale (%s) is shorter than MaxRefresh (%s); a set would expire before its refresh", cfg.MaxStale, cfg.MaxRefresh)
	}
	switch {
	case cfg.MaxResponseSize < 0:
		return nil, errors.New("verify: RemoteKeySetConfig.MaxResponseSize is negative; use 0 for the default")
	case cfg.MaxResponseSize == 0:
		cfg.MaxResponseSize = defaultMaxResponseSize
	case cfg.MaxResponseSize > maxJWKSSize:
		return nil, fmt.Errorf("verify: RemoteKeySetConfig.MaxResponseSize exceeds the limit of %d bytes", maxJWKSSize)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	policy := fetchPolicy{timeout: cfg.Timeout, maxSize: cfg.MaxResponseSize, allowHTTP: cfg.InsecureAllowHTTP}
	ctx, cancel := context.WithCancel(context.Background())
	return &RemoteKeySet{
		cfg:     cfg,
		client:  policy.client(cfg.HTTPClient),
		policy:  policy,
		ctx:     ctx,
		cancel:  cancel,
		kick:    make(chan struct{}, 1),
		ready:   make(chan struct{}),
		jwksURL: cfg.URL,
		jitter:  fullJitter,
		between: randBetween,
	}, nil
}

// Keys returns the keys that may have signed a token whose kid header is
// kid, or every key if kid is "". See [RemoteKeySet] for when it fetches
// and which errors it returns. The result is shared and must not be
// modified.
func (r *RemoteKeySet) Keys(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	if s := r.snap.Load(); s != nil && !r.closed.Load() && r.cfg.Now().Before(s.staleAt) {
		if keys, err := s.keys.lookup(kid); err == nil {
			return keys, nil
		}
	}
	return r.keysSlow(ctx, kid)
}

// keysSlow handles an unknown kid or a missing, stale or closed set.
func (r *RemoteKeySet) keysSlow(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	r.mu.Lock()
	if r.closed.Load() {
		r.mu.Unlock()
		return nil, &UnavailableError{Op: "fetch JWKS", Err: errClosed}
	}
	r.startLocked()
	now := r.cfg.Now()
	call, inflight := r.fetches.Lookup(struct{}{})
	if !inflight {
		if !r.lastDemand.IsZero() && now.Sub(r.lastDemand) < r.cfg.UnknownKeyCooldown {
			// Rate limited: answer from what we have, without waiting. A
			// key published after the last fetch is therefore refused as
			// unknown until the cooldown ends; authorization servers are
			// expected to publish keys before signing with them (the
			// background refresh then finds them first).
			err := r.unavailableLocked(now)
			r.mu.Unlock()
			if err != nil {
				return nil, err
			}
			return r.lookup(kid, nil)
		}
		r.lastDemand = now
		call = r.startFetchLocked(false)
	}
	r.mu.Unlock()

	// Each caller waits for the shared fetch only as long as its own ctx
	// allows; the fetch goes on for the others.
	select {
	case <-call.Done():
	case <-ctx.Done():
		return nil, &UnavailableError{Op: "fetch JWKS", Err: ctx.Err()}
	case <-r.ctx.Done():
		return nil, &UnavailableError{Op: "fetch JWKS", Err: errClosed}
	}
	_, err := call.Result()
	return r.lookup(kid, err)
}

// lookup looks kid up in the current snapshot after a fetch that ended with
// fetchErr. An unknown kid is an unknown key only if that fetch succeeded:
// otherwise the newest set could not be seen and the answer is unavailable.
func (r *RemoteKeySet) lookup(kid string, fetchErr error) ([]jose.JSONWebKey, error) {
	if s := r.snap.Load(); s != nil && !r.closed.Load() && r.cfg.Now().Before(s.staleAt) {
		keys, err := s.keys.lookup(kid)
		if err == nil || fetchErr == nil {
			return keys, err
		}
	}
	if fetchErr != nil {
		return nil, &UnavailableError{Op: "fetch JWKS", Err: fetchErr}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.unavailableLocked(r.cfg.Now()); err != nil {
		return nil, err
	}
	return nil, &UnavailableError{Op: "fetch JWKS"}
}

// unavailableLocked returns the error for a missing, stale or closed set,
// or nil if the current snapshot is usable.
func (r *RemoteKeySet) unavailableLocked(now time.Time) error {
	if r.closed.Load() {
		return &UnavailableError{Op: "fetch JWKS", Err: errClosed}
	}
	s := r.snap.Load()
	switch {
	case s == nil && r.lastErr == nil:
		return &UnavailableError{Op: "fetch JWKS", Err: errors.New("no key set fetched yet")}
	case s == nil:
		return &UnavailableError{Op: "fetch JWKS", Err: r.lastErr}
	case !now.Before(s.staleAt):
		stale := fmt.Errorf("last good key set is older than MaxStale (%s)", r.cfg.MaxStale)
		return &UnavailableError{Op: "fetch JWKS", Err: errors.Join(stale, r.lastErr)}
	}
	return nil
}

// Ready reports whether the set holds keys that Keys may serve: fetched,
// not older than MaxStale, and not closed.
func (r *RemoteKeySet) Ready() bool {
	s := r.snap.Load()
	return s != nil && !r.closed.Load() && r.cfg.Now().Before(s.staleAt)
}

// WaitReady starts the background fetch if needed and waits until the
// first key set has been fetched, or ctx ends. Servers call it at start-up
// to fail fast on a misconfigured URL. On failure it returns a
// [*UnavailableError] wrapping ctx's error and the last fetch error; the
// background retries continue.
func (r *RemoteKeySet) WaitReady(ctx context.Context) error {
	r.mu.Lock()
	if r.closed.Load() {
		r.mu.Unlock()
		return &UnavailableError{Op: "fetch JWKS", Err: errClosed}
	}
	r.startLocked()
	r.mu.Unlock()
	select {
	case <-r.ready:
	case <-ctx.Done():
		r.mu.Lock()
		defer r.mu.Unlock()
		return &UnavailableError{Op: "fetch JWKS", Err: errors.Join(ctx.Err(), r.lastErr)}
	case <-r.ctx.Done():
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unavailableLocked(r.cfg.Now())
}

// Close stops the background goroutine and any fetch in flight, and waits
// for them to end. Keys fails with [ErrUnavailable] afterwards. Close is
// idempotent and always returns nil.
func (r *RemoteKeySet) Close() error {
	r.mu.Lock()
	if r.closed.Load() {
		r.mu.Unlock()
		return nil
	}
	// Set under mu: no goroutine is added to wg after this.
	r.closed.Store(true)
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	r.fetches.Wait()
	if r.cfg.HTTPClient == nil {
		r.client.CloseIdleConnections()
	}
	return nil
}

// startLocked starts the background loop once.
func (r *RemoteKeySet) startLocked() {
	if r.started || r.closed.Load() {
		return
	}
	r.started = true
	r.wg.Add(1)
	go r.loop()
}

// loop fetches when the current set is due for refresh, or a retry is
// due after a failure, until Close. A fetch that Keys starts meanwhile
// (it increments gen) makes the pending timer moot: the loop reschedules
// from the new state instead of fetching again.
func (r *RemoteKeySet) loop() {
	defer r.wg.Done()
	d, gen := r.nextDelay()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.kick: // a fetch ended: reschedule
		case <-timer.C:
			r.mu.Lock()
			var call *flight.Call[struct{}]
			if _, inflight := r.fetches.Lookup(struct{}{}); inflight || r.gen == gen {
				// A regular refresh: the timer of a good set, not a retry.
				call = r.startFetchLocked(r.failures == 0 && r.snap.Load() != nil)
			}
			r.mu.Unlock()
			if call != nil {
				select {
				case <-call.Done():
				case <-r.ctx.Done():
					return
				}
			}
		}
		select { // drop a kick for a fetch the state below already reflects
		case <-r.kick:
		default:
		}
		d, gen = r.nextDelay()
		if r.onSchedule != nil {
			r.onSchedule(d)
		}
		timer.Reset(d)
	}
}

// nextDelay returns how long the loop waits before its next fetch, and
// the fetch generation it is based on.
func (r *RemoteKeySet) nextDelay() (time.Duration, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nextDelayLocked(), r.gen
}

func (r *RemoteKeySet) nextDelayLocked() time.Duration {
	if r.failures > 0 {
		// Exponential backoff from min(1s, MinRefresh), capped at
		// MinRefresh, with jitter so that a fleet of servers does not
		// retry in lockstep after an outage.
		d := min(maxBackoffBase, r.cfg.MinRefresh)
		for i := 1; i < r.failures && d < r.cfg.MinRefresh; i++ {
			d *= 2
		}
		return r.jitter(min(d, r.cfg.MinRefresh))
	}
	s := r.snap.Load()
	if s == nil {
		return 0
	}
	return max(s.refresh.Sub(r.cfg.Now()), 0)
}

// fullJitter returns a random duration in [d/2, d].
func fullJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // G404: jitter, not a secret
}

// randBetween returns a random duration in [lo, hi].
func randBetween(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + rand.N(hi-lo+1) //nolint:gosec // G404: jitter, not a secret
}

// refreshDelay returns how long after a good fetch the set, whose lifetime
// is ttl, is refreshed: at a random point in [80%, 95%] of ttl after a
// regular refresh, and in [25%, 95%] after any other fetch, which may have
// been synchronised across a fleet (see [RemoteKeySet]).
func (r *RemoteKeySet) refreshDelay(ttl time.Duration, regular bool) time.Duration {
	from := spreadRefreshFrom
	if regular {
		from = regularRefreshFrom
	}
	return r.between(ttl/100*time.Duration(from), ttl/100*refreshUntil)
}

// startFetchLocked returns the fetch in flight, or starts one; regular
// says that it is the regular refresh of a good set. It returns nil after
// Close.
func (r *RemoteKeySet) startFetchLocked(regular bool) *flight.Call[struct{}] {
	if r.closed.Load() {
		return nil
	}
	call, _ := r.fetches.Start(struct{}{}, func() (struct{}, error) {
		s, err := r.fetchSet(regular)
		r.mu.Lock()
		switch {
		case r.closed.Load():
			err = errClosed
		case err == nil:
			r.snap.Store(s)
			r.failures, r.lastErr = 0, nil
			if !r.gotReady {
				r.gotReady = true
				close(r.ready)
			}
		default:
			r.failures++
			r.lastErr = err
		}
		r.gen++
		r.mu.Unlock()
		select {
		case r.kick <- struct{}{}:
		default:
		}
		return struct{}{}, err
	})
	return call
}

// fetchSet discovers the jwks_uri if needed, then fetches and indexes the
// key set, scheduling its refresh by refreshDelay. It never touches the
// published snapshot.
func (r *RemoteKeySet) fetchSet(regular bool) (*snapshot, error) {
	r.mu.Lock()
	u := r.jwksURL
	r.mu.Unlock()
	if u == "" {
		md, err := discover(r.ctx, r.client, r.cfg.Issuer, r.policy)
		if err != nil {
			return nil, err
		}
		if md.JWKSURI == "" {
			return nil, fmt.Errorf("metadata of issuer %s has no jwks_uri", r.cfg.Issuer)
		}
		u = md.JWKSURI
		r.mu.Lock()
		r.jwksURL = u
		r.mu.Unlock()
	}
	body, header, err := fetch(r.ctx, r.client, r.policy, fetchRequest{method: http.MethodGet, url: u})
	if err != nil {
		return nil, err
	}
	idx, err := parseKeyIndex(body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	now := r.cfg.Now()
	ttl, ok := cacheLifetime(header, now)
	if !ok {
		ttl = r.cfg.MaxRefresh
	}
	ttl = min(max(ttl, r.cfg.MinRefresh), r.cfg.MaxRefresh)
	return &snapshot{
		keys:    idx,
		refresh: now.Add(r.refreshDelay(ttl, regular)),
		staleAt: now.Add(r.cfg.MaxStale),
	}, nil
}

// cacheLifetime returns the freshness lifetime of a response that remains,
// for a private cache that received it now (RFC 9111 §4.2): max-age wins
// over Expires minus Date; the Age the response already has is deducted
// from either (RFC 9111 §4.2.3, §5.1); an unqualified no-store or no-cache
// means zero whatever the order of the directives and header lines
// (RFC 9111 §5.2.2.4, §5.2.2.5). The result is never negative. ok is false
// if the response says nothing about its lifetime.
func cacheLifetime(h http.Header, now time.Time) (ttl time.Duration, ok bool) {
	var (
		maxAge    time.Duration
		hasMaxAge bool
		zero      bool
	)
	for _, line := range h.Values("Cache-Control") {
		for dir := range strings.SplitSeq(line, ",") {
			name, val, hasVal := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store":
				zero = true
			case "no-cache":
				// With field names (no-cache="Set-Cookie") it only
				// restricts those fields (RFC 9111 §5.2.2.4).
				zero = zero || !hasVal
			case "max-age":
				if hasMaxAge {
					continue // RFC 9111 §4.2.1: use the first occurrence
				}
				hasMaxAge = true
				// An invalid max-age means stale (RFC 9111 §4.2.1).
				maxAge = parseDeltaSeconds(strings.Trim(val, `"`))
			}
		}
	}
	if zero {
		return 0, true
	}
	// RFC 9111 §5.1: an Age that is not a delta-seconds value is ignored.
	age := max(parseDeltaSeconds(h.Get("Age")), 0)
	if hasMaxAge {
		return max(maxAge-age, 0), true
	}
	if e := h.Get("Expires"); e != "" {
		exp, err := http.ParseTime(e)
		if err != nil {
			return 0, true // RFC 9111 §5.3: an invalid Expires is in the past
		}
		// RFC 9111 §4.2.1: Expires minus Date, so clock skew between us
		// and the server does not matter.
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		return max(exp.Sub(base)-age, 0), true
	}
	return 0, false
}

// parseDeltaSeconds parses delta-seconds (RFC 9111 §1.2.2): digits only.
// It returns -1 for an invalid value, and caps values past 2^31 seconds
// as that section allows, so durations never overflow.
func parseDeltaSeconds(s string) time.Duration {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > 1<<31 {
		n = 1 << 31
	}
	return time.Duration(n) * time.Second
}
