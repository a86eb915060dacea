package verify

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oauthgate/oauthgate/internal/oauthhttp"
	"github.com/oauthgate/oauthgate/internal/tokencache"
)

// Introspection is a [Verifier] for opaque access tokens: it asks the
// authorization server's RFC 7662 introspection endpoint about each token.
//
// Results are cached, keyed by a SHA-256 digest of the token (never the token
// itself): active ones for CacheTTL but never beyond exp, rejected ones for
// NegativeCacheTTL, both re-checked against exp and nbf on every hit.
// Concurrent calls for one token share one request. With a
// [IntrospectionConfig].SharedCache, a miss looks there before it asks the
// endpoint, and the replicas that share it ask once per token between them;
// an answer from the shared cache is not a cache hit for
// [Introspection.VerifyCacheHit], which reports the process's own cache.
// Failures to reach the
// endpoint, non-200 answers (a 401 means this client's credentials are
// wrong, not the token), and malformed or oversized responses yield an
// [*UnavailableError] and are not cached.
//
// [Introspection.Ready] says whether the endpoint answers, for health
// checks; [Introspection.Probe] asks it on demand. Package readiness polls
// both.
//
// An Introspection is safe for concurrent use. It starts no background
// goroutine that outlives a request's Timeout, so it needs no Close.
type Introspection struct {
	endpoint    string
	client      *http.Client
	policy      fetchPolicy
	creds       *clientCredentials // a pointer: fmt and slog print its address only
	rules       claimRules
	ttl         time.Duration
	negTTL      time.Duration
	leeway      time.Duration
	now         func() time.Time
	cache       *tokencache.Cache[introspected]
	shared      *sharedCache    // nil: no IntrospectionConfig.SharedCache
	revocations Revocations     // nil: no continuous access evaluation
	metrics     *cacheMetrics   // nil records nothing
	requests    *requestMetrics // nil records nothing
	timing      *verifyTiming
	// answering is whether the endpoint gave a well-formed answer to the
	// last request that ended (see Ready). A pointer keeps Introspection
	// free of noCopy values: printing a dereferenced one is tested.
	answering *atomic.Bool
}

// introspected is a cached introspection result: claims of an accepted
// token, or the *TokenError that rejected it.
type introspected struct {
	claims *Claims
	err    error
	// body is the response the result was read from, for the shared
	// cache; fill drops it before the result is cached in the process.
	body []byte
	// at is when the request that got the answer started, for
	// Revocations.
	at time.Time
}

// Verify introspects token, or answers from the cache, and returns its
// claims. See [Verifier] for the error contract and [Introspection] for
// what is cached.
func (i *Introspection) Verify(ctx context.Context, token string) (*Claims, error) {
	start, timed := i.timing.begin(ctx)
	c, hit, err := i.verifyCacheHit(ctx, token)
	i.timing.end(ctx, start, timed, hit, err)
	return c, err
}

// verifyCacheHit is Verify that also reports whether the answer came from
// the introspection cache, without a request, for the verification
// duration. A call that waited for another call's request to the same
// token is not a hit.
func (i *Introspection) verifyCacheHit(ctx context.Context, token string) (c *Claims, hit bool, err error) {
	switch {
	case token == "":
		return nil, false, &TokenError{Reason: ErrMalformed}
	case len(token) > maxIntrospectToken:
		return nil, false, &TokenError{Reason: ErrTooLarge}
	}
	key := tokencache.DigestKey(token)
	r, hit := i.cache.Get(key)
	i.metrics.lookup(hit)
	if !hit {
		r, err = i.miss(ctx, key, token)
		if err != nil {
			if !errors.Is(err, ErrUnavailable) {
				// The caller's own context ended while it waited.
				err = &UnavailableError{Op: "introspect", Err: err}
			}
			return nil, false, err
		}
	}
	if r.err != nil {
		return nil, hit, r.err
	}
	// The cache keeps an entry no longer than exp, but check every hit
	// anyway: the claims are what the caller relies on.
	if err := checkTimes(i.now(), r.claims); err != nil {
		return nil, hit, err
	}
	if i.revocations != nil {
		return i.revoked(ctx, key, token, r, hit)
	}
	return r.claims, hit, nil
}

