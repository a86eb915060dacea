package verify

import (
	"cmp"
	"context"
	"errors"
	"hash/maphash"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/internal/tokencache"
	"github.com/oauthgate/oauthgate/scopeset"
)

const (
	// defaultJWTCacheSize is the entry bound when JWTConfig.CacheSize is 0.
	defaultJWTCacheSize = 10_000
	// defaultJWTCacheMaxBytes is the byte bound when JWTConfig.CacheMaxBytes
	// is 0: about 7 000 entries for 1 KiB tokens, and the full 10 000 for
	// tokens up to about 500 bytes.
	defaultJWTCacheMaxBytes = 16 << 20
	// defaultJWTCacheMaxTTL is the longest an entry lives when
	// JWTConfig.CacheMaxTTL is 0; exp ends it sooner.
	defaultJWTCacheMaxTTL = 5 * time.Minute
	// jwtCacheEntryOverhead is what an entry costs beyond the bytes of its
	// token and payload: the cache entry, its map and ring slots, the
	// Claims and their slices, the revocation fields and allocation
	// rounding, about 830 bytes measured by TestJWTCache_MillionTokens,
	// rounded up with room for the heap's own noise.
	jwtCacheEntryOverhead = 1024
	// scopeMemoSlots is the number of scope strings a JWT remembers parsed.
	scopeMemoSlots = 64
)

// A jwtCache is the verified-token cache of a [JWT] (see its doc): token
// strings that passed every check, found by a seeded maphash and confirmed
// by comparing the whole token.
type jwtCache struct {
	seed    maphash.Seed
	tokens  *tokencache.Cache[jwtCached]
	ttl     time.Duration // the longest an entry lives
	metrics *cacheMetrics // nil records nothing
}

// newJWTCache returns the cache cfg asks for, or nil for DisableCache.
func newJWTCache(cfg JWTConfig, now func() time.Time) *jwtCache {
	if cfg.DisableCache {
		return nil
	}
	return &jwtCache{
		seed: maphash.MakeSeed(),
		tokens: tokencache.New[jwtCached](tokencache.Config{Size: cmp.Or(cfg.CacheSize, defaultJWTCacheSize),
			MaxBytes: cmp.Or(cfg.CacheMaxBytes, defaultJWTCacheMaxBytes), Now: now}),
		ttl: cmp.Or(cfg.CacheMaxTTL, defaultJWTCacheMaxTTL),
	}
}

// A jwtCached is a verified token in the cache: the token itself, to
// confirm a hit, and what is needed to check again that its key is still in
// the key set.
type jwtCached struct {
	token  string
	claims *Claims
	kid    string
	alg    jose.SignatureAlgorithm
	key    any             // the JSONWebKey.Key that verified the signature
	extra  int64           // bytes the claims hold beyond the payload
	at     time.Time       // when it was verified, for Revocations
	memo   *revocationMemo // with a generational Revocations, else nil
}

// verifyCached is Verify with the cache on; hit reports a cache answer.
func (j *JWT) verifyCached(ctx context.Context, token string) (c *Claims, hit bool, err error) {
	k := tokencache.FastKey(j.cache.seed, token)
	c, hit, err = j.cached(ctx, k, token)
	j.cache.metrics.lookup(hit)
	if hit {
		return c, true, err
	}
	c, e, err := j.verify(ctx, token)
	if err != nil {
		return nil, false, err // caching failures would let them be pinned
	}
	if j.revocations != nil {
		// Checked before it is stored: a revoked token is not cached.
		if c, err = j.revoked(c); err != nil {
			return nil, false, err
		}
	}
	j.store(k, token, e)
	return c, false, nil
}

