package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/internal/flight"
	"github.com/oauthgate/oauthgate/internal/oauthhttp"
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

// floodCooldownExtra is how much longer than UnknownKeyCooldown, at most,
// in percent, the cooldown of a fetch made under an unknown-kid flood is
// (see spreadCooldown).
const floodCooldownExtra = 100

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
//   - else, if the cooldown of the last fetch caused by Keys has ended,
//     Keys starts one, waits for it (bounded by ctx and Timeout) and looks
//     again;
//   - else Keys fails at once, without network I/O.
//
// The cooldown is UnknownKeyCooldown, or longer under a flood of unknown
// kids (see below). So a rotated key is picked up with exactly one fetch,
// concurrent callers share that fetch instead of starting others, and a
// flood of tokens with made-up kids causes at most one fetch per
// UnknownKeyCooldown. Keys returns a [*TokenError] with reason
// [ErrUnknownKey] when a usable snapshot lacks the kid and the last fetch
// succeeded, and a [*UnavailableError] (Op "fetch JWKS") when there is no
// usable snapshot, when the fetch it waited for failed, when it failed at
// once and the last fetch had failed (the newest set could not be seen),
// when ctx ended while it waited, or after Close.
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
// in time from its second cycle on. In the steady state a fleet of N
// replicas sends about N / (0.875 × lifetime) JWKS requests.
//
// Retries after failed fetches back off exponentially, each delay drawn at
// random in its upper half. Without a usable set (none fetched yet, or the
// last good one older than MaxStale) calls are failing, so the delay
// starts at 1s (or MinRefresh if shorter), for a brief blip to end
// quickly, and stops doubling at MinRefresh. With a usable set every call
// is still answered and a retry only adds load to a server that is down
// or recovering, so the delay starts at MinRefresh and doubles on up to
// the set's lifetime, never beyond a quarter of the time left until
// MaxStale (nor below MinRefresh): an outage costs each replica whose
// refresh falls in it about 1 + log2(1 + outage ÷ MinRefresh) requests,
// not one per MinRefresh; a replica retries several times, the last
// within MinRefresh, before its set would become unusable; and once the
// server is back, every replica holds a fresh set within one lifetime,
// the staleness the server's Cache-Control allows anyway. A key first
// used during or after the outage is not kept waiting by the backoff: its
// first token causes a fetch, as above.
//
// A flood of made-up kids reaches every replica of a fleet at about the
// same time, so their cooldowns would end together and the flood would
// reach the server in bursts, one per cooldown. When the previous
// cooldown turned calls away (a flood), a fetch caused by Keys that
// succeeds is followed by a cooldown drawn at random in
// [UnknownKeyCooldown, 2 × UnknownKeyCooldown]: the bursts are a cooldown
// apart, so one such draw spreads the fleet's next fetches over a whole
// cycle. Otherwise, or after a failed fetch (the next may find the server
// back), the cooldown is UnknownKeyCooldown. The bench/fleetsim
// simulation measures all of this for 10 000 replicas.
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
	cooldown   time.Duration                    // how long after lastDemand Keys may start another
	turnedAway bool                             // a Keys call was refused by the current cooldown
	failures   int                              // consecutive failed fetches
	gen        uint64                           // number of fetches ended
	lastErr    error                            // cause of the last failed fetch
	jwksURL    string                           // cfg.URL, or the discovered jwks_uri
	gotReady   bool

	// Test hooks. jitter randomises a backoff delay; between picks a
	// refresh delay in [lo, hi]; floodCooldown picks the cooldown of a
	// demand fetch made under a flood (see fetchFlood); onSchedule
	// observes each delay the background loop waits for.
	jitter        func(time.Duration) time.Duration
	between       func(lo, hi time.Duration) time.Duration
	floodCooldown func(time.Duration) time.Duration
	onSchedule    func(time.Duration)

	metrics *keySetMetrics // nil records nothing
}

// A snapshot is one fetched key set. It is never modified once published.
type snapshot struct {
	keys     keyIndex
	lifetime time.Duration // announced by the server, within [MinRefresh, MaxRefresh]
	refresh  time.Time     // the background refresh is due
	staleAt  time.Time     // fetch time + MaxStale: unusable from then on
}

var errClosed = errors.New("key set closed")

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
		if !r.lastDemand.IsZero() && now.Sub(r.lastDemand) < r.cooldown {
			// Rate limited: answer from what we have, without waiting. A
			// key published after the last fetch is therefore refused as
			// unknown until the cooldown ends; authorization servers are
			// expected to publish keys before signing with them (the
			// background refresh then finds them first). If the last fetch
			// failed, the newest set could not be seen: a kid missing from
			// the one held is then unavailable, not unknown.
			r.turnedAway = true
			r.metrics.cooledDown()
			err, lastErr := r.unavailableLocked(now), r.lastErr
			r.mu.Unlock()
			if err != nil {
				return nil, err
			}
			return r.lookup(kid, lastErr)
		}
		kind := fetchDemand
		if r.turnedAway {
			kind = fetchFlood
		}
		r.lastDemand, r.cooldown, r.turnedAway = now, r.cfg.UnknownKeyCooldown, false
		r.metrics.demanded()
		call = r.startFetchLocked(kind)
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

