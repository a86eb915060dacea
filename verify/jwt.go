package verify

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/internal/tokencache"
	"github.com/oauthgate/oauthgate/scopes"
)

const (
	// defaultLeeway is the clock skew tolerated when JWTConfig.Leeway is 0.
	defaultLeeway = 30 * time.Second
	// maxLeeway bounds JWTConfig.Leeway: more would keep expired tokens
	// alive for longer than most access tokens live.
	maxLeeway = 5 * time.Minute
	// defaultMaxTokenSize is the size cap when JWTConfig.MaxTokenSize is 0.
	defaultMaxTokenSize = 8 << 10
	// maxNumericDate is 9999-12-31T23:59:59Z; later dates are not dates a
	// token can honestly carry and would overflow time arithmetic.
	maxNumericDate = 253402300799
	// maxJSONDepth bounds nesting in a payload, as encoding/json does.
	maxJSONDepth = 10000

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
	// Claims and their slices, and allocation rounding: 700-750 bytes
	// measured by TestJWTCache_MillionTokens, rounded up.
	jwtCacheEntryOverhead = 896
	// scopeMemoSlots is the number of scope strings a JWT remembers parsed.
	scopeMemoSlots = 64
)

// defaultAlgorithms is static data: the asymmetric JWS algorithms of RFC 7518
// §3.1 and RFC 8037, the only ones a resource server may accept. HMAC would
// require sharing the issuer's signing secret; "none" is no signature.
var defaultAlgorithms = [...]jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// JWTConfig configures a [JWT] verifier. Issuer and Audiences are required;
// every other field has a secure default. A JWTConfig must not be modified
// after it is passed to [NewJWT] (NewJWT copies what it needs, so later
// changes have no effect).
type JWTConfig struct {
	// Issuer is the exact iss value the authorization server puts in its
	// access tokens (RFC 9068 §4). It is compared byte for byte: a trailing
	// slash matters. Required.
	Issuer string
	// Audiences are the aud values that identify this resource server; a
	// token's aud must contain at least one of them (RFC 9068 §4).
	// Required; no element may be empty.
	Audiences []string
	// Algorithms is the allowlist of JWS algorithms. If empty, RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA are
	// accepted. HMAC (HS256, HS384, HS512), "none" and unknown algorithms are
	// rejected by NewJWT.
	Algorithms []jose.SignatureAlgorithm
	// AcceptUntyped also accepts tokens whose typ header is "JWT" (any
	// case, with or without "application/") or absent. By default only
	// "at+jwt" and "application/at+jwt" (case-insensitive) are accepted, so
	// that an ID token or another JWT from the same issuer cannot be
	// replayed as an access token (RFC 9068 §2.1, §4; RFC 8725 §3.11).
	// Enable it only for issuers that do not implement RFC 9068.
	AcceptUntyped bool
	// Leeway is the clock skew tolerated when checking exp, nbf and iat.
	// If Leeway is 0, 30 seconds is used (a leeway of exactly zero cannot be
	// expressed; 1ns is the closest). A negative leeway or one over 5
	// minutes is rejected by NewJWT.
	Leeway time.Duration
	// MaxTokenSize is the largest token, in bytes, that is parsed at all;
	// larger tokens are rejected with [ErrTooLarge] before any decoding. If
	// MaxTokenSize is 0, 8 KiB is used. Negative values are rejected by
	// NewJWT.
	MaxTokenSize int
	// Now returns the current time. If Now is nil, time.Now is used.
	Now func() time.Time

	// DisableCache turns the verified-token cache off, so that every call
	// checks a signature. By default a token string that verified is
	// remembered: presented again, byte for byte, it skips the signature
	// check, but its exp, nbf and iat are checked again on every call and its
	// signing key must still be in the key set (same kid, same key). Only
	// successful verifications are cached.
	DisableCache bool
	// CacheSize bounds the number of cached tokens. If CacheSize is 0,
	// 10 000 is used. Negative values are rejected by NewJWT.
	CacheSize int
	// CacheMaxBytes bounds the memory the cache holds, counting each
	// entry's token, payload and a fixed overhead of 896 bytes. If
	// CacheMaxBytes is 0, 16 MiB is used. The bound is split over up to 16
	// shards; a token too large for its shard's part is not cached.
	// Negative values are rejected by NewJWT.
	CacheMaxBytes int64
	// CacheMaxTTL is the longest a token stays cached; an entry also ends at
	// the token's exp. If CacheMaxTTL is 0, 5 minutes is used. Negative
	// values are rejected by NewJWT.
	CacheMaxTTL time.Duration
}

