package verify

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	// defaultLeeway is the clock skew tolerated when JWTConfig.Leeway is 0.
	defaultLeeway = 30 * time.Second
	// maxLeeway bounds JWTConfig.Leeway: more would keep expired tokens
	// alive for longer than most access tokens live.
	maxLeeway = 5 * time.Minute
	// defaultMaxTokenSize is the size cap when JWTConfig.MaxTokenSize is 0.
	defaultMaxTokenSize = 8 << 10
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

// JWTConfig configures a [JWT] verifier. Issuer and Audiences are required
// (Audiences may be replaced by the explicit ClientIDAudience); every other
// field has a secure default. A JWTConfig must not be modified
// after it is passed to [NewJWT] (NewJWT copies what it needs, so later
// changes have no effect).
type JWTConfig struct {
	// Issuer is the exact iss value the authorization server puts in its
	// access tokens (RFC 9068 §4). It is compared byte for byte: a trailing
	// slash matters. Required. With Tenants or AnyTenant it is a template
	// holding "{tenant}" once, in the URL path.
	Issuer string
	// Audiences are the aud values that identify this resource server; a
	// token's aud must contain at least one of them (RFC 9068 §4).
	// Required, unless ClientIDAudience is set; no element may be empty.
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
	// Enable it only for issuers that do not implement RFC 9068. It is
	// shorthand for Types {"at+jwt", "JWT", ""}; setting both is an error.
	AcceptUntyped bool
	// Types is the allowlist of typ header values accepted, for issuers
	// that do not implement RFC 9068 (see "Tokens from identity providers"
	// in the README). Values compare as media types: case-insensitively,
	// with or without "application/". The empty string accepts a token
	// without typ. If Types is empty, only "at+jwt" is accepted (or what
	// AcceptUntyped says). A type other than at+jwt also makes the verifier
	// refuse tokens carrying the claims only OpenID Connect ID tokens carry
	// (nonce, at_hash, c_hash), since such types do not tell ID tokens from
	// access tokens; see InsecureAcceptIDTokens.
	Types []string
	// InsecureAcceptIDTokens accepts OpenID Connect ID tokens as access
	// tokens: the ID-token claims above are no longer refused, and the
	// Google issuers (https://accounts.google.com, accounts.google.com),
	// which sign only ID tokens, are allowed. An ID token says who a user
	// or service account is to the client it was issued to; it grants
	// nothing, and with Google any service account can obtain one for any
	// aud. Use it only for service-to-service calls where aud is this
	// service's own URL and the proto rules name the callers (Authorities
	// {{"email"}}). It requires a Types entry other than at+jwt.
	InsecureAcceptIDTokens bool

	// Authorities lists the claims whose values form [Claims.Scopes], the
	// set the proto rules are checked against. If empty, it is the scope
	// claim or, when scope is absent, scp. Each listed claim is a top-level
	// claim or a path into nested objects ({"realm_access", "roles"});
	// scope and scp hold a space-delimited string or an array, every other
	// claim an array of strings or one string, which is never split. Each
	// value must be an RFC 6749 scope token. A present claim of another
	// type, a repeated member on a listed path, or a value that is not a
	// scope token makes the token malformed, whether or not the claim is
	// used. The first listed claim that is present (not null) gives the set;
	// with MergeAuthorities the set is the union of all present ones. A path
	// may not start at a registered claim other than scope and scp. At most
	// 16 paths.
	Authorities []ClaimPath
	// MergeAuthorities makes the set the union of every present claim in
	// Authorities instead of the first. It requires Authorities.
	MergeAuthorities bool

	// ClientIDAudience, if set, is the named alternative to aud for
	// providers whose access tokens carry none and name the recipient by
	// client_id (Amazon Cognito). See [ClientIDAudience]. A token that
	// carries aud is still checked against Audiences, which may then be
	// empty: a token with aud is then always refused.
	ClientIDAudience *ClientIDAudience

	// Tenants makes Issuer a template for a multi-tenant provider: an
	// Issuer holding "{tenant}" in its path, such as
	// "https://login.microsoftonline.com/{tenant}/v2.0", accepts the iss of
	// each listed tenant, and the token's tid claim must equal the tenant in
	// its iss. Keys come from the one KeySet, shared by all tenants. A
	// template requires Tenants or AnyTenant; an exact Issuer allows
	// neither.
	Tenants []string
	// AnyTenant accepts every tenant of an Issuer template (still with tid
	// equal to the tenant in iss): any organisation with an account at the
	// provider can then obtain tokens this verifier accepts, so the proto
	// rules, aud and Authorities must be what stands between them and the
	// API. It excludes Tenants.
	AnyTenant bool
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

// A ClientIDAudience identifies this resource server by the client_id
// claim of tokens that carry no aud, as Amazon Cognito's access tokens do
// (their client_id is the app client). It is set in
// [JWTConfig].ClientIDAudience; aud is never just skipped.
type ClientIDAudience struct {
	// ClientIDs are the accepted client_id values of a token without aud.
	// Required; no element may be empty.
	ClientIDs []string
	// TokenUse is the value every token's token_use claim must have, with
	// or without aud: "access" for Cognito, whose ID tokens say "id" and
	// carry the client as aud. Required.
	TokenUse string
}

// A JWT verifies JWT access tokens (RFC 9068) signed by an issuer whose
// keys are in a [KeySet]. It implements [Verifier].
//
// A token is accepted only if it is a compact JWS with exactly one signature
// by an allowed algorithm and a key from the key set that fits that
// algorithm; its typ is in the Types allowlist (at+jwt by default); it
// carries no crit header and is not a nested JWT; its iss is the configured
// issuer (or, for an issuer template, that of a configured tenant, named
// again by tid); its aud holds a configured audience (or, only when aud is
// absent and ClientIDAudience is set, its client_id is a configured client);
// exp is present and, like nbf and iat, consistent with the clock. Keys
// named by the token itself (jwk, jku, x5u, x5c) are never used.
//
// # Identity providers
//
// Tokens from providers that bend RFC 9068 are accepted by naming each
// deviation in the [JWTConfig]: Types for their typ, Authorities for where
// their permissions are (Entra ID roles, Auth0 permissions, Keycloak
// realm_access.roles), ClientIDAudience for tokens without aud (Amazon
// Cognito), Tenants or AnyTenant for multi-tenant issuers (Entra ID), and
// InsecureAcceptIDTokens for ID tokens used as bearer tokens. The README's
// "Tokens from identity providers" has a tested recipe per provider.
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
// The registered claims iss, aud, exp, nbf, iat, sub, jti and client_id,
// the scope claim (or scp, when scope is absent) or the configured
// Authorities, and, when the configuration needs them, tid, token_use,
// nonce, at_hash and c_hash are read case-sensitively; a duplicate of any
// of them makes the token malformed. Other claims are available through
// [Claims.Decode].
//
// A JWT is safe for concurrent use.
type JWT struct {
	keys         KeySet
	rules        claimRules
	algorithms   []jose.SignatureAlgorithm
	types        []string // accepted typ values: lower case, no application/
	clientIDAud  *ClientIDAudience
	leeway       time.Duration
	maxTokenSize int
	now          func() time.Time
	cache        *jwtCache // nil when disabled
	scopes       scopeMemo
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
	if len(cfg.Audiences) == 0 && cfg.ClientIDAudience == nil {
		return nil, errors.New("verify: JWTConfig.Audiences is empty; a resource server must check aud (RFC 9068 §4), or name its client in JWTConfig.ClientIDAudience when the provider issues no aud")
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
	types, err := jwtTypes(&cfg)
	if err != nil {
		return nil, err
	}
	cidAud, err := checkClientIDAudience(cfg.ClientIDAudience)
	if err != nil {
		return nil, err
	}
	auth, err := compileAuthorities("JWTConfig", cfg.Authorities, cfg.MergeAuthorities)
	if err != nil {
		return nil, err
	}
	tenant, err := newTenantIssuer(&cfg)
	if err != nil {
		return nil, err
	}
	j := &JWT{
		keys:         keys,
		algorithms:   algs,
		types:        types,
		clientIDAud:  cidAud,
		leeway:       leeway,
		maxTokenSize: size,
		now:          now,
		cache:        newJWTCache(cfg, now),
		scopes:       scopeMemo{seed: maphash.MakeSeed()},
	}
	j.rules = claimRules{issuer: cfg.Issuer, audiences: slices.Clone(cfg.Audiences), parseScope: j.scopes.parse,
		auth: auth, tenant: tenant}
	if tenant != nil {
		j.rules.optional |= seenTid
	}
	if cidAud != nil {
		j.rules.optional |= seenTokenUse
	}
	if !cfg.InsecureAcceptIDTokens && !slices.Equal(types, defaultTypes[:]) {
		j.rules.optional |= idTokenBits
	}
	return j, nil
}

// Issuer returns the issuer the verifier accepts, JWTConfig.Issuer: for a
// multi-tenant verifier, the template holding {tenant}.
func (j *JWT) Issuer() string { return j.rules.issuer }

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
	if j.cache != nil {
		return j.verifyCached(ctx, token)
	}
	c, _, err := j.verify(ctx, token)
	return c, err
}

// verify checks token without the cache and returns its claims and, for the
// cache, how it was verified.
func (j *JWT) verify(ctx context.Context, token string) (*Claims, jwtCached, error) {
	var none jwtCached
	if _, _, _, err := splitCompact(token); err != nil {
		return nil, none, err
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
	c.raw, c.leeway = payload, j.leeway
	r := claimReader{aud: &blk.aud}
	if err := r.read(&j.rules, payload, c); err != nil {
		return nil, none, err
	}
	if err := j.checkClaims(&r, c); err != nil {
		return nil, none, err
	}
	return c, jwtCached{claims: c, kid: h.KeyID, alg: alg, key: key, extra: r.extra}, nil
}

// checkClaims applies the claim rules of RFC 9068 §4 to claims read by r.
func (j *JWT) checkClaims(r *claimReader, c *Claims) error {
	switch {
	case !r.has(seenIss):
		return &TokenError{Reason: ErrMissingClaim, Claim: "iss"}
	case !r.issuerOK:
		return &TokenError{Reason: ErrIssuer, Claim: "iss"}
	}
	if j.rules.tenant != nil {
		if err := checkTenant(r); err != nil {
			return err
		}
	}
	if !r.has(seenExp) {
		return &TokenError{Reason: ErrMissingClaim, Claim: "exp"}
	}
	if err := checkTimes(j.now(), c); err != nil {
		return err
	}
	if j.rules.optional&(idTokenBits|seenTokenUse) != 0 {
		if err := j.checkTokenKind(r); err != nil {
			return err
		}
	}
	switch {
	case r.has(seenAud) && !r.audienceOK:
		return &TokenError{Reason: ErrAudience, Claim: "aud"}
	case r.has(seenAud):
		return nil
	case j.clientIDAud == nil:
		return &TokenError{Reason: ErrMissingClaim, Claim: "aud"}
	case c.clientID == "":
		return &TokenError{Reason: ErrMissingClaim, Claim: "client_id"}
	case !slices.Contains(j.clientIDAud.ClientIDs, c.clientID):
		return &TokenError{Reason: ErrAudience, Claim: "client_id"}
	}
	return nil
}

// checkTokenKind refuses what is not an access token by its claims: an
// ID token's own claims when the typ allowlist cannot tell, and a
// token_use other than ClientIDAudience.TokenUse.
func (j *JWT) checkTokenKind(r *claimReader) error {
	if marks := r.set & j.rules.optional & idTokenBits; marks != 0 {
		return &TokenError{Reason: ErrType, Claim: claimNameOf(marks & -marks)}
	}
	if j.clientIDAud != nil {
		switch {
		case !r.has(seenTokenUse):
			return &TokenError{Reason: ErrMissingClaim, Claim: "token_use"}
		case r.tokenUse != j.clientIDAud.TokenUse:
			return &TokenError{Reason: ErrType, Claim: "token_use"}
		}
	}
	return nil
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
		if slices.Contains(j.types, "") {
			return nil
		}
		return &TokenError{Reason: ErrType, Claim: "typ"}
	}
	// RFC 9068 §2.1: at+jwt, unless Types says otherwise.
	if s, ok := typ.(string); ok && s != "" {
		for _, t := range j.types {
			if mediaTypeIs(s, t) {
				return nil
			}
		}
	}
	return &TokenError{Reason: ErrType, Claim: "typ"}
}

// defaultTypes is static data: the typ values accepted by default.
var defaultTypes = [...]string{"at+jwt"}

// googleIssuers is static data: issuers that sign only OpenID Connect ID
// tokens, accepted only with JWTConfig.InsecureAcceptIDTokens.
var googleIssuers = [...]string{"https://accounts.google.com", "accounts.google.com"}

// jwtTypes returns the typ allowlist cfg asks for, normalised: lower case,
// without "application/", the empty string for an absent typ.
func jwtTypes(cfg *JWTConfig) ([]string, error) {
	var types []string
	switch {
	case len(cfg.Types) > 0 && cfg.AcceptUntyped:
		return nil, errors.New("verify: JWTConfig.Types and JWTConfig.AcceptUntyped are both set; list the accepted typ values in Types only")
	case cfg.AcceptUntyped:
		types = []string{"at+jwt", "jwt", ""}
	case len(cfg.Types) == 0:
		types = slices.Clone(defaultTypes[:])
	}
	for i, t := range cfg.Types {
		const prefix = "application/"
		if len(t) > len(prefix) && strings.EqualFold(t[:len(prefix)], prefix) {
			t = t[len(prefix):]
		}
		for k := 0; k < len(t); k++ {
			if c := t[k]; c <= ' ' || c > '~' || c == ',' || c == ';' || c == '"' {
				return nil, fmt.Errorf("verify: JWTConfig.Types[%d] is not a media type; write it as in the typ header, e.g. \"at+jwt\" or \"JWT\"", i)
			}
		}
		if t = strings.ToLower(t); !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	onlyAT := slices.Equal(types, defaultTypes[:])
	switch {
	case cfg.InsecureAcceptIDTokens && onlyAT:
		return nil, errors.New("verify: JWTConfig.InsecureAcceptIDTokens is set but JWTConfig.Types accepts only at+jwt, which ID tokens never carry; add the ID tokens' typ (\"JWT\") to Types")
	case !cfg.InsecureAcceptIDTokens && slices.Contains(googleIssuers[:], cfg.Issuer):
		return nil, errors.New("verify: JWTConfig.Issuer is Google's, which signs only ID tokens; set JWTConfig.InsecureAcceptIDTokens to accept them, after reading its documentation")
	}
	return types, nil
}

// checkClientIDAudience validates JWTConfig.ClientIDAudience and returns a
// copy, or nil.
func checkClientIDAudience(a *ClientIDAudience) (*ClientIDAudience, error) {
	if a == nil {
		return nil, nil
	}
	switch {
	case len(a.ClientIDs) == 0:
		return nil, errors.New("verify: JWTConfig.ClientIDAudience.ClientIDs is empty; list the app clients whose tokens this API accepts")
	case slices.Contains(a.ClientIDs, ""):
		return nil, errors.New("verify: JWTConfig.ClientIDAudience.ClientIDs holds an empty string")
	case a.TokenUse == "":
		return nil, errors.New("verify: JWTConfig.ClientIDAudience.TokenUse is empty; set the token_use of access tokens (\"access\" for Amazon Cognito)")
	}
	return &ClientIDAudience{ClientIDs: slices.Clone(a.ClientIDs), TokenUse: a.TokenUse}, nil
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