// Probe is [RemoteKeySet.WaitReady] for health checks: it starts the
// background fetch if nothing has, and waits until the set is usable
// (fetched, not older than MaxStale) or ctx ends. Package readiness calls
// it while the set is not ready, so that a replica whose key set nothing
// else has used yet, and which gets no traffic while it is NOT_SERVING,
// still fetches its keys.
func (r *RemoteKeySet) Probe(ctx context.Context) error { return r.WaitReady(ctx) }

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
	r.metrics.close()
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
			// A fetch in flight (one Keys started) is waited for, never
			// doubled: it may have stored its set and be about to leave
			// the flight group, so starting "it" again could start a
			// second fetch. After it, or if one ended since the delay was
			// computed (gen moved), the loop reschedules from the state.
			call, inflight := r.fetches.Lookup(struct{}{})
			if !inflight && r.gen == gen {
				kind := fetchRetry
				if r.failures == 0 && r.snap.Load() != nil {
					kind = fetchRegular // the timer of a good set, not a retry
				}
				call = r.startFetchLocked(kind)
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
	s := r.snap.Load()
	if r.failures > 0 {
		// Jittered, so that a fleet of servers does not retry in lockstep
		// after an outage.
		return r.jitter(r.backoffLocked(s, r.cfg.Now()))
	}
	if s == nil {
		return 0
	}
	return max(s.refresh.Sub(r.cfg.Now()), 0)
}

// backoffLocked returns the retry delay, before jitter, after r.failures
// consecutive failed fetches, s being the current snapshot (or nil):
// doubling per failure up to backoffCeiling, from min(1s, MinRefresh)
// without a usable set and from MinRefresh with one. Without a usable set
// calls are failing, and a brief blip must end quickly. With one, every
// call is answered from the set and a key first used meanwhile is fetched
// by its first token (see keysSlow), so nothing waits for the retry: a
// shorter first delay would only add load to a server that is down.
func (r *RemoteKeySet) backoffLocked(s *snapshot, now time.Time) time.Duration {
	ceiling := r.backoffCeiling(s, now)
	first := maxBackoffBase
	if s != nil && now.Before(s.staleAt) {
		first = r.cfg.MinRefresh // ≤ ceiling: see backoffCeiling
	}
	d := min(first, ceiling)
	for i := 1; i < r.failures && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// backoffCeiling returns the longest retry delay after failures. Without
// a usable set (none yet, or older than MaxStale) calls may be failing, so
// it is MinRefresh. With one, the replica answers its calls and a retry
// only adds load to a server that is down or recovering, so it is
// min(lifetime, max(MinRefresh, time left until MaxStale ÷ 4)), never
// below MinRefresh since fetchSet clamps the lifetime to [MinRefresh,
// MaxRefresh]. The lifetime bounds how long a key withdrawn during an
// outage is trusted once the server is back to what the server's
// Cache-Control allows in normal operation. The quarter keeps the replica
// trying before the set becomes unusable: each retry leaves at least three
// quarters of the time left, and the last 4 × MinRefresh hold a retry at
// least every MinRefresh.
func (r *RemoteKeySet) backoffCeiling(s *snapshot, now time.Time) time.Duration {
	if s == nil || !now.Before(s.staleAt) {
		return r.cfg.MinRefresh
	}
	return min(s.lifetime, max(r.cfg.MinRefresh, s.staleAt.Sub(now)/4))
}

// fullJitter returns a random duration in [d/2, d].
func fullJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // G404: jitter, not a secret
}

// spreadCooldown returns a random cooldown in [d, 2 × d]: never shorter
// than d, the configured minimum.
func spreadCooldown(d time.Duration) time.Duration {
	hi := d + d/100*floodCooldownExtra
	if hi < d { // overflow
		hi = math.MaxInt64
	}
	return randBetween(d, hi)
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

// A fetchKind says why a fetch starts, which decides when the next refresh
// is due (refreshDelay) and, for a fetch started by Keys, its cooldown.
type fetchKind int

const (
	fetchRetry   fetchKind = iota // the loop's first fetch, or a retry after failures
	fetchRegular                  // the regular refresh of a good set
	fetchDemand                   // started by Keys
	// fetchFlood is started by Keys after the previous cooldown turned
	// calls away: unknown kids arrive faster than the cooldown lets them
	// fetch.
	fetchFlood
)

// startFetchLocked returns the fetch in flight, or starts one of kind. It
// returns nil after Close.
func (r *RemoteKeySet) startFetchLocked(kind fetchKind) *flight.Call[struct{}] {
	if r.closed.Load() {
		return nil
	}
	call, _ := r.fetches.Start(struct{}{}, func() (struct{}, error) {
		s, err := r.fetchSet(kind == fetchRegular)
		r.metrics.fetched(err)
		r.mu.Lock()
		switch {
		case r.closed.Load():
			err = errClosed
		case err == nil:
			r.snap.Store(s)
			r.failures, r.lastErr = 0, nil
			if kind == fetchFlood {
				// Every replica of a fleet met the flood at once, so
				// their cooldowns end together: a random one, never
				// shorter than configured, spreads their next fetches. A
				// failed fetch keeps the plain cooldown, as the next one
				// may be what brings the set back.
				r.cooldown = r.floodCooldown(r.cfg.UnknownKeyCooldown)
			}
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
		issuer, discoverFn := r.cfg.Issuer, discover
		if r.cfg.Transmitter != "" {
			issuer, discoverFn = r.cfg.Transmitter, discoverTransmitter
		}
		md, err := discoverFn(r.ctx, r.client, issuer, r.policy)
		if err != nil {
			return nil, err
		}
		if md.JWKSURI == "" {
			return nil, fmt.Errorf("metadata of issuer %s has no jwks_uri", issuer)
		}
		u = md.JWKSURI
		r.mu.Lock()
		r.jwksURL = u
		r.mu.Unlock()
	}
	body, header, err := fetch(r.ctx, r.client, r.policy, oauthhttp.Request{Method: http.MethodGet, URL: u})
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
		keys:     idx,
		lifetime: ttl,
		refresh:  now.Add(r.refreshDelay(ttl, regular)),
		staleAt:  now.Add(r.cfg.MaxStale),
	}, nil
}