// A JWT verifies JWT access tokens (RFC 9068) signed by an issuer whose
// keys are in a [KeySet]. It implements [Verifier].
//
// A token is accepted only if it is a compact JWS with exactly one signature
// by an allowed algorithm and a key from the key set that fits that
// algorithm; its typ is an access token type; it carries no crit header and
// is not a nested JWT; its iss is the configured issuer; its aud holds a
// configured audience; exp is present and, like nbf and iat, consistent with
// the clock. Keys named by the token itself (jwk, jku, x5u, x5c) are never
// used.
//
// # Verified-token cache
//
// Unless JWTConfig.DisableCache is set, a JWT remembers the token strings it
// accepted, bounded in entries and bytes, each until the earlier of its exp
// and CacheMaxTTL. A later call with the identical string returns the same
// *Claims without checking the signature again, after checking the time
// claims against the clock and that the key that verified it is still in the
// key set under its kid; a key that left the set drops the entry and the
// token is verified afresh. Rejections are never cached. Entries are found
// by a seeded hash/maphash of the token and confirmed by comparing the
// whole token, so a hit never returns another token's claims; the cache
// therefore holds verified tokens in memory while they are cached.
//
// The registered claims iss, aud, exp, nbf, iat, sub, jti and client_id and
// the scope claim (or scp, when scope is absent) are read case-sensitively;
// a duplicate of any of them makes the token malformed. Other claims are
// available through [Claims.Decode].
//
// A JWT is safe for concurrent use.
type JWT struct {
	keys          KeySet
	issuer        string
	audiences     []string
	algorithms    []jose.SignatureAlgorithm
	acceptUntyped bool
	leeway        time.Duration
	maxTokenSize  int
	now           func() time.Time

	seed       maphash.Seed
	cache      *tokencache.Cache[jwtCached] // nil when disabled
	cacheTTL   time.Duration
	scopeMemos [scopeMemoSlots]atomic.Pointer[scopeMemo]
}

// A jwtCached is a verified token in the cache: the token itself, to
// confirm a hit, and what is needed to check again that its key is still in
// the key set.
type jwtCached struct {
	token  string
	claims *Claims
	kid    string
	alg    jose.SignatureAlgorithm
	key    any // the JSONWebKey.Key that verified the signature
	hasNbf bool
	hasIat bool
	extra  int64 // bytes the claims hold beyond the payload
}

// A scopeMemo is a parsed scope claim. Sets are immutable, and tokens of one
// client carry the same scope string again and again.
type scopeMemo struct {
	s   string
	set scopes.Set
}

// A claimsBlock gets Claims and a one-element audience from one allocation.
type claimsBlock struct {
	c   Claims
	aud [1]string
}

var _ Verifier = (*JWT)(nil)