// revoked applies the Revocations to r, the answer about token from the
// cache or just obtained (see Revocation): a stale answer is replaced by
// a new introspection, past the shared cache, whose answer is cached.
func (i *Introspection) revoked(ctx context.Context, key tokencache.Key, token string, r introspected, hit bool) (*Claims, bool, error) {
	rv := i.revocations.Lookup(r.claims)
	if rv.IsZero() {
		return r.claims, hit, nil
	}
	switch rv.verdict(r.claims, r.at, false, false) {
	case revocationRevoked:
		return nil, hit, &TokenError{Reason: ErrRevoked, Claim: "iat"}
	case revocationNone, revocationStepUp:
		return r.claims, hit, nil
	}
	// Stale: the shared cache may hold the same old answer, so ask.
	i.cache.Remove(key, func(introspected) bool { return true })
	fresh, ttl, err := i.introspectTimed(ctx, token, false)
	if err != nil {
		return nil, false, err
	}
	fresh.body = nil
	i.cache.Set(key, fresh, 0, ttl)
	if fresh.err != nil {
		return nil, false, fresh.err
	}
	if rv.verdict(fresh.claims, fresh.at, true, false) == revocationRevoked {
		return nil, false, &TokenError{Reason: ErrRevoked, Claim: "iat"}
	}
	return fresh.claims, false, nil
}

// Ready reports whether the introspection endpoint answered the last
// request that ended: false until it has answered once; true after a
// well-formed answer, whether the token was active or not, to a
// verification or to [Introspection.Probe]; false again after a request
// that found the endpoint unable to answer, which [Introspection.Verify]
// reports as [ErrUnavailable] (unreachable, slower than Timeout, a status
// other than 200, a malformed or oversized answer, wrong client
// credentials), or after a probe the endpoint answered wrongly. A request
// that ends only because its caller's context ended changes nothing (a
// verification's request goes on for the cache regardless and counts when
// it ends), nor does an answer from the cache.
//
// So Ready follows the traffic: without verifications or probes it keeps
// its last value. Ready is an atomic load, cheap enough to poll, and safe
// for concurrent use; package readiness polls it, and calls Probe while it
// is false.
func (i *Introspection) Ready() bool { return i.answering.Load() }

// Probe sends the introspection endpoint one request, with the
// credentials, Timeout and HTTP policy of [Introspection.Verify], for a
// value that is no token: 32 random bytes from crypto/rand, base64url
// encoded, new for every probe, never cached and never in an error. It
// returns nil if the endpoint answers that the value is not active, and
// updates what [Introspection.Ready] reports as a verification would. It
// fails with the [*UnavailableError] (Op "introspect") a verification
// would get from the endpoint, or with one that says the endpoint called
// the random value active: such a server accepts anything, so Ready is
// then false too. If the probe fails only because ctx ended, Ready does
// not change.
//
// A probe counts in the oauthgate.introspection.* request metrics, like
// any request to the endpoint, but never in the cache metrics. Use it at
// start-up to fail fast on a wrong endpoint or client credentials, and in
// health checks: a replica that is not ready gets no traffic, so only a
// probe can find that the endpoint is back.
func (i *Introspection) Probe(ctx context.Context) error {
	var b [32]byte
	_, _ = rand.Read(b[:]) // it never returns an error: it crashes the program instead
	_, _, err := i.introspectTimed(ctx, base64.RawURLEncoding.EncodeToString(b[:]), true)
	return err
}

// errProbeActive is the cause of a probe's failure when the endpoint
// calls the random value active.
var errProbeActive = errors.New("the endpoint reports a random probe value as an active token; it is not a working RFC 7662 endpoint for this client")