// cached answers Verify from the cache. hit is false when the cache has no
// usable entry for token and the token must be verified.
func (j *JWT) cached(ctx context.Context, k tokencache.Key, token string) (c *Claims, hit bool, err error) {
	now := j.now()
	e, ok := j.cache.tokens.GetAt(k, now)
	// The key is only a 64-bit hash: compare the whole token.
	if !ok || e.token != token {
		return nil, false, nil
	}
	// The same checks, in the same order, as verify after the header.
	keys, err := j.keys.Keys(ctx, e.kid)
	if err != nil {
		if _, bad := errors.AsType[*TokenError](err); bad {
			j.cache.tokens.Remove(k, e.same) // the kid left the key set
		}
		return nil, true, err
	}
	if !e.keyIn(keys) {
		// The key that verified it was replaced or removed: verify afresh
		// against what the key set holds now.
		j.cache.tokens.Remove(k, e.same)
		return nil, false, nil
	}
	if err := checkTimes(now, e.claims); err != nil {
		return nil, true, err
	}
	if j.revocations == nil {
		return e.claims, true, nil
	}
	var gen uint64
	if e.memo != nil {
		// Read before Lookup: an event stored meanwhile changes it, and
		// the next hit looks again.
		gen = j.generation.Generation() + 1
		if e.memo.clean.Load() == gen {
			return e.claims, true, nil
		}
	}
	r := j.revocations.Lookup(e.claims)
	if r.IsZero() {
		if e.memo != nil {
			e.memo.clean.Store(gen)
		}
		return e.claims, true, nil
	}
	switch r.verdict(e.claims, e.at, false, true) {
	case revocationRevoked:
		j.cache.tokens.Remove(k, e.same)
		return nil, true, &TokenError{Reason: ErrRevoked, Claim: "iat"}
	case revocationStale:
		// An event made the verification stale: verify afresh.
		j.cache.tokens.Remove(k, e.same)
		return nil, false, nil
	case revocationStepUp:
		return e.claims.withoutStepUp(), true, nil
	}
	return e.claims, true, nil
}

// store caches the verified token until the earlier of its exp and the
// cache's TTL.
func (j *JWT) store(k tokencache.Key, token string, e jwtCached) {
	ttl := min(e.claims.expiry.Sub(j.now()), j.cache.ttl)
	// Clone: token may share memory with a larger buffer of the transport,
	// which would then stay alive uncounted.
	e.token = strings.Clone(token)
	e.at = j.now()
	if j.generation != nil {
		e.memo = new(revocationMemo)
	}
	cost := int64(len(e.token)) + int64(len(e.claims.raw)) + e.extra + jwtCacheEntryOverhead
	j.cache.tokens.Set(k, e, cost, ttl)
}

// same reports whether v is the entry e; it keeps remove from dropping an
// entry that replaced e in the meantime.
func (e *jwtCached) same(v jwtCached) bool { return v.claims == e.claims }

// keyIn reports whether keys still hold the key that verified e, fit for
// e's alg: the same object or, after a key set refresh, an equal key.
func (e *jwtCached) keyIn(keys []jose.JSONWebKey) bool {
	for i := range keys {
		if sameKey(keys[i].Key, e.key) && keyFits(&keys[i], e.alg) {
			return true
		}
	}
	return false
}

// A scopeMemo remembers the last few plain scope strings a JWT parsed:
// tokens of one client carry the same scope string again and again, and a
// scopeset.Set is immutable, so one Set may serve them all. It holds at most
// scopeMemoSlots strings, each under MaxTokenSize; a lost race between two
// writers only costs a parse.
type scopeMemo struct {
	seed  maphash.Seed
	slots [scopeMemoSlots]atomic.Pointer[scopeMemoEntry]
}

type scopeMemoEntry struct {
	s   string
	set scopeset.Set
}

// parse returns the Set of the plain scope string v, a view of a payload.
func (m *scopeMemo) parse(v string) (scopeset.Set, error) {
	slot := &m.slots[maphash.String(m.seed, v)%scopeMemoSlots]
	if e := slot.Load(); e != nil && e.s == v {
		return e.set, nil
	}
	owned := strings.Clone(v) // v is a view of one token's payload
	set, err := scopeset.Parse(owned)
	if err != nil {
		return scopeset.Set{}, err
	}
	slot.Store(&scopeMemoEntry{s: owned, set: set})
	return set, nil
}