// NewJWT returns a verifier for JWT access tokens signed with keys from
// keys. It validates cfg as a whole and returns an error naming the field
// at fault; see [JWTConfig] for the requirements and defaults.
func NewJWT(keys KeySet, cfg JWTConfig) (*JWT, error) {
	if keys == nil {
		return nil, errors.New("verify: NewJWT needs a KeySet; use NewStaticKeySet or a remote JWKS key set")
	}
	if s, ok := keys.(*StaticKeySet); ok && s == nil {
		return nil, errors.New("verify: NewJWT was given a nil *StaticKeySet")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("verify: JWTConfig.Issuer is empty; set it to the exact iss value of your authorization server's access tokens")
	}
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("verify: JWTConfig.Audiences is empty; a resource server must check aud (RFC 9068 §4)")
	}
	for i, aud := range cfg.Audiences {
		if aud == "" {
			return nil, fmt.Errorf("verify: JWTConfig.Audiences[%d] is empty; list the identifiers of this API", i)
		}
	}
	algs := slices.Clone(cfg.Algorithms)
	if len(algs) == 0 {
		algs = slices.Clone(defaultAlgorithms[:])
	}
	for _, alg := range algs {
		if !slices.Contains(defaultAlgorithms[:], alg) {
			return nil, fmt.Errorf("verify: JWTConfig.Algorithms contains %q; only asymmetric algorithms (RS*, PS*, ES*, EdDSA) are allowed", string(alg))
		}
	}
	slices.Sort(algs)
	algs = slices.Compact(algs)
	leeway := cfg.Leeway
	switch {
	case leeway < 0:
		return nil, fmt.Errorf("verify: JWTConfig.Leeway is negative (%v); use 0 for the 30s default", leeway)
	case leeway > maxLeeway:
		return nil, fmt.Errorf("verify: JWTConfig.Leeway %v is over the %v limit", leeway, maxLeeway)
	case leeway == 0:
		leeway = defaultLeeway
	}
	size := cfg.MaxTokenSize
	switch {
	case size < 0:
		return nil, fmt.Errorf("verify: JWTConfig.MaxTokenSize is negative (%d); use 0 for the 8 KiB default", size)
	case size == 0:
		size = defaultMaxTokenSize
	}
	switch {
	case cfg.CacheSize < 0:
		return nil, fmt.Errorf("verify: JWTConfig.CacheSize is negative (%d); use 0 for the default of 10000 or set DisableCache", cfg.CacheSize)
	case cfg.CacheMaxBytes < 0:
		return nil, fmt.Errorf("verify: JWTConfig.CacheMaxBytes is negative (%d); use 0 for the 16 MiB default or set DisableCache", cfg.CacheMaxBytes)
	case cfg.CacheMaxTTL < 0:
		return nil, fmt.Errorf("verify: JWTConfig.CacheMaxTTL is negative (%v); use 0 for the 5m default or set DisableCache", cfg.CacheMaxTTL)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	j := &JWT{
		keys:          keys,
		issuer:        cfg.Issuer,
		audiences:     slices.Clone(cfg.Audiences),
		algorithms:    algs,
		acceptUntyped: cfg.AcceptUntyped,
		leeway:        leeway,
		maxTokenSize:  size,
		now:           now,
		seed:          maphash.MakeSeed(),
		cacheTTL:      cmp.Or(cfg.CacheMaxTTL, defaultJWTCacheMaxTTL),
	}
	if !cfg.DisableCache {
		j.cache = tokencache.New[jwtCached](tokencache.Config{Size: cmp.Or(cfg.CacheSize, defaultJWTCacheSize),
			MaxBytes: cmp.Or(cfg.CacheMaxBytes, defaultJWTCacheMaxBytes), Now: now})
	}
	return j, nil
}

// Issuer returns the issuer the verifier accepts, JWTConfig.Issuer.
func (j *JWT) Issuer() string { return j.issuer }

// Verify checks token and returns its claims.
//
// Checks run cheapest first and no claim is read before the signature is
// verified: size, structure, header (alg, typ, crit, cty), key selection
// and signature, then claims. A bad token yields a [*TokenError] matching
// [ErrInvalidToken] and its reason. Errors from the key set that match
// [ErrUnavailable] (and any other error it returns, apart from a
// [*TokenError]) are returned unchanged. When the key set offers no key that
// fits the token's alg (by type, curve or the JWK's own alg), the reason is
// [ErrAlgorithm]; when fitting keys exist but none verifies the signature,
// it is [ErrSignature].
//
// With the cache on (see [JWT]), a token that verified before is answered
// from the cache after the checks that can change with time: its key is
// still in the key set and exp, nbf and iat still hold.
func (j *JWT) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > j.maxTokenSize {
		return nil, &TokenError{Reason: ErrTooLarge}
	}
	if j.cache == nil {
		c, _, err := j.verify(ctx, token)
		return c, err
	}
	k := tokencache.FastKey(j.seed, token)
	if c, hit, err := j.cached(ctx, k, token); hit {
		return c, err
	}
	c, e, err := j.verify(ctx, token)
	if err != nil {
		return nil, err // RFC 8725 aside, caching failures would let them be pinned
	}
	j.store(k, token, e)
	return c, nil
}

// cached answers Verify from the cache. hit is false when the cache has no
// usable entry for token and the token must be verified.
func (j *JWT) cached(ctx context.Context, k tokencache.Key, token string) (c *Claims, hit bool, err error) {
	now := j.now()
	e, ok := j.cache.GetAt(k, now)
	// The key is only a 64-bit hash: compare the whole token.
	if !ok || e.token != token {
		return nil, false, nil
	}
	// The same checks, in the same order, as verify after the header.
	keys, err := j.keys.Keys(ctx, e.kid)
	if err != nil {
		if _, bad := errors.AsType[*TokenError](err); bad {
			j.cache.Remove(k, e.same) // the kid left the key set
		}
		return nil, true, err
	}
	if !e.keyIn(keys) {
		// The key that verified it was replaced or removed: verify afresh
		// against what the key set holds now.
		j.cache.Remove(k, e.same)
		return nil, false, nil
	}
	if err := j.checkTimes(now, e.claims, e.hasNbf, e.hasIat); err != nil {
		return nil, true, err
	}
	return e.claims, true, nil
}

