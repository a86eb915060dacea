package verify

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"

	"github.com/oauthgate/oauthgate/internal/tokencache"
)

// An IntrospectionCache is a second-level cache of introspection results
// that the replicas of a service share ([IntrospectionConfig].SharedCache),
// so that the authorization server gets one request per token per CacheTTL
// from the whole fleet rather than from each replica. Package redisstore, a
// module of its own, implements it on Redis or Valkey.
//
// Keys are SHA-256 digests of the token with the endpoint and client ID,
// never the token; a cache that names entries by them must key them with a
// secret of its own first (HMAC), so that whoever can read the cache
// cannot tell whether a token they hold is in use. Values are opaque bytes
// that [Introspection] writes and reads back: the authorization server's
// response and when it was received. Whoever can write the cache can make
// an [Introspection] accept a token, so a cache must authenticate its
// values (redisstore MACs them with its secret) or be as trusted as the
// authorization server. Every value read back is parsed again with the
// reader's own rules (issuer, audiences, authorities) and is used no
// longer than the reader's own CacheTTL or NegativeCacheTTL after it was
// received, nor beyond the token's exp.
//
// Errors never reject a token: on any error, or a value that does not
// parse, the Introspection asks the authorization server itself. So every
// method should bound its own wait tightly (redisstore: 50 ms). An
// IntrospectionCache must be safe for concurrent use.
type IntrospectionCache interface {
	// Get returns the value stored for key, or nil and no error when
	// there is none.
	Get(ctx context.Context, key [32]byte) ([]byte, error)
	// Set stores value for key for ttl, replacing any value.
	Set(ctx context.Context, key [32]byte, value []byte, ttl time.Duration) error
	// Lock takes the fill lock of key for ttl, unless another caller
	// holds it; locked reports whether this one took it. Of the replicas
	// that miss key at once, the one that takes the lock asks the
	// authorization server and calls Set (or Unlock, if it got no result
	// to share); the others poll Get until the value is there or the lock
	// is free, so a lock whose holder died is retaken when it expires.
	Lock(ctx context.Context, key [32]byte, ttl time.Duration) (locked bool, err error)
	// Unlock releases the fill lock of key.
	Unlock(ctx context.Context, key [32]byte) error
}

// Timing of the fill lock of the shared cache.
const (
	// sharedLockTTL bounds how long a fill lock is held (at most the
	// request Timeout): the time the replicas that miss a token wait for
	// a holder that died.
	sharedLockTTL = time.Second
	// sharedPollMin and sharedPollMax bound the wait between two polls of
	// a replica waiting for another's fill, doubling from the first.
	sharedPollMin = 2 * time.Millisecond
	sharedPollMax = 64 * time.Millisecond
	// sharedVersion is the first byte of a value this package writes.
	sharedVersion = 1
)

// sharedCache is an Introspection's second-level cache.
type sharedCache struct {
	cache IntrospectionCache
	// domain is hashed before every token: the endpoint and client ID, so
	// that verifiers of different authorization servers, or different
	// clients of one, sharing a cache never read each other's answers.
	domain  []byte
	lockTTL time.Duration
}

func newSharedCache(c IntrospectionCache, endpoint, clientID string, timeout time.Duration) *sharedCache {
	domain := []byte("oauthgate introspection v1\x00" + endpoint + "\x00" + clientID + "\x00")
	return &sharedCache{cache: c, domain: domain, lockTTL: min(sharedLockTTL, timeout)}
}