// introspect asks the endpoint about token and records in i.answering
// whether it answered (see Ready). It returns the result to cache and for
// how long, or an *UnavailableError, which is never cached. For a probe
// (probe set, token a random value), any answer but "not active" is an
// error.
func (i *Introspection) introspect(ctx context.Context, token string, probe bool) (introspected, time.Duration, error) {
	r, ttl, err := i.ask(ctx, token)
	if err == nil && probe && !errors.Is(r.err, ErrInactive) {
		// active:true, even with claims this verifier rejects.
		err = introspectUnavailable(errProbeActive)
	}
	switch {
	case err == nil:
		i.answering.Store(true)
	case errors.Is(err, errProbeActive) || ctx.Err() == nil:
		i.answering.Store(false)
	default:
		// The caller's context ended: that says nothing about the
		// endpoint. (A verification's context never ends here: its
		// request runs detached from the caller, bounded by Timeout.)
	}
	return r, ttl, err
}

// ask sends the introspection request for token and reads the answer.
func (i *Introspection) ask(ctx context.Context, token string) (introspected, time.Duration, error) {
	// RFC 7662 §2.1.
	at := i.now()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	body, _, err := fetch(ctx, i.client, i.policy, oauthhttp.Request{
		Method: http.MethodPost, URL: i.endpoint, Form: form, Auth: i.creds.apply(form), StrictJSON: true,
	})
	if se, ok := errors.AsType[*statusError](err); ok && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden) {
		// The endpoint rejects this client, not the token.
		err = fmt.Errorf("%w; check the client credentials and AuthMethod", err)
	}
	if err != nil {
		return introspected{}, 0, introspectUnavailable(err)
	}

	now := i.now()
	claims, err := i.parse(body, now)
	if err != nil {
		if !errors.Is(err, ErrInvalidToken) {
			return introspected{}, 0, introspectUnavailable(err)
		}
		return introspected{err: err, body: body, at: at}, i.negTTL, nil
	}
	ttl := i.ttl
	if !claims.expiry.IsZero() {
		ttl = min(ttl, claims.expiry.Sub(now))
	}
	return introspected{claims: claims, body: body, at: at}, ttl, nil
}

func introspectUnavailable(err error) error { return &UnavailableError{Op: "introspect", Err: err} }

// parse turns an introspection response into claims, read by the one
// claim reader. It returns a *TokenError for a token the response rejects,
// and a plain error when the response itself is broken.
func (i *Introspection) parse(body []byte, now time.Time) (*Claims, error) {
	blk := &claimsBlock{}
	c := &blk.c
	c.leeway = i.leeway
	r := claimReader{aud: &blk.aud}
	if err := r.read(&i.rules, body, c); err != nil {
		te, _ := errors.AsType[*TokenError](err)
		if te != nil && te.Claim != "" && te.Claim != "active" {
			return nil, errors.New("response member " + te.Claim + " has the wrong type")
		}
		return nil, errors.New("response is not a JSON object with a boolean active member")
	}
	// RFC 7662 §2.2: active is REQUIRED and a boolean. Without it the
	// server is broken and the token's state unknown.
	switch {
	case !r.has(seenActive):
		return nil, errors.New("response lacks a boolean active member")
	case !r.active:
		return nil, &TokenError{Reason: ErrInactive, Claim: "active"}
	}
	// token_type is that of RFC 6749 §7.1 ("Bearer", or "DPoP" for a
	// DPoP-bound token, RFC 9449 §6.2); some servers put the kind of token
	// there instead, or in token_use (ory Hydra). Anything that is not an
	// access token is refused: a refresh token must not pass as an access
	// token. A DPoP token needs a proof (CheckBinding).
	switch t := r.tokenType; {
	case strings.EqualFold(t, "dpop"):
		c.cnf.DPoP = true
	case t != "" && !strings.EqualFold(t, "bearer") && t != "access_token" &&
		t != "urn:ietf:params:oauth:token-type:access_token":
		return nil, &TokenError{Reason: ErrType, Claim: "token_type"}
	}
	if r.tokenUse != "" && r.tokenUse != "access_token" {
		return nil, &TokenError{Reason: ErrType, Claim: "token_use"}
	}
	if i.rules.issuer != "" && r.has(seenIss) && !r.issuerOK {
		return nil, &TokenError{Reason: ErrIssuer, Claim: "iss"}
	}
	if r.has(seenAud) && !r.audienceOK {
		return nil, &TokenError{Reason: ErrAudience, Claim: "aud"}
	}
	if err := checkTimes(now, c); err != nil {
		return nil, err
	}
	return c, nil
}