// store caches the verified token until the earlier of its exp and the
// cache's TTL.
func (j *JWT) store(k tokencache.Key, token string, e jwtCached) {
	ttl := min(e.claims.Expiry.Sub(j.now()), j.cacheTTL)
	// Clone: token may share memory with a larger buffer of the transport,
	// which would then stay alive uncounted.
	e.token = strings.Clone(token)
	cost := int64(len(e.token)) + int64(len(e.claims.raw)) + e.extra + jwtCacheEntryOverhead
	j.cache.Set(k, e, cost, ttl)
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

// sameKey reports whether a and b are the same public key. Pointer
// equality is the fast path; Equal covers a key set refresh, which parses
// new objects for the same keys.
func sameKey(a, b any) bool {
	switch x := a.(type) {
	case *rsa.PublicKey:
		y, ok := b.(*rsa.PublicKey)
		return ok && (x == y || x.Equal(y))
	case *ecdsa.PublicKey:
		y, ok := b.(*ecdsa.PublicKey)
		return ok && (x == y || x.Equal(y))
	case ed25519.PublicKey:
		y, ok := b.(ed25519.PublicKey)
		return ok && bytes.Equal(x, y)
	}
	return false
}

// verify checks token without the cache and returns its claims and, for the
// cache, how it was verified.
func (j *JWT) verify(ctx context.Context, token string) (*Claims, jwtCached, error) {
	var none jwtCached
	switch strings.Count(token, ".") {
	case 2: // header.payload.signature, RFC 7515 §7.1
	case 4: // RFC 7516 §7.1: a JWE. Encrypted access tokens are not supported.
		return nil, none, &TokenError{Reason: ErrUnsupported}
	default:
		return nil, none, &TokenError{Reason: ErrMalformed}
	}
	jws, err := jose.ParseSignedCompact(token, j.algorithms)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, none, &TokenError{Reason: ErrAlgorithm, Claim: "alg"}
		}
		// go-jose's message may quote header values; it is dropped.
		return nil, none, &TokenError{Reason: ErrMalformed}
	}
	if len(jws.Signatures) != 1 {
		return nil, none, &TokenError{Reason: ErrUnsupported}
	}
	// A compact JWS has only a protected header, so every value here is
	// covered by the signature once it verifies.
	h := &jws.Signatures[0].Protected
	if err := j.checkHeader(h); err != nil {
		return nil, none, err
	}
	alg := jose.SignatureAlgorithm(h.Algorithm)

	keys, err := j.keys.Keys(ctx, h.KeyID)
	if err != nil {
		return nil, none, err
	}
	if len(keys) == 0 {
		return nil, none, &TokenError{Reason: ErrUnknownKey, Claim: "kid"}
	}
	var payload []byte
	var key any
	fits := false
	for i := range keys {
		k := &keys[i]
		if !keyFits(k, alg) {
			continue
		}
		fits = true
		// RFC 8725 §3.1: the key, not the token, decides what verifies it;
		// h.JSONWebKey (an embedded jwk) is never used.
		if p, err := jws.Verify(k.Key); err == nil {
			payload, key = p, k.Key
			break
		}
	}
	switch {
	case !fits:
		return nil, none, &TokenError{Reason: ErrAlgorithm, Claim: "alg"}
	case payload == nil:
		return nil, none, &TokenError{Reason: ErrSignature}
	}

	// One allocation for the claims and a single audience; string claims
	// are views of payload (see claimReader.view).
	blk := &claimsBlock{}
	c := &blk.c
	c.raw = payload
	r := claimReader{aud: &blk.aud}
	if err := r.read(j, payload, c); err != nil {
		return nil, none, err
	}
	if err := j.checkClaims(&r, c); err != nil {
		return nil, none, err
	}
	return c, jwtCached{
		claims: c,
		kid:    h.KeyID,
		alg:    alg,
		key:    key,
		hasNbf: r.seen&seenNbf != 0,
		hasIat: r.seen&seenIat != 0,
		extra:  r.extra,
	}, nil
}