// key is the shared cache's key of token.
func (s *sharedCache) key(token string) [32]byte {
	h := sha256.New()
	h.Write(s.domain)
	h.Write([]byte(token))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// What a miss found in the shared cache before its fill.
const (
	sharedNone   = iota // no shared cache
	sharedMissed        // the shared cache has no usable value
	sharedFailed        // the shared cache failed: do not use it
)

// miss answers a miss of the local cache with key for token. With a shared
// cache it looks there first, on the caller's goroutine: a hit costs one
// round trip and no more, and is cached locally. Otherwise, and on a miss
// of the shared cache, concurrent callers share one fill (single-flight).
func (i *Introspection) miss(ctx context.Context, key tokencache.Key, token string) (introspected, error) {
	state := sharedNone
	var sk [32]byte
	if i.shared != nil {
		sk = i.shared.key(token)
		r, ttl, ok, err := i.sharedGet(ctx, sk)
		switch {
		case ok:
			i.cache.Set(key, r, 0, ttl)
			return r, nil
		case err != nil:
			state = sharedFailed
		default:
			state = sharedMissed
		}
	}
	return i.cache.Do(ctx, key, func(ctx context.Context) (introspected, time.Duration, error) {
		r, ttl, err := i.fill(ctx, token, sk, state)
		r.body = nil // the local cache holds claims or errors only
		return r, ttl, err
	})
}

// fill asks the authorization server about token, through the fill lock
// of the shared cache when the caller found a miss there (state).
func (i *Introspection) fill(ctx context.Context, token string, key [32]byte, state int) (introspected, time.Duration, error) {
	if state != sharedMissed {
		return i.introspectTimed(ctx, token, false)
	}
	return i.fillShared(ctx, token, key)
}

// fillShared asks the authorization server about token once for the
// fleet: the replica that takes the fill lock of key asks and shares the
// answer, the others poll the shared cache for it. Whatever goes wrong
// with the shared cache, it asks the authorization server itself, and
// never turns a failure of the shared cache into a rejection. The wait for
// another replica's answer is bounded by the request Timeout.
func (i *Introspection) fillShared(ctx context.Context, token string, key [32]byte) (introspected, time.Duration, error) {
	s := i.shared
	giveUp := time.Now().Add(i.policy.timeout) // a bound on waiting, not a validity check
	delay := sharedPollMin
	for {
		locked, err := s.cache.Lock(ctx, key, s.lockTTL)
		if err != nil {
			return i.introspectTimed(ctx, token, false)
		}
		if locked {
			return i.fillLocked(ctx, token, key)
		}
		if !time.Now().Add(delay).Before(giveUp) {
			// The holder is slow: ask rather than keep the caller waiting
			// longer than a request of its own would.
			return i.introspectTimed(ctx, token, false)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done(): // the fill's context is detached: never, in practice
			t.Stop()
			return introspected{}, 0, introspectUnavailable(ctx.Err())
		}
		delay = min(2*delay, sharedPollMax)
		r, ttl, ok, err := i.sharedGet(ctx, key)
		switch {
		case err != nil:
			return i.introspectTimed(ctx, token, false)
		case ok:
			return r, ttl, nil
		}
	}
}

// fillLocked asks the authorization server about token, holding the fill
// lock of key, and shares the answer.
func (i *Introspection) fillLocked(ctx context.Context, token string, key [32]byte) (introspected, time.Duration, error) {
	s := i.shared
	// The time before the request: replicas reading the answer never
	// keep it longer than this one does.
	fetched := i.now()
	r, ttl, err := i.introspectTimed(ctx, token, false)
	if err != nil || ttl <= 0 || r.body == nil {
		// Nothing to share: let a waiting replica ask for itself.
		_ = s.cache.Unlock(ctx, key)
		return r, ttl, err
	}
	v := make([]byte, 9+len(r.body))
	v[0] = sharedVersion
	binary.BigEndian.PutUint64(v[1:9], uint64(fetched.UnixNano())) //nolint:gosec // G115: a time after 1970
	copy(v[9:], r.body)
	// An error leaves the lock to expire: the waiters then ask.
	_ = s.cache.Set(ctx, key, v, ttl)
	return r, ttl, nil
}

// errSharedValue reports a shared cache value this package did not write.
var errSharedValue = errors.New("verify: shared introspection cache value is malformed")

// sharedGet reads key from the shared cache: ok reports a usable value,
// with how much longer this verifier may use it. A value that is stale by
// this verifier's TTLs, or that does not parse as a response, is a miss;
// err is the cache's error.
func (i *Introspection) sharedGet(ctx context.Context, key [32]byte) (r introspected, ttl time.Duration, ok bool, err error) {
	v, err := i.shared.cache.Get(ctx, key)
	if err != nil || v == nil {
		return introspected{}, 0, false, err
	}
	r, ttl, err = i.decodeShared(v)
	if err != nil || ttl <= 0 {
		return introspected{}, 0, false, nil
	}
	return r, ttl, true, nil
}

// decodeShared reads a value written by fillLocked, possibly by another
// replica, with this verifier's rules: the response is parsed again, and
// the result is used no longer than this verifier's own TTL after it was
// fetched, nor beyond exp, nor longer than its TTL from now whatever the
// other replica's clock said.
func (i *Introspection) decodeShared(v []byte) (introspected, time.Duration, error) {
	if len(v) < 9 || v[0] != sharedVersion || int64(len(v)-9) > i.policy.maxSize {
		return introspected{}, 0, errSharedValue
	}
	fetched := time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9]))) //nolint:gosec // G115: written from a time
	body := v[9:]
	now := i.now()
	claims, err := i.parse(body, now)
	if err != nil {
		if !errors.Is(err, ErrInvalidToken) {
			return introspected{}, 0, errSharedValue
		}
		return introspected{err: err, at: fetched}, min(fetched.Add(i.negTTL).Sub(now), i.negTTL), nil
	}
	ttl := min(fetched.Add(i.ttl).Sub(now), i.ttl)
	if !claims.expiry.IsZero() {
		ttl = min(ttl, claims.expiry.Sub(now))
	}
	return introspected{claims: claims, at: fetched}, ttl, nil
}