// checkHeader applies the header rules that do not depend on the key.
func (j *JWT) checkHeader(h *jose.Header) error {
	var typ, cty any
	hasTyp, hasCty := false, false
	for name, v := range h.ExtraHeaders {
		switch name {
		case "crit":
			// RFC 7515 §4.1.11: a recipient must reject critical extensions
			// it does not understand, and this verifier understands none.
			return &TokenError{Reason: ErrUnsupported, Claim: "crit"}
		case "b64":
			// RFC 7797 §7: unencoded payloads are not for JWTs.
			return &TokenError{Reason: ErrUnsupported, Claim: "b64"}
		case jose.HeaderType:
			typ, hasTyp = v, true
		case jose.HeaderContentType:
			cty, hasCty = v, true
		}
	}
	if hasCty {
		// RFC 7519 §5.2: cty "JWT" marks a nested token, which would be
		// verified by a different key and is refused.
		s, ok := cty.(string)
		if !ok || mediaTypeIs(s, "jwt") {
			return &TokenError{Reason: ErrUnsupported, Claim: "cty"}
		}
	}
	if !hasTyp {
		if j.acceptUntyped {
			return nil
		}
		return &TokenError{Reason: ErrType, Claim: "typ"}
	}
	s, ok := typ.(string)
	switch {
	case ok && mediaTypeIs(s, "at+jwt"): // RFC 9068 §2.1
		return nil
	case ok && j.acceptUntyped && mediaTypeIs(s, "jwt"):
		return nil
	}
	return &TokenError{Reason: ErrType, Claim: "typ"}
}

// mediaTypeIs reports whether the typ or cty value v names the media type
// application/want. RFC 7515 §4.1.9: the "application/" prefix may be
// omitted, and media types compare case-insensitively (RFC 2045 §5.1).
func mediaTypeIs(v, want string) bool {
	const prefix = "application/"
	if len(v) > len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
		v = v[len(prefix):]
	}
	return strings.EqualFold(v, want)
}

// keyFits reports whether k may verify a signature made with alg: the JWK's
// own alg, if any, must be alg (RFC 7517 §4.4), and its key type and curve
// must be those alg is defined for (RFC 7518 §3, RFC 8037 §3.1). This stops
// algorithm confusion whatever the key set holds.
func keyFits(k *jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	if k.Use == "enc" {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return key.N != nil && key.N.BitLen() >= minRSABits
		}
	case *ecdsa.PublicKey:
		return curveAlgorithm(key) == alg
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// curveAlgorithm returns the one JWS algorithm defined for the key's curve
// (RFC 7518 §3.4), or "" for curves JWS does not use.
func curveAlgorithm(k *ecdsa.PublicKey) jose.SignatureAlgorithm {
	switch k.Curve {
	case elliptic.P256():
		return jose.ES256
	case elliptic.P384():
		return jose.ES384
	case elliptic.P521():
		return jose.ES512
	}
	return ""
}

// checkClaims applies the claim rules of RFC 9068 §4 to claims read by r.
func (j *JWT) checkClaims(r *claimReader, c *Claims) error {
	switch {
	case r.seen&seenIss == 0:
		return &TokenError{Reason: ErrMissingClaim, Claim: "iss"}
	case !r.issuerOK:
		return &TokenError{Reason: ErrIssuer, Claim: "iss"}
	case r.seen&seenExp == 0:
		return &TokenError{Reason: ErrMissingClaim, Claim: "exp"}
	}
	if err := j.checkTimes(j.now(), c, r.seen&seenNbf != 0, r.seen&seenIat != 0); err != nil {
		return err
	}
	switch {
	case r.seen&seenAud == 0:
		return &TokenError{Reason: ErrMissingClaim, Claim: "aud"}
	case !r.audienceOK:
		return &TokenError{Reason: ErrAudience, Claim: "aud"}
	}
	return nil
}

// checkTimes checks exp, and nbf and iat when present, against now. It runs
// on every call, cached or not.
func (j *JWT) checkTimes(now time.Time, c *Claims, hasNbf, hasIat bool) error {
	// RFC 7519 §4.1.4: the token is valid only while now is before exp; the
	// leeway extends that, so at exactly exp+leeway it has expired.
	if !now.Before(c.Expiry.Add(j.leeway)) {
		return &TokenError{Reason: ErrExpired, Claim: "exp"}
	}
	// RFC 7519 §4.1.5: valid from nbf on; nbf == now+leeway is accepted.
	if hasNbf && c.NotBefore.After(now.Add(j.leeway)) {
		return &TokenError{Reason: ErrNotYetValid, Claim: "nbf"}
	}
	if hasIat && c.IssuedAt.After(now.Add(j.leeway)) {
		return &TokenError{Reason: ErrIssuedInFuture, Claim: "iat"}
	}
	return nil
}

// Bits of claimReader.seen.
const (
	seenIss uint16 = 1 << iota
	seenSub
	seenAud
	seenExp
	seenNbf
	seenIat
	seenJTI
	seenClientID
	seenScope
	seenScp
)

// A claimReader decodes a verified payload into Claims in one pass, without
// reflection or maps. Unlike encoding/json it matches claim names exactly
// (RFC 7519 §10.1.1: names are case-sensitive) and rejects duplicates of the
// claims it reads, so it cannot be made to read a different value than
// another JWT library would.
//
// Plain string values (printable ASCII, no escapes) are not copied: they
// are views of the payload, which Claims keeps as its raw claim set and
// nobody modifies (Claims.Raw documents that its caller must not).
type claimReader struct {
	s          jsonScanner
	seen       uint16
	issuerOK   bool
	audienceOK bool
	scp        []byte     // raw scp value, used when scope is absent
	aud        *[1]string // storage for a single audience, allocated with Claims
	extra      int64      // bytes allocated for the claims beyond the payload
}

// view returns s.b[start:end] as a string without copying it.
func (r *claimReader) view(start, end int) string {
	if end <= start {
		return ""
	}
	// The payload is immutable once read: see claimReader.
	return unsafe.String(&r.s.b[start], end-start)
}

// decode returns the value of the validated string literal s.b[start-1:end+1]
// that is not plain, counting the copy in r.extra.
func (r *claimReader) decode(start, end int) string {
	v := decodeJSONString(r.s.b[start-1 : end+1])
	r.extra += int64(len(v))
	return v
}

// read decodes payload, a JSON object, into c and records in r what it saw.
func (r *claimReader) read(j *JWT, payload []byte, c *Claims) error {
	r.s = jsonScanner{b: payload}
	s := &r.s
	s.skipWS()
	if !s.consume('{') {
		return malformedClaim("")
	}
	s.skipWS()
	if s.consume('}') {
		return r.finish(c)
	}
	for {
		start, end, plain, ok := s.str()
		if !ok {
			return malformedClaim("")
		}
		name := claimName(s.b[start:end])
		if !plain {
			name = claimName([]byte(decodeJSONString(s.b[start-1 : end+1])))
		}
		s.skipWS()
		if !s.consume(':') {
			return malformedClaim("")
		}
		s.skipWS()
		if name == "" {
			if !s.value(1) {
				return malformedClaim("")
			}
		} else if err := r.claim(j, name, c); err != nil {
			return err
		}
		s.skipWS()
		if s.consume(',') {
			s.skipWS()
			continue
		}
		if !s.consume('}') {
			return malformedClaim("")
		}
		s.skipWS()
		if s.i != len(s.b) {
			return malformedClaim("")
		}
		return r.finish(c)
	}
}

// finish reads scp if scope was absent.
func (r *claimReader) finish(c *Claims) error {
	if r.seen&seenScope == 0 && r.seen&seenScp != 0 {
		if err := c.Scopes.UnmarshalJSON(r.scp); err != nil {
			return malformedClaim("scp")
		}
		r.extra += int64(len(r.scp)) + 16*int64(c.Scopes.Len())
	}
	return nil
}

// claimName returns the registered claim named b, or "" for any other name.
func claimName(b []byte) string {
	switch string(b) { // no allocation: the compiler switches on the bytes
	case "iss":
		return "iss"
	case "sub":
		return "sub"
	case "aud":
		return "aud"
	case "exp":
		return "exp"
	case "nbf":
		return "nbf"
	case "iat":
		return "iat"
	case "jti":
		return "jti"
	case "client_id":
		return "client_id"
	case "scope":
		return "scope"
	case "scp":
		return "scp"
	}
	return ""
}

// claimBit maps a registered claim name to its seen bit.
func claimBit(name string) uint16 {
	switch name {
	case "iss":
		return seenIss
	case "sub":
		return seenSub
	case "aud":
		return seenAud
	case "exp":
		return seenExp
	case "nbf":
		return seenNbf
	case "iat":
		return seenIat
	case "jti":
		return seenJTI
	case "client_id":
		return seenClientID
	case "scope":
		return seenScope
	}
	return seenScp
}

// malformedClaim returns the error for a payload that is not a JSON object
// (claim "") or a claim of the wrong type. Errors are built only when
// returned: reading a good token allocates none.
func malformedClaim(claim string) error { return &TokenError{Reason: ErrMalformed, Claim: claim} }

// claim reads the value of the registered claim name at the scanner's
// position.
func (r *claimReader) claim(j *JWT, name string, c *Claims) error {
	s := &r.s
	bit := claimBit(name)
	if r.seen&bit != 0 {
		return malformedClaim(name) // RFC 7519 §4: duplicate claim names may be rejected.
	}
	r.seen |= bit
	switch name {
	case "iss":
		start, end, plain, ok := s.str()
		if !ok {
			return malformedClaim(name)
		}
		if plain {
			r.issuerOK = string(s.b[start:end]) == j.issuer
		} else {
			r.issuerOK = decodeJSONString(s.b[start-1:end+1]) == j.issuer
		}
		if r.issuerOK {
			c.Issuer = j.issuer
		}
	case "sub", "jti", "client_id":
		start, end, plain, ok := s.str()
		if !ok {
			return malformedClaim(name)
		}
		var v string
		if plain {
			v = r.view(start, end)
		} else {
			v = r.decode(start, end)
		}
		switch name {
		case "sub":
			c.Subject = v
		case "jti":
			c.ID = v
		default:
			c.ClientID = v
		}
	case "aud":
		if !r.audience(j, c) {
			return malformedClaim(name)
		}
	case "exp", "nbf", "iat":
		start := s.i
		if s.i >= len(s.b) || !s.num() {
			return malformedClaim(name)
		}
		t, ok := parseNumericDate(s.b[start:s.i])
		if !ok {
			return malformedClaim(name)
		}
		switch name {
		case "exp":
			c.Expiry = t
		case "nbf":
			c.NotBefore = t
		default:
			c.IssuedAt = t
		}
	case "scope":
		start := s.i
		if s.i < len(s.b) && s.b[s.i] == '"' {
			// Fast path for the RFC 9068 form, a plain string.
			if vs, ve, plain, ok := s.str(); ok && plain {
				set, err := j.parseScope(r.view(vs, ve))
				if err != nil {
					return malformedClaim(name)
				}
				c.Scopes = set
				return nil
			}
			s.i = start
		}
		if !s.value(1) {
			return malformedClaim(name)
		}
		if err := c.Scopes.UnmarshalJSON(s.b[start:s.i]); err != nil {
			return malformedClaim(name)
		}
		r.extra += int64(s.i-start) + 16*int64(c.Scopes.Len())
	case "scp":
		start := s.i
		if !s.value(1) {
			return malformedClaim(name)
		}
		r.scp = s.b[start:s.i]
	}
	return nil
}

// audience reads aud: a string or an array of strings (RFC 7519 §4.1.3).
func (r *claimReader) audience(j *JWT, c *Claims) bool {
	s := &r.s
	one := func() bool {
		start, end, plain, ok := s.str()
		if !ok {
			return false
		}
		var v string
		if plain {
			// Reuse the configured string on a match.
			if i := slices.Index(j.audiences, string(s.b[start:end])); i >= 0 {
				v = j.audiences[i]
				r.audienceOK = true
			} else {
				v = r.view(start, end)
			}
		} else {
			v = r.decode(start, end)
			r.audienceOK = r.audienceOK || slices.Contains(j.audiences, v)
		}
		if len(c.Audience) == cap(c.Audience) {
			r.extra += 16 * int64(len(c.Audience)+1) // append's new array, roughly
		}
		c.Audience = append(c.Audience, v)
		return true
	}
	// Audience starts in the one-element array allocated with Claims; a
	// second element moves it to the heap.
	c.Audience = r.aud[:0:1]
	if s.i < len(s.b) && s.b[s.i] == '"' {
		return one()
	}
	if !s.consume('[') {
		return false
	}
	s.skipWS()
	if s.consume(']') {
		return true
	}
	for {
		if !one() {
			return false
		}
		s.skipWS()
		if s.consume(',') {
			s.skipWS()
			continue
		}
		return s.consume(']')
	}
}

// parseScope parses a plain scope claim, remembering the last few results:
// tokens of one client carry the same scope string again and again, and a
// scopes.Set is immutable, so one Set may serve them all. The memo holds at
// most scopeMemoSlots strings, each under MaxTokenSize; a lost race between
// two writers only costs a parse.
func (j *JWT) parseScope(v string) (scopes.Set, error) {
	slot := &j.scopeMemos[maphash.String(j.seed, v)%scopeMemoSlots]
	if m := slot.Load(); m != nil && m.s == v {
		return m.set, nil
	}
	owned := strings.Clone(v) // v is a view of one token's payload
	set, err := scopes.Parse(owned)
	if err != nil {
		return scopes.Set{}, err
	}
	slot.Store(&scopeMemo{s: owned, set: set})
	return set, nil
}

// parseNumericDate converts a JSON number (RFC 7519 §2 NumericDate: seconds since
// the epoch, possibly fractional) to a time. Negative values and values past
// the year 9999 are refused.
func parseNumericDate(b []byte) (time.Time, bool) {
	if len(b) == 0 || b[0] == '-' {
		return time.Time{}, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return parseFractionalDate(b)
		}
		n = n*10 + int64(c-'0')
		if n > maxNumericDate {
			return time.Time{}, false
		}
	}
	return time.Unix(n, 0).UTC(), true
}

// parseFractionalDate is parseNumericDate's slow path, for 1.5 and 1e9.
func parseFractionalDate(b []byte) (time.Time, bool) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	return time.Unix(int64(sec), int64(nsec)).UTC(), true
}

// decodeJSONString decodes a JSON string literal (quotes included) that the
// scanner has already validated; it is the slow path for escapes and
// non-ASCII bytes, where invalid UTF-8 becomes U+FFFD as in encoding/json.
func decodeJSONString(lit []byte) string {
	var v string
	if err := json.Unmarshal(lit, &v); err != nil {
		// Unreachable for a validated literal; an impossible value keeps
		// the caller fail-closed.
		return "\x00invalid"
	}
	return v
}

// A jsonScanner validates JSON (RFC 8259) as strictly as encoding/json's
// Valid while walking it, so that claims can be read in one pass.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) skipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str scans a string literal and returns the bounds of its contents. plain
// reports that the contents are printable ASCII without escapes, so they
// are the string's value as is.
func (s *jsonScanner) str() (start, end int, plain, ok bool) {
	if !s.consume('"') {
		return 0, 0, false, false
	}
	start, plain = s.i, true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			end = s.i
			s.i++
			return start, end, plain, true
		case c < 0x20:
			return 0, 0, false, false
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(s.b) {
				return 0, 0, false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+5 > len(s.b) {
					return 0, 0, false, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !jsonIsHex(h) {
						return 0, 0, false, false
					}
				}
				s.i += 5
			default:
				return 0, 0, false, false
			}
		default:
			if c >= 0x80 {
				plain = false
			}
			s.i++
		}
	}
	return 0, 0, false, false
}

func jsonIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func jsonIsDigit(c byte) bool { return '0' <= c && c <= '9' }

// num scans a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) num() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && jsonIsDigit(b[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !jsonIsDigit(b[i]) {
			return false
		}
		for i < len(b) && jsonIsDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !jsonIsDigit(b[i]) {
			return false
		}
		for i < len(b) && jsonIsDigit(b[i]) {
			i++
		}
	}
	s.i = i
	return true
}

// value scans any JSON value at nesting depth depth.
func (s *jsonScanner) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		_, _, _, ok := s.str()
		return ok
	case '{':
		if depth >= maxJSONDepth {
			return false
		}
		s.i++
		s.skipWS()
		if s.consume('}') {
			return true
		}
		for {
			if _, _, _, ok := s.str(); !ok {
				return false
			}
			s.skipWS()
			if !s.consume(':') {
				return false
			}
			s.skipWS()
			if !s.value(depth + 1) {
				return false
			}
			s.skipWS()
			if s.consume(',') {
				s.skipWS()
				continue
			}
			return s.consume('}')
		}
	case '[':
		if depth >= maxJSONDepth {
			return false
		}
		s.i++
		s.skipWS()
		if s.consume(']') {
			return true
		}
		for {
			if !s.value(depth + 1) {
				return false
			}
			s.skipWS()
			if s.consume(',') {
				s.skipWS()
				continue
			}
			return s.consume(']')
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.num()
}

func (s *jsonScanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}
